"""What qinglang's hooks cost mitmdump per request, in process, side by side with mitmproxy
alone: a DumpMaster (mitmproxy's own addons), qinglang added as ``qinglang run`` adds it
(one addon) or as ``mitmdump -s addon.py`` holds it (a script's addons), and flows driven
through requestheaders, request, responseheaders and response (with mitmproxy's update
events after each) by the addon manager, as the proxy server drives them. No sockets: what
is measured is the main process's CPU time per request (scan workers excluded), the part
of mitmdump's work that qinglang's addons add.

    python scripts/bench_hooks.py [--requests N] [--rounds R]

Each setup runs in a fresh process, setups interleaved; the best round of each is shown.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "addons"))

PAGES = {
    "image": "/photo.jpg",
    "html": "/clean.html",
    "json": "/api.json",
}
SETUPS = ("mitmproxy", "qinglang run", "mitmdump -s")


class _Script:
    """Holds a script's addons as mitmdump's script loader does (``addons``)."""

    def __init__(self, addons: list[Any]) -> None:
        self.addons = addons


async def _measure(setup: str, page: str, n: int) -> float:
    import benchproxy_setup as bench
    from mitmproxy import connection, hooks, http, options
    from mitmproxy.proxy.layers.http import (
        HttpRequestHeadersHook,
        HttpRequestHook,
        HttpResponseHeadersHook,
        HttpResponseHook,
    )
    from mitmproxy.test import tflow
    from mitmproxy.tools.dump import DumpMaster

    tmp = Path(tempfile.mkdtemp(prefix="qinglang-bench-hooks-"))
    os.chdir(tmp)
    cfg = tmp / "qinglang.yaml"
    cfg.write_text(
        f"lists: [{json.dumps(str(ROOT / 'blocklists'))}]\nevents: {{db: events.sqlite}}\n"
        'profiles: {child: {allow_ports: ["1024-65535"]}}\n',
        encoding="utf-8",
    )
    opts = options.Options(listen_host="127.0.0.1", listen_port=0, confdir=str(tmp / "conf"))
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    if setup != "mitmproxy":
        from qinglang.addon import chain

        ours = chain(str(cfg))
        master.addons.add(*ours) if setup == "qinglang run" else master.addons.add(_Script(ours))
        master.options.update(qinglang_workers=1)
    await master.addons.trigger_event(hooks.RunningHook())
    await asyncio.sleep(1.5)  # the scan worker starts
    body = bench.bench_pages(1_000_000)[PAGES[page]]

    def flow() -> tuple[http.HTTPFlow, http.Response]:
        f = tflow.tflow()
        f.client_conn.peername = ("127.0.0.1", 50000)
        f.client_conn.sockname = ("127.0.0.1", 8080)
        f.client_conn.sni = None  # plain HTTP through the proxy, as the load generator's
        f.client_conn.tls_version = None
        f.client_conn.alpn = None
        f.request = http.Request.make(
            "GET",
            f"http://127.0.0.1:8000{PAGES[page]}",
            b"",
            {"Host": "127.0.0.1:8000", "Accept": "*/*", "Accept-Encoding": "gzip"},
        )
        f.server_conn = connection.Server(address=("127.0.0.1", 8000))
        return f, http.Response.make(200, body.body, dict(body.headers))

    async def one(f: http.HTTPFlow, resp: http.Response) -> None:
        for hook in (HttpRequestHeadersHook, HttpRequestHook):
            await master.addons.handle_lifecycle(hook(f))
        f.response = resp
        for hook in (HttpResponseHeadersHook, HttpResponseHook):
            await master.addons.handle_lifecycle(hook(f))

    f, r = flow()
    await one(f, r)
    if setup != "mitmproxy" and "qinglang" not in f.metadata:
        raise SystemExit("qinglang did not see the flow")
    for _ in range(200):
        await one(*flow())
    best = float("inf")
    for _ in range(5):
        batch = [flow() for _ in range(n)]
        gc.collect()
        gc.disable()
        t = time.process_time()
        for f, r in batch:
            await one(f, r)
        best = min(best, (time.process_time() - t) / n)
        gc.enable()
    master.shutdown()
    return best * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=400, help="per timed batch (400)")
    ap.add_argument("--rounds", type=int, default=2, help="fresh processes per setup (2)")
    ap.add_argument("--one", nargs=2, metavar=("SETUP", "PAGE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(asyncio.run(_measure(args.one[0], args.one[1], args.requests)))
        return
    best: dict[tuple[str, str], float] = {}
    for page in PAGES:
        for _ in range(args.rounds):
            for setup in SETUPS:
                out = subprocess.run(
                    [sys.executable, __file__, "--requests", str(args.requests),
                     "--one", setup, page],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                us = float(out.stdout.strip().splitlines()[-1])
                key = (page, setup)
                best[key] = min(best.get(key, us), us)
    print("| page | mitmproxy alone, µs | + qinglang (`qinglang run`) | + qinglang (`-s`) |")
    print("|---|---|---|---|")
    for page in PAGES:
        bare = best[(page, "mitmproxy")]
        cells = [f"{best[(page, s)] - bare:+.0f} µs ({best[(page, s)] / bare:.2f}x)"
                 for s in SETUPS[1:]]  # fmt: skip
        print(f"| {page} | {bare:.0f} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
