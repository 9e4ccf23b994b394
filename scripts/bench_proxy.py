"""Proxy benchmark: the same load through a bare mitmdump and through qinglang, in one run.

Both proxies run side by side on 127.0.0.1 in front of the same upstream server (the
end-to-end tests' server, in a process of its own), and every measurement is taken on both,
interleaved (bare, qinglang, then qinglang, bare, ...) so that other work on a shared
machine hits both alike; each figure is the median of ``--repeats`` runs. The machine's
speed drifts from one minute to the next, so the saturation table also gives the ratio of
each pair of adjacent runs (lowest to highest): the spread shows how far one figure can be
trusted. qinglang runs with the shipped lists and the default child profile, in explicit
(regular) proxy mode.

- **Saturation**: ``wrk`` with 16 connections for ``--duration`` seconds per run, over
  plain HTTP, for each page: 100 KB HTML without a match (passed on untouched), the same
  page with matches (masked), a JSON API response with matches, a 20 KB JPEG (never
  scanned: what qinglang costs on media), a 2 KB HTML page (many small scans: the queue
  for the workers shows in the p99), and both HTML pages from a gzip, a brotli and a
  zstd upstream. One HTTPS row (masked page) uses ``curl --parallel``,
  which tunnels through a proxy with CONNECT (``wrk`` cannot) and trusts the proxy's CA.
  Requests per second, p50 and p99 latency, and the CPU that each process used (from
  /proc/<pid>/stat, and the load generator's own rusage): mitmdump, qinglang's scan
  workers (its children), the upstream server and the load generator.
- **Home-network rate**: a fixed 50 pages per second of 100 KB HTML, evenly spaced, one in
  five with matches (five ``hey`` processes at 10 requests per second each), and the
  latency qinglang adds.
- **Stall**: while one 10 MB HTML page is being fetched (and, by qinglang, scanned and
  masked), small pages keep coming at 100 per second (``hey``); the worst latency of
  those, bare and qinglang.

Before measuring, each page is fetched once through both proxies and what the client
received is checked: a page without a match must arrive byte for byte as the upstream sent
it (same bytes and headers: no re-encoding), a page with matches must be masked
(not blocked).

    python scripts/bench_proxy.py            # full run, about 5 minutes on 2 cores
    python scripts/bench_proxy.py --quick    # smoke run, about a minute
    python scripts/bench_proxy.py --json results.json

Needs ``wrk``, ``hey`` and ``curl`` (Debian packages of the same names). Other work on the
machine slows both proxies down: the report gives the CPU pressure during the run
(/proc/pressure/cpu: the share of time some runnable task waited for a core).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import brotli
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchproxy_setup as setup
from benchproxy_load import BROWSER_ACCEPT_ENCODING, BenchError, Paced, curl, wrk

PROXIES = ("bare", "qinglang")
PROCS = ("mitmdump", "workers", "upstream", "loadgen")
SECTIONS = ("saturation", "rate", "stall")
# The home-network mix: evenly spaced requests, one page in five with matches.
RATE_MIX = ("/clean.html", "/clean.html", "/match.html", "/clean.html", "/clean.html")
# The stall probe: small pages per second, from this many connections.
STALL_RATE, STALL_STREAMS = 100, 4

# --- one measured run ----------------------------------------------------------------------


@dataclass
class Run:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


# --- CPU of the processes under test -------------------------------------------------------


class CpuMeter:
    """CPU seconds used by mitmdump, its scan workers and the upstream during a run."""

    def __init__(self, proxy: setup.BenchProxy, upstream: setup.UpstreamProc) -> None:
        self.proxy = proxy
        self.upstream = upstream

    def _read(self) -> dict[str, dict[int, float]]:
        workers = setup.children(self.proxy.pid)
        return {
            "mitmdump": {self.proxy.pid: setup.cpu_seconds(self.proxy.pid)},
            "workers": {p: setup.cpu_seconds(p) for p in workers},
            "upstream": {self.upstream.pid: setup.cpu_seconds(self.upstream.pid)},
        }

    @contextlib.contextmanager
    def measure(self) -> Iterator[dict[str, float]]:
        used: dict[str, float] = {}
        before = self._read()
        yield used
        after = self._read()
        for name in after:
            # A worker started during the run counts from zero; one that ended is lost
            # (only a stuck scan or a reload replaces workers).
            used[name] = sum(v - before[name].get(p, 0.0) for p, v in after[name].items())


# --- what the client received --------------------------------------------------------------


@dataclass
class Received:
    path: str
    label: str
    upstream_bytes: int
    upstream_encoding: str
    bare_identical: bool
    status: int
    received_bytes: int
    encoding: str
    identical: bool  # same bytes and headers as the upstream sent (no re-encoding)
    terms_left: int  # MASK_TERMS still readable in the decoded body
    ok: bool
    note: str


def _decode(body: bytes, enc: str) -> bytes:
    if enc == "gzip":
        return gzip.decompress(body)
    if enc == "deflate":
        return zlib.decompress(body)
    if enc == "br":
        return brotli.decompress(body)
    if enc == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    return body


def _headers(h: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in h.items() if k != "date"}


def fetch(proxy_port: int, url: str, timeout: float = 120) -> tuple[int, dict[str, str], bytes]:
    """One GET through the proxy (absolute-form request), body as sent (not decoded)."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=timeout)
    try:
        conn.request("GET", url, headers={"Accept-Encoding": BROWSER_ACCEPT_ENCODING})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def check_pages(
    bare: setup.BenchProxy,
    ql: setup.BenchProxy,
    up: setup.UpstreamProc,
    pages: list[setup.BenchPage],
) -> list[Received]:
    out = []
    for p in pages:
        _, bh, bbody = fetch(bare.port, up.url(p.path))
        status, h, body = fetch(ql.port, up.url(p.path))
        up_enc = p.headers.get("content-encoding", "")
        enc = h.get("content-encoding", "")
        # Untouched means the same bytes and the same headers as through the bare proxy
        # (apart from the upstream's Date, which changes between the two requests).
        same_headers = _headers(h) == _headers(bh)
        identical = body == p.body and enc == up_enc and same_headers
        try:
            text = _decode(body, enc).decode("utf-8", "replace")
        except Exception as e:  # a broken body is reported in the table, not raised
            text, note = "", f"cannot decode: {type(e).__name__}"
        else:
            note = ""
        left = sum(text.count(t) for t in setup.MASK_TERMS)
        if p.masked:
            ok = status == 200 and not identical and left == 0 and bool(text)
            note = note or ("masked" if ok else f"expected a masked page, got status {status}")
        else:
            ok = status == 200 and identical
            note = note or ("untouched" if ok else "changed although nothing matched")
        out.append(
            Received(
                path=p.path,
                label=p.label,
                upstream_bytes=len(p.body),
                upstream_encoding=up_enc or "identity",
                bare_identical=bbody == p.body and bh.get("content-encoding", "") == up_enc,
                status=status,
                received_bytes=len(body),
                encoding=enc or "identity",
                identical=identical,
                terms_left=left,
                ok=ok,
                note=note,
            )
        )
    return out


