"""DNS mode benchmark: queries per second through qinglang's DNS mode and through a bare
mitmproxy DNS mode, side by side in one run, and the memory a 1-million-domain
subscription costs.

Everything runs on 127.0.0.1: an upstream DNS server (asyncio, one fixed answer, a
process of its own), a bare ``mitmdump --mode dns`` whose only addon hands every query to
that upstream through mitmproxy's own forwarding (its built-in resolver cannot be pointed
at a port), and ``qinglang run --dns`` with the shipped lists plus a synthetic 1,000,000-
domain list (``porn``), answering from the same upstream. The load generator keeps
``--window`` queries in flight on one UDP socket for ``--seconds`` per run; a third of the
names are in the shipped lists (blocked), a third in the big list (blocked), a third are
allowed (forwarded). Runs alternate bare, qinglang, qinglang, bare, ... and each figure is
the median of ``--repeats`` runs.

Memory is the resident set (VmRSS) of each process after start-up: bare mitmdump,
qinglang with the shipped lists only, qinglang with the big list too.

    python scripts/bench_dns.py                    # about three minutes on 2 cores
    python scripts/bench_dns.py --quick            # smoke run
    python scripts/bench_dns.py --json results.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from multiprocessing import Process
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MIXES = {
    "mixed": "1/3 shipped-list, 1/3 big-list, 1/3 allowed",
    "allowed": "allowed only (forwarded upstream)",
}
BLOCKED_SHIPPED = ["www.pornhub.com", "store.steampowered.com", "www.bet365.com", "video.xxx"]


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
        with socket.socket() as t:
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


# -- the upstream: one fixed A record for every name ----------------------------------------


def _upstream_main(port: int) -> None:
    class Answer(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            # Header: same id, QR and RA set, one answer; the question copied; one A record
            # pointing back at the question's name (a compression pointer to offset 12).
            end = 12
            while data[end] != 0:
                end += data[end] + 1
            end += 5
            question = data[12:end]
            flags = 0x8180
            header = data[:2] + struct.pack("!HHHHH", flags, 1, 1, 0, 0)
            answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([198, 18, 0, 1])
            self.t.sendto(header + question + answer, addr)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(Answer, local_addr=("127.0.0.1", port))
        await asyncio.Event().wait()

    asyncio.run(serve())


# -- the load generator ------------------------------------------------------------------------


def query_wire(name: str, qid: int) -> bytes:
    out = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\x00" + struct.pack("!HH", 1, 1)


async def load(port: int, names: list[str], seconds: float, window: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    sent: dict[int, float] = {}
    latencies: list[float] = []
    answers = 0
    rng = random.Random(7)

    class Client(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            nonlocal answers
            qid = struct.unpack("!H", data[:2])[0]
            started = sent.pop(qid, None)
            if started is None:
                return
            answers += 1
            latencies.append(time.perf_counter() - started)
            if not done.is_set():
                send()

    transport, proto = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))

    def send() -> None:
        qid = rng.randrange(65536)
        while qid in sent:
            qid = rng.randrange(65536)
        sent[qid] = time.perf_counter()
        proto.t.sendto(query_wire(names[rng.randrange(len(names))], qid))

    start = time.perf_counter()
    for _ in range(window):
        send()
    while time.perf_counter() - start < seconds:
        await asyncio.sleep(0.2)
        now = time.perf_counter()
        for qid, t0 in list(sent.items()):  # lost datagrams: send another
            if now - t0 > 2.0:
                sent.pop(qid, None)
                send()
    done.set()
    elapsed = time.perf_counter() - start
    transport.close()
    lat = sorted(latencies) or [0.0]
    return {
        "qps": answers / elapsed,
        "p50_ms": lat[len(lat) // 2] * 1000,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
    }


# -- the servers ----------------------------------------------------------------------------------

BARE_ADDON = """
from mitmproxy import ctx

UPSTREAM = ("127.0.0.1", {port})


