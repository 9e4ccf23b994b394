"""Load generators for scripts/bench_proxy.py, all of them real tools run as their own
processes (so their CPU is counted apart from the proxy's): ``wrk`` at saturation over
plain HTTP, ``curl --parallel`` at saturation over HTTPS, ``hey`` at a fixed rate.

Each returns a ``Load``: requests, seconds, latency percentiles and the CPU the tool used
(its own rusage, read when it is reaped).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# What a browser sends: the proxy may re-encode a masked page with any of these.
BROWSER_ACCEPT_ENCODING = "gzip, deflate, br, zstd"
RESULT = "RESULT "

# wrk prints this line from its done() hook: counts and latency percentiles in microseconds.
WRK_LUA = """\
wrk.path = "{url}"
wrk.headers["Host"] = "{host}"
wrk.headers["Accept-Encoding"] = "{accept}"
done = function(s, lat, req)
  io.write(string.format(
    "RESULT {{\\"requests\\": %d, \\"us\\": %d, \\"errors\\": %d, "
    .. "\\"p50\\": %d, \\"p99\\": %d, \\"max\\": %d}}\\n",
    s.requests, s.duration,
    s.errors.connect + s.errors.read + s.errors.write + s.errors.status + s.errors.timeout,
    lat:percentile(50), lat:percentile(99), lat.max))
end
"""


class BenchError(Exception):
    """A problem that stops the benchmark with a clear message (never a traceback)."""


@dataclass
class Load:
    """What a load generator measured, and the CPU it used itself."""

    requests: int
    seconds: float
    errors: int
    latencies_ms: list[float] | None = None  # hey: every request
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    cpu: float = 0.0


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def _wait(proc: subprocess.Popen[str], timeout: float) -> float:
    """Wait for a load generator and return the CPU it used (its own rusage)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            raise BenchError(f"{proc.args[0]} did not finish in {timeout:.0f} s")
        time.sleep(0.02)


def _read_all(proc: subprocess.Popen[str]) -> Callable[[], str]:
    """Drain a child's stdout in a thread (it may print more than a pipe holds)."""
    chunks: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        chunks.append(proc.stdout.read())

    t = threading.Thread(target=pump, daemon=True)
    t.start()

    def result() -> str:
        t.join(10)
        return "".join(chunks)

    return result


def wrk(proxy_port: int, url: str, connections: int, seconds: int, tmp: Path) -> Load:
    host = url.split("/")[2]
    script = tmp / "wrk.lua"
    script.write_text(WRK_LUA.format(url=url, host=host, accept=BROWSER_ACCEPT_ENCODING))
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        f"http://127.0.0.1:{proxy_port}",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = _read_all(proc)
    cpu = _wait(proc, seconds + 60)
    text = out()
    line = next((ln for ln in text.splitlines() if ln.startswith(RESULT)), None)
    if proc.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({proc.returncode}):\n{text[-2000:]}")
    r = json.loads(line[len(RESULT) :])
    return Load(
        requests=r["requests"],
        seconds=r["us"] / 1e6,
        errors=r["errors"],
        p50_ms=r["p50"] / 1000,
        p99_ms=r["p99"] / 1000,
        max_ms=r["max"] / 1000,
        cpu=cpu,
    )


def hey_cmd(
    proxy_port: int, url: str, concurrency: int, qps: float | None, seconds: float
) -> list[str]:
    cmd = ["hey", "-z", f"{seconds:g}s", "-c", str(concurrency)]
    if qps:
        cmd += ["-q", f"{qps:g}"]  # per worker
    return [
        *cmd,
        "-t",
        "60",
        "-x",
        f"http://127.0.0.1:{proxy_port}",
        "-H",
        f"Accept-Encoding: {BROWSER_ACCEPT_ENCODING}",
        "-o",
        "csv",
        url,
    ]


def parse_hey(text: str, cpu: float) -> Load:
    """hey's CSV: one line per request, response time and start offset in seconds."""
    lat: list[float] = []
    errors = 0
    end = 0.0
    for line in text.splitlines()[1:]:
        f = line.split(",")
        if len(f) != 8:
            continue
        t, status, offset = float(f[0]), f[6], float(f[7])
        if status != "200":
            errors += 1
            continue
        lat.append(t * 1000)
        end = max(end, offset + t)
    return Load(
        requests=len(lat),
        seconds=end,
        errors=errors,
        latencies_ms=lat,
        p50_ms=percentile(lat, 50),
        p99_ms=percentile(lat, 99),
        max_ms=max(lat, default=0.0),
        cpu=cpu,
    )