# --- the measurements ----------------------------------------------------------------------


@dataclass
class Row:
    name: str
    tool: str
    runs: dict[str, list[Run]] = field(default_factory=lambda: {p: [] for p in PROXIES})

    def median(self, proxy: str, attr: str) -> float:
        vals = [getattr(r, attr) for r in self.runs[proxy]]
        return statistics.median(vals) if vals else 0.0

    def pair_ratios(self) -> list[float]:
        """qinglang's requests per second over bare's, for each pair of adjacent runs."""
        return [
            q.rps / b.rps
            for b, q in zip(self.runs["bare"], self.runs["qinglang"], strict=False)
            if b.rps
        ]

    def cpu_pct(self, proxy: str, proc: str) -> float:
        """Median share of one core that ``proc`` used during the runs (100 = one core)."""
        vals = [100 * r.cpu.get(proc, 0.0) / r.seconds for r in self.runs[proxy] if r.seconds]
        return statistics.median(vals) if vals else 0.0

    def cpu_ms_per_request(self, proxy: str, procs: tuple[str, ...]) -> float:
        """Median CPU of ``procs`` per request, in ms."""
        vals = [
            1000 * sum(r.cpu.get(p, 0.0) for p in procs) / r.requests
            for r in self.runs[proxy]
            if r.requests
        ]
        return statistics.median(vals) if vals else 0.0


