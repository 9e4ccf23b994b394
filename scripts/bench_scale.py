"""Scale-out benchmark: requests per second through HAProxy with one and with two qinglang
workers, on the same load, in one run.

Two set-ups run side by side on 127.0.0.1, in front of the same upstream server and the same
pages as scripts/bench_proxy.py (its helpers start them: benchproxy_setup.py, and wrk from
benchproxy_load.py), both sharing one PostgreSQL (events) and one Redis (quota and
overrides), as a school runs them (scripts/scaleout_services.py starts private instances):

- **1 worker**: HAProxy in front of one mitmdump with qinglang and one scan process (a
  worker per core, as a school runs them);
- **2 workers**: HAProxy in front of two such workers;
- **1 worker, 2 scans**: HAProxy in front of one mitmdump with two scan processes (one per
  core: what a single ``qinglang run`` does on this machine), the baseline a second worker
  has to beat on the same cores.

Each measurement is ``wrk`` with ``--connections`` keep-alive connections for ``--duration``
seconds (plain HTTP, explicit proxy mode; HAProxy in TCP mode spreads the connections over
the workers), taken on both set-ups in turn (1, 2, 1, 2, ...) so that other work on a
shared machine hits both alike; each figure is the median of ``--repeats`` runs. The CPU each
process used during the runs is read from /proc/<pid>/stat (the load generator's from its
rusage) and given in cores (CPU seconds per second).

    python scripts/bench_scale.py              # full run, about 3 minutes
    python scripts/bench_scale.py --quick      # smoke run, well under a minute

Needs ``wrk``, ``haproxy``, ``redis-server`` and PostgreSQL (Debian packages;
``python3 scripts/scaleout_services.py install``).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchproxy_setup as setup
import scaleout_services as services
from bench_proxy import cpu_stall_us
from benchproxy_load import BenchError, wrk

# name -> (workers, scan processes per worker)
SETUPS = {"1 worker": (1, 1), "2 workers": (2, 1), "1 worker, 2 scans": (1, 2)}
PROCS = ("worker 1", "worker 2", "haproxy", "postgres+redis", "upstream", "loadgen")
PAGES = ("/clean.html", "/match.html", "/api.json")
SERVING = ("worker 1", "worker 2", "haproxy", "postgres+redis")


@dataclass
class Measure:
    rps: float
    p99_ms: float
    cpu: dict[str, float]  # process -> cores used


@dataclass
class Row:
    page: str
    runs: dict[str, list[Measure]] = field(default_factory=lambda: {s: [] for s in SETUPS})

    def rps(self, s: str) -> float:
        return statistics.median(m.rps for m in self.runs[s])

    def cores(self, s: str, proc: str) -> float:
        return statistics.median(m.cpu.get(proc, 0.0) for m in self.runs[s])

    def cpu_ms(self, s: str) -> float:
        """CPU milliseconds one request costs the filtering side (workers with their scan
        processes, HAProxy, PostgreSQL and Redis; not the load generator or upstream).
        Unlike req/s, this holds when other work takes cores away."""
        per = [
            sum(m.cpu.get(p, 0.0) for p in SERVING) / m.rps * 1000
            for m in self.runs[s]
            if m.rps > 0
        ]
        return statistics.median(per) if per else 0.0


@dataclass
class Setup:
    name: str
    workers: list[setup.BenchProxy]
    haproxy: services.HAProxy

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.haproxy.stop()
        for w in self.workers:
            with contextlib.suppress(Exception):
                w.stop()


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.pages = setup.bench_pages(1_000_000)
        self.up: setup.UpstreamProc | None = None
        self.pg = services.Postgres()
        self.redis = services.Redis()
        self.setups: dict[str, Setup] = {}
        self.stall0: int | None = None
        self.t0 = 0.0
        self.pressure: float | None = None  # share of time a runnable task waited for a core

    def log(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    def start(self) -> None:
        self.log("starting PostgreSQL, Redis, the upstream server, 4 workers and 3 HAProxy ...")
        self.pg.start()
        self.redis.start()
        self.up = setup.start_upstream(1_000_000)
        shared = [
            *("--set", f"qinglang_store={self.pg.url}"),
            *("--set", f"qinglang_state={self.redis.url}"),
        ]
        confdir = self.tmp / "confdir"  # one CA for every worker, as in a school
        for name, (count, scans) in SETUPS.items():
            workers: list[setup.BenchProxy] = []
            # Registered before anything starts, so that stop() finds what did.
            self.setups[name] = Setup(name, workers, services.HAProxy([]))
            for i in range(count):
                w = setup.BenchProxy(
                    self.tmp / f"{count}-{scans}-{i}", qinglang=True, workers=scans, extra=shared
                )
                w.confdir = confdir
                workers.append(w)
                w.start()
            ha = services.HAProxy([w.port for w in workers], balance="leastconn")
            self.setups[name].haproxy = ha
            ha.start()

    def stop(self) -> None:
        for s in self.setups.values():
            s.stop()
        if self.up is not None:
            self.up.stop()
        self.redis.stop()
        self.pg.stop()

    def _pids(self, s: Setup) -> dict[str, list[int]]:
        assert self.up is not None
        out: dict[str, list[int]] = {}
        for i, w in enumerate(s.workers, 1):
            out[f"worker {i}"] = [w.pid, *setup.children(w.pid)]
        assert s.haproxy.proc is not None and self.pg.proc and self.redis.proc
        out["haproxy"] = [s.haproxy.proc.pid]
        out["postgres+redis"] = [
            self.pg.proc.pid,
            *setup.children(self.pg.proc.pid),
            self.redis.proc.pid,
        ]
        out["upstream"] = [self.up.pid]
        return out

    @contextlib.contextmanager
    def cpu(self, s: Setup) -> Iterator[dict[str, float]]:
        used: dict[str, float] = {}
        pids = self._pids(s)
        before = {p: setup.cpu_seconds(p) for ps in pids.values() for p in ps}
        yield used
        pids_after = self._pids(s)  # a backend PostgreSQL process may have started
        for name, ps in pids_after.items():
            used[name] = sum(setup.cpu_seconds(p) - before.get(p, 0.0) for p in ps)

    def run(self, s: Setup, path: str, seconds: int) -> Measure:
        assert self.up is not None
        url = self.up.url(path)
        with self.cpu(s) as cpu:
            load = wrk(s.haproxy.port, url, self.args.connections, seconds, self.tmp)
        if load.errors:
            raise BenchError(f"{load.errors} failed requests through {s.name} for {url}")
        cpu["loadgen"] = load.cpu
        took = load.seconds or seconds
        return Measure(load.requests / took, load.p99_ms, {k: v / took for k, v in cpu.items()})

    def measure(self) -> list[Row]:
        self.log("warming up ...")
        for s in self.setups.values():
            self.run(s, "/match.html", 1)
        rows = [Row(p) for p in self.args.pages]
        self.stall0, self.t0 = cpu_stall_us(), time.monotonic()
        for rep in range(self.args.repeats):
            for row in rows:
                for name in SETUPS:
                    m = self.run(self.setups[name], row.page, self.args.duration)
                    row.runs[name].append(m)
                    self.log(
                        f"  {self.pages[row.page].label} [{rep + 1}/{self.args.repeats}] "
                        f"{name}: {m.rps:.0f} req/s, p99 {m.p99_ms:.0f} ms"
                    )
        stall = cpu_stall_us()
        if stall is not None and self.stall0 is not None:
            self.pressure = (stall - self.stall0) / 1e6 / (time.monotonic() - self.t0)
        return rows


# --- report --------------------------------------------------------------------------------


def _f(x: float) -> str:
    return f"{x:,.0f}"


def report(
    args: argparse.Namespace,
    command: str,
    rows: list[Row],
    pages: dict[str, setup.BenchPage],
    pressure: float | None,
) -> list[str]:
    cpus = len(os.sched_getaffinity(0))
    model = "?"
    info = Path("/proc/cpuinfo")
    with contextlib.suppress(OSError), info.open(encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    out = [
        "### Scale-out: requests per second through HAProxy, one worker and two",
        "",
        f"`{command}`",
        "",
        f"Hardware: {cpus} cores ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}. Everything on this one machine: load "
        f"generator (wrk, {args.connections} connections), HAProxy, the workers, PostgreSQL, "
        "Redis and the upstream. A worker is one mitmdump with qinglang and one scan process; "
        "*1 worker, 2 scans* is one mitmdump with two (what a single `qinglang run` uses "
        "on two cores). "
        f"Median of {args.repeats} runs of {args.duration} s. CPU pressure during the runs: "
        + (f"{pressure:.0%}" if pressure is not None else "not available")
        + " (/proc/pressure/cpu: the share of time some runnable task waited for a core; "
        "high when other work shares the machine).",
        "",
        "| page | 1 worker req/s | 2 workers req/s | 2 workers / 1 worker "
        "| 1 worker, 2 scans req/s | 2 workers / 1 worker, 2 scans "
        "| CPU ms per request, 1 worker / 2 workers |",
        "|---|---|---|---|---|---|---|",
    ]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}×" if b else "n/a"

    for r in rows:
        one, two, base = r.rps("1 worker"), r.rps("2 workers"), r.rps("1 worker, 2 scans")
        out.append(
            f"| {pages[r.page].label} | {_f(one)} | {_f(two)} | {ratio(two, one)} "
            f"| {_f(base)} | {ratio(two, base)} "
            f"| {r.cpu_ms('1 worker'):.1f} / {r.cpu_ms('2 workers'):.1f} |"
        )
    out += [
        "",
        "CPU used during the runs, in cores (CPU seconds per second; a worker includes its "
        "scan processes):",
        "",
        "| page | set-up | " + " | ".join(PROCS) + " | total |",
        "|---|---|" + "---|" * (len(PROCS) + 1),
    ]
    for r in rows:
        for s in SETUPS:
            cells = [r.cores(s, p) for p in PROCS]
            shown = [f"{c:.2f}" if (p != "worker 2" or s == "2 workers") else "–"
                     for p, c in zip(PROCS, cells, strict=True)]  # fmt: skip
            out.append(
                f"| {pages[r.page].label} | {s} | " + " | ".join(shown) + f" | {sum(cells):.2f} |"
            )
    out += ["", *sizing(args, rows, pages)]
    return out


def sizing(
    args: argparse.Namespace, rows: list[Row], pages: dict[str, setup.BenchPage]
) -> list[str]:
    """Cores (one worker each) per thousand pupils, from the CPU one request of the
    costliest page takes with two workers (stated assumptions; see README.md)."""
    worst = max(rows, key=lambda r: r.cpu_ms("2 workers"))
    ms = worst.cpu_ms("2 workers")
    need = 1000 * args.pupil_pages / 60 * args.requests_per_page
    per_core = 1000 / ms if ms else 0.0
    cores = math.ceil(need / (per_core * args.headroom)) if per_core else 0
    return [
        f"Sizing (costliest page, {pages[worst.page].label}: {ms:.1f} CPU ms per request with "
        f"2 workers, i.e. about {_f(per_core)} such requests per second per core): 1,000 pupils "
        f"browsing at once, {args.pupil_pages:g} pages a minute each, each page costing "
        f"{args.requests_per_page:g} such requests, need {_f(need)} req/s; keeping cores at "
        f"{args.headroom:.0%} that is {cores} cores, one worker per core.",
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 s, 1 repeat, 2 pages")
    ap.add_argument("--duration", type=int, default=0, help="seconds per run (default 10)")
    ap.add_argument("--repeats", type=int, default=0, help="runs per figure (default 3)")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    ap.add_argument("--pupil-pages", type=float, default=4, help="pages a pupil opens a minute")
    ap.add_argument(
        "--requests-per-page", type=float, default=5,
        help="cost of one page view in scanned-HTML requests (subresources included)",
    )  # fmt: skip
    ap.add_argument("--headroom", type=float, default=0.5, help="share of saturation to plan for")
    args = ap.parse_args(argv)
    args.duration = args.duration or (1 if args.quick else 10)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.pages = PAGES[:2] if args.quick else PAGES
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [t for t in ("wrk", "haproxy", "redis-server") if shutil.which(t) is None]
    if missing or services.missing():
        print(
            "bench_scale: missing "
            + ", ".join(sorted(set(missing + services.missing())))
            + " (python3 scripts/scaleout_services.py install; apt-get install wrk)",
            file=sys.stderr,
        )
        return 2
    shown = ["python scripts/bench_scale.py", *(argv if argv is not None else sys.argv[1:])]
    command = shlex.join(shown).replace(
        "'python scripts/bench_scale.py'", "python scripts/bench_scale.py"
    )
    with tempfile.TemporaryDirectory(prefix="qinglang-bench-scale-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            bench.start()
            rows = bench.measure()
        except BenchError as e:
            print(f"bench_scale: {e}", file=sys.stderr)
            return 1
        finally:
            bench.stop()
    print("\n".join(report(args, command, rows, bench.pages, bench.pressure)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