class Paced:
    """Requests at a steady rate: one ``hey`` process per URL, one connection each (``-c 1
    -q RATE``), started a fraction of a period apart so that together they send evenly
    spaced requests. hey's own rate limit is per worker and ticks every worker at the same
    instant, so several workers in one process would send bursts; and a worker whose
    response is late sends its next request at once, so the rate holds until a response
    takes longer than its period.
    """

    def __init__(self, proxy_port: int, urls: list[str], rate: float, seconds: float) -> None:
        each = rate / len(urls)
        self.seconds = seconds
        self.procs: list[tuple[subprocess.Popen[str], Callable[[], str]]] = []
        for i, url in enumerate(urls):
            if i:
                time.sleep(1 / rate)
            cmd = hey_cmd(proxy_port, url, 1, each, seconds)
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self.procs.append((p, _read_all(p)))

    def finish(self, interrupt: bool = False) -> Load:
        """Wait for the processes (or stop them now: hey prints what it measured so far)."""
        if interrupt:
            for p, _ in self.procs:
                p.send_signal(signal.SIGINT)
        loads = []
        for p, out in self.procs:
            used = _wait(p, 30 if interrupt else self.seconds + 90)
            text = out()
            if p.returncode != 0:
                raise BenchError(f"hey failed ({p.returncode}):\n{text[-2000:]}")
            loads.append(parse_hey(text, used))
        lat = [x for ld in loads for x in (ld.latencies_ms or [])]
        return Load(
            requests=len(lat),
            seconds=max(ld.seconds for ld in loads),
            errors=sum(ld.errors for ld in loads),
            latencies_ms=lat,
            p50_ms=percentile(lat, 50),
            p99_ms=percentile(lat, 99),
            max_ms=max(lat, default=0.0),
            cpu=sum(ld.cpu for ld in loads),
        )


def curl(proxy_port: int, ca: Path, url: str, connections: int, seconds: float) -> Load:
    """HTTPS through the proxy at saturation: ``curl --parallel`` over CONNECT tunnels,
    trusting the proxy's CA.

    hey is not used here: through a proxy, with several workers, it opens a new tunnel for
    almost every request once responses slow down (Go's connection pool races with its
    dialer), so it would measure TLS handshakes instead of requests. curl keeps its
    connections. It has no time limit: it gets more URLs than it can fetch (the query
    string makes each one distinct; the upstream ignores it) and is interrupted.
    """
    cmd = [
        "curl",
        "--no-progress-meter",
        "--parallel",
        "--parallel-max",
        str(connections),
        "--http1.1",
        "--proxy",
        f"http://127.0.0.1:{proxy_port}",
        "--cacert",
        str(ca),
        "-H",
        f"Accept-Encoding: {BROWSER_ACCEPT_ENCODING}",
        "-o",
        "/dev/null",
        # Written to stderr, which is not buffered: nothing is lost when curl is interrupted.
        "-w",
        "%{stderr}RESULT %{http_code} %{time_total}\n",
        f"{url}?[1-10000000]",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    chunks: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        chunks.append(proc.stderr.read())

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    t0 = time.monotonic()
    time.sleep(seconds)
    proc.send_signal(signal.SIGINT)
    elapsed = time.monotonic() - t0
    cpu = _wait(proc, 30)
    reader.join(10)
    lat: list[float] = []
    errors = 0
    other: list[str] = []
    for line in "".join(chunks).splitlines():
        if not line.startswith(RESULT):
            other.append(line)
            continue
        fields = line.split()
        if len(fields) != 3:  # the last line, cut short by the interrupt
            other.append(line)
            continue
        _, code, total = fields
        if code == "200":
            lat.append(float(total) * 1000)
        elif code != "000":  # 000: a transfer cut short by the interrupt
            errors += 1
    if not lat:
        raise BenchError("curl made no request:\n" + "\n".join(other[-20:]))
    return Load(
        requests=len(lat),
        seconds=elapsed,
        errors=errors,
        latencies_ms=lat,
        p50_ms=percentile(lat, 50),
        p99_ms=percentile(lat, 99),
        max_ms=max(lat),
        cpu=cpu,
    )