def _order(rep: int) -> tuple[str, ...]:
    """Bare first in even rounds, qinglang first in odd ones: a machine that slows down or
    speeds up during a round then favours neither."""
    return PROXIES if rep % 2 == 0 else PROXIES[::-1]


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.pages = setup.bench_pages(int(args.big_mb * 1_000_000))
        self.up: setup.UpstreamProc | None = None
        self.proxies: dict[str, setup.BenchProxy] = {}

    def log(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    def start(self) -> None:
        self.log("starting the upstream server, a bare mitmdump and qinglang ...")
        self.up = setup.start_upstream(int(self.args.big_mb * 1_000_000))
        self.proxies["bare"] = setup.BenchProxy(self.tmp / "bare", qinglang=False).start()
        self.proxies["qinglang"] = setup.BenchProxy(
            self.tmp / "qinglang", qinglang=True, workers=self.args.workers
        ).start()

    def stop(self) -> None:
        for p in self.proxies.values():
            with contextlib.suppress(Exception):
                p.stop()
        if self.up is not None:
            self.up.stop()

    def meter(self, name: str) -> CpuMeter:
        assert self.up is not None
        return CpuMeter(self.proxies[name], self.up)

    # -- saturation --

    def saturation_rows(self) -> list[tuple[str, str, str, bool]]:
        """(label, tool, path, tls) of every saturation row."""
        rows = [(self.pages[p].label, "wrk", p, False) for p in ("/clean.html", "/match.html")]
        rows.append((self.pages["/api.json"].label, "wrk", "/api.json", False))
        rows.append((self.pages["/photo.jpg"].label, "wrk", "/photo.jpg", False))
        # Many small pages: the scan round trip dominates, and queueing for the workers
        # shows in the p99 (a page waiting behind later ones once took over a second).
        rows.append((self.pages["/small.html"].label, "wrk", "/small.html", False))
        for enc in setup.ENCODINGS:
            for name in ("clean", "match"):
                path = f"/{name}.html.{enc}"
                rows.append((self.pages[path].label, "wrk", path, False))
        rows.append(("HTML 100 KB, masked, HTTPS (CONNECT)", "curl", "/match.html", True))
        return rows

    def saturate(self, proxy: str, tool: str, path: str, tls: bool, seconds: int) -> Run:
        assert self.up is not None
        port = self.proxies[proxy].port
        url = self.up.url(path, tls=tls)
        with self.meter(proxy).measure() as cpu:
            if tool == "wrk":
                load = wrk(port, url, self.args.connections, seconds, self.tmp)
            else:
                ca = self.proxies[proxy].ca
                load = curl(port, ca, url, self.args.connections, seconds)
        cpu["loadgen"] = load.cpu
        if load.errors:
            raise BenchError(f"{load.errors} failed requests through {proxy} for {url}")
        return Run(
            load.requests, load.seconds, load.errors, load.p50_ms, load.p99_ms, load.max_ms, cpu
        )

    def warm_up(self) -> None:
        """Open connections, generate the HTTPS certificate, fill caches: not measured."""
        self.log("warming up ...")
        for name in PROXIES:
            self.saturate(name, "wrk", "/match.html", False, 1)
            if not self.args.quick:
                self.saturate(name, "curl", "/match.html", True, 1)

    def run_saturation(self) -> list[Row]:
        out = []
        for label, tool, path, tls in self.saturation_rows():
            row = Row(label, tool)
            for rep in range(self.args.repeats):
                for name in _order(rep):
                    r = self.saturate(name, tool, path, tls, self.args.duration)
                    row.runs[name].append(r)
                    self.log(
                        f"  saturation {label} [{rep + 1}/{self.args.repeats}] {name}: "
                        f"{r.rps:.0f} req/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms"
                    )
            out.append(row)
        return out

    # -- fixed rate --

    def fixed_rate(self, proxy: str) -> Run:
        """``--rate`` pages per second, evenly spaced: one in five with matches."""
        assert self.up is not None
        urls = [self.up.url(p) for p in RATE_MIX]
        with self.meter(proxy).measure() as cpu:
            paced = Paced(self.proxies[proxy].port, urls, self.args.rate, self.args.rate_duration)
            load = paced.finish()
        if load.errors:
            raise BenchError(f"{load.errors} failed requests at a fixed rate through {proxy}")
        cpu["loadgen"] = load.cpu
        return Run(load.requests, load.seconds, 0, load.p50_ms, load.p99_ms, load.max_ms, cpu)

    def run_fixed_rate(self) -> Row:
        row = Row(f"{self.args.rate:g} pages/s of 100 KB HTML, 1 in 5 masked", "hey")
        for rep in range(self.args.repeats):
            for name in _order(rep):
                r = self.fixed_rate(name)
                row.runs[name].append(r)
                self.log(
                    f"  fixed rate [{rep + 1}/{self.args.repeats}] {name}: {r.rps:.1f} req/s, "
                    f"p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms"
                )
        return row

    # -- stall --

    def stall(self, proxy: str) -> tuple[Run, float]:
        """Small pages at a steady rate while one big page goes through; returns the small
        pages' latencies and the big page's time."""
        assert self.up is not None
        port = self.proxies[proxy].port
        urls = [self.up.url("/small.html")] * STALL_STREAMS
        with self.meter(proxy).measure() as cpu:
            paced = Paced(port, urls, STALL_RATE, 600)  # until interrupted
            try:
                time.sleep(0.5)
                t0 = time.monotonic()
                status, _, body = fetch(port, self.up.url("/big.html"), timeout=300)
                big = time.monotonic() - t0
                time.sleep(0.3)
            finally:
                load = paced.finish(interrupt=True)
        if status != 200 or not body:
            raise BenchError(f"the big page through {proxy} got status {status}")
        if load.errors:
            raise BenchError(f"{load.errors} small pages failed through {proxy}")
        cpu["loadgen"] = load.cpu
        run = Run(
            load.requests, load.seconds, load.errors, load.p50_ms, load.p99_ms, load.max_ms, cpu
        )
        return run, big

    def run_stall(self) -> tuple[Row, dict[str, list[float]]]:
        row = Row(f"small pages while a {self.args.big_mb:g} MB page is scanned", "hey")
        big: dict[str, list[float]] = {p: [] for p in PROXIES}
        for rep in range(self.args.repeats):
            for name in _order(rep):
                r, t = self.stall(name)
                row.runs[name].append(r)
                big[name].append(t)
                self.log(
                    f"  stall [{rep + 1}/{self.args.repeats}] {name}: worst {r.max_ms:.0f} ms, "
                    f"p50 {r.p50_ms:.1f} ms, big page {t:.2f} s"
                )
        return row, big


# --- report --------------------------------------------------------------------------------


def _f(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def _ms(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def report_head(command: str, args: argparse.Namespace, env: dict[str, str]) -> list[str]:
    return [
        "## Proxy benchmark: bare mitmdump against qinglang\n",
        f"`{command}`\n",
        f"{env['cpus']} cores, Python {env['python']}, mitmproxy {env['mitmproxy']}, "
        f"{env['wrk']}, {env['hey']}, {env['curl']}; qinglang on the shipped lists, child "
        f"profile, `qinglang_workers={args.workers}` ({env['workers']} scan workers). "
        f"Loopback, explicit proxy, `Accept-Encoding: {BROWSER_ACCEPT_ENCODING}`. Bare and "
        f"qinglang interleaved (which goes first alternates), median of {args.repeats} "
        "run(s) each. CPU pressure during "
        f"the run: {env['cpu_pressure']} (share of time other runnable work waited for a "
        "core; near 0% on an idle machine).\n",
    ]


def report_saturation(args: argparse.Namespace, env: dict[str, str], sat: list[Row]) -> list[str]:
    L = [
        f"### Saturation: {args.connections} connections, {args.duration} s per run\n\n"
        "| page | tool | bare req/s | qinglang req/s | qinglang / bare (target ≥ 50%) | "
        "per pair of runs | bare p50 / p99 ms | qinglang p50 / p99 ms |\n"
        "|---|---|---|---|---|---|---|---|"
    ]
    for row in sat:
        b, q = row.median("bare", "rps"), row.median("qinglang", "rps")
        pairs = row.pair_ratios()
        spread = f"{100 * min(pairs):.0f}–{100 * max(pairs):.0f}%" if pairs else "–"
        L.append(
            f"| {row.name} | {row.tool} | {_f(b)} | {_f(q)} | {100 * q / b if b else 0:.0f}% | "
            f"{spread} | "
            f"{_ms(row.median('bare', 'p50_ms'))} / {_ms(row.median('bare', 'p99_ms'))} | "
            f"{_ms(row.median('qinglang', 'p50_ms'))} / {_ms(row.median('qinglang', 'p99_ms'))} |"
        )
    L.append(
        "\n### CPU at saturation (% of one core; the machine has "
        f"{env['cpus']} cores = {100 * int(env['cpus'])}%)\n\n"
        "| page | bare: mitmdump / upstream / load gen | "
        "qinglang: mitmdump / workers / upstream / load gen | "
        "CPU ms per request: bare mitmdump / qinglang mitmdump + workers |\n|---|---|---|---|"
    )
    for row in sat:
        bare_cpu = " / ".join(
            _f(row.cpu_pct("bare", p)) for p in ("mitmdump", "upstream", "loadgen")
        )
        ql_cpu = " / ".join(_f(row.cpu_pct("qinglang", p)) for p in PROCS)
        per = (
            f"{row.cpu_ms_per_request('bare', ('mitmdump',)):.2f} / "
            f"{row.cpu_ms_per_request('qinglang', ('mitmdump',)):.2f} + "
            f"{row.cpu_ms_per_request('qinglang', ('workers',)):.2f}"
        )
        L.append(f"| {row.name} | {bare_cpu} | {ql_cpu} | {per} |")
    return L


def report_rate(args: argparse.Namespace, rate: Row) -> list[str]:
    bp50, bp99 = rate.median("bare", "p50_ms"), rate.median("bare", "p99_ms")
    qp50, qp99 = rate.median("qinglang", "p50_ms"), rate.median("qinglang", "p99_ms")
    cpu_b = rate.cpu_pct("bare", "mitmdump")
    cpu_q = rate.cpu_pct("qinglang", "mitmdump") + rate.cpu_pct("qinglang", "workers")
    return [
        f"\n### Home-network rate: {args.rate:g} pages per second for {args.rate_duration:g} s\n\n"
        "| load | bare p50 / p99 ms | qinglang p50 / p99 ms | added p50 / p99 ms (target 5 / 10) | "
        "proxy CPU bare / qinglang (% of a core) |\n|---|---|---|---|---|",
        f"| {rate.name} ({_f(rate.median('qinglang', 'rps'), 1)} req/s reached) | "
        f"{_ms(bp50)} / {_ms(bp99)} | {_ms(qp50)} / {_ms(qp99)} | "
        f"{qp50 - bp50:+.1f} / {qp99 - bp99:+.1f} | {_f(cpu_b)} / {_f(cpu_q)} |",
    ]


def report_stall(args: argparse.Namespace, stall: Row, big: dict[str, list[float]]) -> list[str]:
    bw, qw = stall.median("bare", "max_ms"), stall.median("qinglang", "max_ms")
    bt, qt = statistics.median(big["bare"]), statistics.median(big["qinglang"])
    p50b, p50q = stall.median("bare", "p50_ms"), stall.median("qinglang", "p50_ms")
    return [
        f"\n### Stall: {STALL_RATE} small pages per second (2 KB HTML) while one "
        f"{args.big_mb:g} MB HTML page with matches goes through\n\n"
        "| measure | bare | qinglang | added |\n|---|---|---|---|",
        f"| worst small-page latency (ms) | {_ms(bw)} | {_ms(qw)} | {qw - bw:+.0f} |",
        f"| small-page p50 latency (ms) | {_ms(p50b)} | {_ms(p50q)} | {p50q - p50b:+.1f} |",
        f"| the {args.big_mb:g} MB page (s) | {bt:.2f} | {qt:.2f} | {qt - bt:+.2f} |",
    ]


def report_received(received: list[Received]) -> list[str]:
    L = [
        "\n### What the client received through qinglang\n\n"
        "| page | upstream bytes, encoding | received status, bytes, encoding | "
        "bytes and headers identical | verdict |\n|---|---|---|---|---|"
    ]
    for r in received:
        L.append(
            f"| {r.label} | {_f(r.upstream_bytes)}, {r.upstream_encoding} | "
            f"{r.status}, {_f(r.received_bytes)}, {r.encoding} | "
            f"{'yes' if r.identical else 'no'} | {r.note}{'' if r.ok else ' (WRONG)'} |"
        )
    return L


# --- command line --------------------------------------------------------------------------


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(s: str) -> Any:
        try:
            v = kind(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0: {s!r}")
        return v

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="The same load through a bare mitmdump and through qinglang, side by side.",
    )
    ap.add_argument("--quick", action="store_true", help="smoke run: short runs, one repeat")
    ap.add_argument("--duration", type=_positive(int), help="seconds per saturation run (3)")
    ap.add_argument("--repeats", type=_positive(int), help="runs of each measurement (3)")
    ap.add_argument("--connections", type=_positive(int), default=16, help="at saturation (16)")
    ap.add_argument("--rate", type=_positive(float), default=50.0, help="pages/s (50)")
    ap.add_argument("--rate-duration", type=_positive(float), help="seconds per rate run (10)")
    ap.add_argument("--big-mb", type=_positive(float), default=10.0, help="stall page, MB (10)")
    ap.add_argument("--workers", type=int, default=-1, help="qinglang_workers (-1: one per core)")
    ap.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this part (repeatable; default: all)",
    )
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON ('-': stdout)")
    args = ap.parse_args(argv)
    quick = args.quick
    args.only = args.only or list(SECTIONS)
    args.duration = args.duration or (1 if quick else 3)
    args.repeats = args.repeats or (1 if quick else 3)
    args.rate_duration = args.rate_duration or (2.0 if quick else 10.0)
    if args.big_mb * 1_000_000 > 10 * 1024 * 1024:
        ap.error("--big-mb: the child profile scans at most 10 MiB (10.48 MB)")
    return args


def environment(workers: int) -> dict[str, str]:
    import mitmproxy.version

    def version(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        except OSError:
            return "?"
        return (out.stdout + out.stderr).strip().splitlines()[0]

    cpus = len(os.sched_getaffinity(0))
    wrk_v = version(["wrk", "--version"]).split("[")[0].strip()
    return {
        "cpus": str(cpus),
        "python": platform.python_version(),
        "mitmproxy": mitmproxy.version.VERSION,
        "wrk": wrk_v.replace("debian/", ""),
        "hey": "hey " + _deb_version("hey"),
        "curl": " ".join(version(["curl", "--version"]).split()[:2]),
        "workers": str(cpus if workers < 0 else workers),
    }


def cpu_stall_us() -> int | None:
    """Microseconds in which some runnable task waited for a CPU, since boot (PSI)."""
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as f:
            some = f.readline().split()
    except OSError:
        return None
    return int(some[-1].split("=")[1]) if some and some[-1].startswith("total=") else None


def _deb_version(pkg: str) -> str:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True, timeout=10
        )
    except OSError:
        return "?"
    return out.stdout.strip() or "?"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in ("wrk", "hey", "curl"):
        if shutil.which(tool) is None:
            print(
                f"bench_proxy: `{tool}` is not installed (apt-get install {tool})", file=sys.stderr
            )
            return 2
    shown = ["python scripts/bench_proxy.py", *(argv if argv is not None else sys.argv[1:])]
    command = shlex.join(shown).replace(
        "'python scripts/bench_proxy.py'", "python scripts/bench_proxy.py"
    )
    t0 = time.monotonic()
    stall0 = cpu_stall_us()
    with tempfile.TemporaryDirectory(prefix="qinglang-bench-proxy-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            bench.start()
            env = environment(args.workers)
            order = ["/clean.html", "/match.html", "/api.json", "/photo.jpg", "/small.html"]
            order += [f"/{n}.html.{e}" for e in setup.ENCODINGS for n in ("clean", "match")]
            order.append("/big.html")
            received = check_pages(
                bench.proxies["bare"],
                bench.proxies["qinglang"],
                bench.up,
                [bench.pages[p] for p in order],
            )
            sat: list[Row] = []
            rate: Row | None = None
            stall: tuple[Row, dict[str, list[float]]] | None = None
            if "saturation" in args.only:
                bench.warm_up()
                sat = bench.run_saturation()
            if "rate" in args.only:
                rate = bench.run_fixed_rate()
            if "stall" in args.only:
                stall = bench.run_stall()
            ql = bench.proxies["qinglang"]
            ql.stop()
            addon_errors = [m for m in ("Traceback", "Addon error") if m in ql.log()]
        except (BenchError, RuntimeError, OSError) as e:
            print(f"bench_proxy: {e}", file=sys.stderr)
            return 1
        finally:
            bench.stop()
    stall1 = cpu_stall_us()
    if stall0 is None or stall1 is None:
        env["cpu_pressure"] = "not available"
    else:
        env["cpu_pressure"] = f"{(stall1 - stall0) / 1e6 / (time.monotonic() - t0):.0%}"
    lines = report_head(command, args, env)
    data: dict[str, Any] = {
        "command": command,
        "environment": env,
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
    }
    if sat:
        lines += report_saturation(args, env, sat)
        data["saturation"] = [_row_json(r) for r in sat]
    if rate is not None:
        lines += report_rate(args, rate)
        data["fixed_rate"] = _row_json(rate)
    if stall is not None:
        lines += report_stall(args, *stall)
        data["stall"] = {**_row_json(stall[0]), "big_page_seconds": stall[1]}
    lines += report_received(received)
    data["received"] = [asdict(r) for r in received]
    print("\n".join(lines) + "\n")
    if addon_errors:
        print(f"bench_proxy: {', '.join(addon_errors)} in qinglang's log", file=sys.stderr)
    print(f"(took {time.monotonic() - t0:.0f} s)", file=sys.stderr)
    if args.json:
        blob = json.dumps(data, indent=2, ensure_ascii=False)
        if args.json == "-":
            print(blob)
        else:
            Path(args.json).write_text(blob + "\n", encoding="utf-8")
    bad = [r for r in received if not r.ok]
    return 1 if bad or addon_errors else 0


def _row_json(row: Row) -> dict[str, Any]:
    med = {
        p: {
            "rps": row.median(p, "rps"),
            "p50_ms": row.median(p, "p50_ms"),
            "p99_ms": row.median(p, "p99_ms"),
            "max_ms": row.median(p, "max_ms"),
            "cpu_pct": {proc: row.cpu_pct(p, proc) for proc in PROCS},
            "cpu_ms_per_request": {
                proc: row.cpu_ms_per_request(p, (proc,)) for proc in ("mitmdump", "workers")
            },
        }
        for p in PROXIES
    }
    runs = {p: [{**asdict(r), "rps": r.rps} for r in rs] for p, rs in row.runs.items()}
    return {
        "name": row.name,
        "tool": row.tool,
        "median": med,
        "pair_ratios": row.pair_ratios(),
        "runs": runs,
    }


if __name__ == "__main__":
    sys.exit(main())