class Forward:
    def running(self):
        # mitmproxy's resolver would answer first (and cannot take a port): out of the chain.
        mgr = ctx.master.addons
        resolver = mgr.get("dnsresolver")
        if resolver in mgr.chain:
            mgr.chain.remove(resolver)

    def dns_request(self, flow):
        flow.server_conn.address = UPSTREAM


addons = [Forward()]
"""


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@contextmanager
def started(cmd: list[str], log: Path, ready: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    with log.open("wb") as f:
        proc = subprocess.Popen(
            cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
    try:
        deadline = time.monotonic() + 120
        while ready not in log.read_text("utf-8", "replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[0]} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        time.sleep(0.5)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def big_list(folder: Path, n: int) -> list[str]:
    """``n`` synthetic domains in ``folder/domains/porn.txt``; returns a sample of them."""
    (folder / "domains").mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    tlds = ["com", "net", "org", "cn", "top", "xyz"]
    sample: list[str] = []
    with (folder / "domains" / "porn.txt").open("w", encoding="ascii") as f:
        for i in range(n):
            name = f"s{i:07d}{rng.randrange(1 << 20):05x}.{tlds[i % len(tlds)]}"
            f.write(name + "\n")
            if i % max(1, n // 2000) == 0:
                sample.append(name)
    return sample


def qinglang_cmd(cfg: Path, dns_port: int, tmp: Path) -> list[str]:
    return [
        sys.executable, "-m", "qinglang.cli", "run", "--config", str(cfg),
        "--dns", f"127.0.0.1:{dns_port}", "--listen-host", "127.0.0.1",
        "--listen-port", str(free_port()), "--set", f"confdir={tmp / 'confdir'}",
        "--set", "qinglang_workers=0", "--set", "qinglang_dashboard=off",
    ]  # fmt: skip


def write_config(path: Path, lists: list[str], upstream: int, log: str) -> None:
    path.write_text(
        "lists: [" + ", ".join(json.dumps(x) for x in lists) + "]\n"
        "profiles: {child: {}}\n"
        f"dns: {{upstreams: ['127.0.0.1:{upstream}'], log: {log}}}\n"
        "events: {db: events.sqlite}\n",
        encoding="utf-8",
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="length of one run")
    p.add_argument("--repeats", type=int, default=3, help="runs per server (median)")
    p.add_argument("--window", type=int, default=64, help="queries in flight")
    p.add_argument("--domains", type=int, default=1_000_000, help="size of the big list")
    p.add_argument("--quick", action="store_true", help="2 s runs, 1 repeat, 20,000 domains")
    p.add_argument(
        "--dns-log", default="all", choices=["all", "blocked", "off"], help="qinglang's dns.log"
    )
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    if args.quick:
        args.seconds, args.repeats = min(args.seconds, 2.0), 1
        args.domains = min(args.domains, 20_000)

    from qinglang.policy.config import shipped_lists

    with tempfile.TemporaryDirectory(prefix="bench-dns-") as tmpname:
        tmp = Path(tmpname)
        up_port = free_port()
        upstream = Process(target=_upstream_main, args=(up_port,), daemon=True)
        upstream.start()
        t0 = time.perf_counter()
        sample = big_list(tmp / "big", args.domains)
        gen_s = time.perf_counter() - t0
        rng = random.Random(3)
        allowed = [f"site{i}.allowed.example" for i in range(2000)]
        names = [
            *(rng.choice(BLOCKED_SHIPPED) for _ in range(len(sample))),
            *sample,
            *rng.sample(allowed, min(len(sample), len(allowed))),
        ]
        addon = tmp / "bare.py"
        addon.write_text(BARE_ADDON.format(port=up_port), encoding="utf-8")
        shipped_cfg, big_cfg = tmp / "shipped.yaml", tmp / "big.yaml"
        write_config(shipped_cfg, [str(shipped_lists())], up_port, args.dns_log)
        write_config(big_cfg, [str(shipped_lists()), str(tmp / "big")], up_port, args.dns_log)
        bare_port, ql_port, ql2_port = free_port(), free_port(), free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "addons")}
        bare_cmd = [
            sys.executable, "-c", "from mitmproxy.tools.main import mitmdump; mitmdump()",
            "--mode", f"dns@127.0.0.1:{bare_port}", "-s", str(addon),
            "--set", f"confdir={tmp / 'confdir'}", "--set", "flow_detail=0",
        ]  # fmt: skip
        results: dict[str, Any] = {"domains": args.domains, "seconds": args.seconds}
        with started(bare_cmd, tmp / "bare.log", "DNS server listening", env) as bare:
            t0 = time.perf_counter()
            with started(
                qinglang_cmd(big_cfg, ql_port, tmp), tmp / "ql.log", "filtering proxy listening",
                env,
            ) as ql:  # fmt: skip
                results["qinglang_start_s"] = round(time.perf_counter() - t0, 1)
                with started(
                    qinglang_cmd(shipped_cfg, ql2_port, tmp), tmp / "ql2.log",
                    "filtering proxy listening", env,
                ) as ql2:  # fmt: skip
                    results["rss_mb"] = {
                        "bare mitmdump": round(rss_kb(bare.pid) / 1024, 1),
                        "qinglang, shipped lists": round(rss_kb(ql2.pid) / 1024, 1),
                        f"qinglang, shipped + {args.domains:,} domains": round(
                            rss_kb(ql.pid) / 1024, 1
                        ),
                    }
                # Warm-up, then alternate.
                asyncio.run(load(bare_port, names, 1.0, args.window))
                asyncio.run(load(ql_port, names, 1.0, args.window))
                runs: dict[str, list[dict[str, float]]] = {
                    f"{w} {m}": [] for m in MIXES for w in ("bare", "qinglang")
                }
                mixes = {"mixed": names, "allowed": allowed}
                order = ["bare", "qinglang"]
                for i in range(args.repeats):
                    for mix, pool in mixes.items():
                        for which in order if i % 2 == 0 else order[::-1]:
                            port = bare_port if which == "bare" else ql_port
                            r = asyncio.run(load(port, pool, args.seconds, args.window))
                            runs[f"{which} {mix}"].append(r)
        upstream.terminate()

        def med(which: str, key: str) -> float:
            return round(statistics.median(r[key] for r in runs[which]), 1)

        results["runs"] = runs
        table = {w: {k: med(w, k) for k in ("qps", "p50_ms", "p99_ms")} for w in runs}
        results["median"] = table
        results["ratio"] = {
            m: round(table[f"qinglang {m}"]["qps"] / max(table[f"bare {m}"]["qps"], 0.1), 2)
            for m in MIXES
        }
        results["list_generation_s"] = round(gen_s, 1)

    print(f"# DNS mode: {args.domains:,}-domain list, {args.window} queries in flight, "
          f"{args.repeats} x {args.seconds:g} s runs (median)\n")  # fmt: skip
    print("| names | server | queries/s | p50 ms | p99 ms | qinglang / bare |")
    print("|---|---|---|---|---|---|")
    for m in MIXES:
        for w, label in (("bare", "bare mitmproxy DNS mode"), ("qinglang", "qinglang DNS mode")):
            t = table[f"{w} {m}"]
            ratio = f"{results['ratio'][m]:.2f}" if w == "qinglang" else ""
            print(
                f"| {MIXES[m]} | {label} | {t['qps']:.0f} | {t['p50_ms']:.1f} | "
                f"{t['p99_ms']:.1f} | {ratio} |"
            )
    print()
    print("| process | RSS MB |")
    print("|---|---|")
    for k, v in results["rss_mb"].items():
        print(f"| {k} | {v} |")
    print(f"\nqinglang start-up with the big list: {results['qinglang_start_s']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
