"""Content-Encoding costs in a scan worker, side by side: ISA-L against zlib, gzip against zstd.

Times, on the proxy benchmark's pages (benchproxy_setup.bench_pages), in one run:

- decoding each page's gzip body with ``compression.decode`` through zlib and through ISA-L
  (``isal``), and its brotli and zstd bodies for reference;
- the encoders a masked page can go back out with: gzip level 1 through zlib and through
  ISA-L, and zstd level 1 (output bytes too);
- the whole worker job (``scanjob.run_job``) on the 100 KB masked page from each compressed
  upstream, with the old choice (zlib inflate, zstd level 1 first) against the new one
  (ISA-L inflate, gzip level 1 first).

Timings are the best of ``--repeat`` rounds, the variants interleaved in each round, because
other work on a shared machine only ever makes a run slower.

    python scripts/bench_codecs.py            # full run
    python scripts/bench_codecs.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import gzip
import shlex
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import brotli
import zstandard

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "addons"))
sys.path.insert(0, str(ROOT / "scripts"))

import benchproxy_setup as setup  # noqa: E402

from qinglang.content import compression  # noqa: E402
from qinglang.content.pipeline import ScanJob, ScanOutcome, run_job  # noqa: E402
from qinglang.engine.lists import load_lists  # noqa: E402
from qinglang.engine.scanner import Engine  # noqa: E402
from qinglang.policy.config import Profile  # noqa: E402

PAGES = {"HTML 100 KB": "/match.html", "JSON 30 KB": "/api.json", "HTML 2 KB": "/small.html"}
ACCEPT = "gzip, deflate, br, zstd"


def best_of(fns: dict[str, Callable[[], object]], rounds: int, n: int) -> dict[str, float]:
    """Microseconds per call of each function: the best round, the functions interleaved,
    their order rotated every round so that none always runs first."""
    names = list(fns)
    best = dict.fromkeys(names, float("inf"))
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn = fns[name]
            fn()  # warm
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / n * 1e6)
    return best


def _decode_with(body: bytes, coding: str, inflate: object = None) -> Callable[[], object]:
    """Decoding ``body``; gzip through ``inflate`` (zlib or ISA-L) when given."""

    def run() -> object:
        if inflate is not None:
            compression._INFLATE = inflate
        return compression.decode(body, coding, 10 << 20)

    return run


def _job_with(
    engine: Engine, job: ScanJob, inflate: object, order: tuple[str, ...]
) -> Callable[[], object]:
    def run() -> object:
        compression._INFLATE, compression._CHEAPEST_FIRST = inflate, order
        return run_job(engine, job)

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few repeats: a smoke run")
    ap.add_argument("--repeat", type=int, default=7, help="rounds (best one counts)")
    a = ap.parse_args()
    if compression.isal_zlib is None:
        sys.exit("isal is not installed: nothing to compare (pip install isal)")
    rounds, n = (2, 5) if a.quick else (a.repeat, 200)
    pages = setup.bench_pages(1_000_000)
    print("`" + " ".join(["python scripts/bench_codecs.py", *map(shlex.quote, sys.argv[1:])]) + "`")
    print()

    print(
        "| page | gunzip zlib (us) | gunzip ISA-L (us) | ISA-L / zlib | unbrotli (us) "
        "| unzstd (us) |"
    )
    print("|---|---|---|---|---|---|")
    for label, path in PAGES.items():
        raw = pages[path].body
        gz = gzip.compress(raw, 6)
        fns: dict[str, Callable[[], object]] = {
            "zlib": _decode_with(gz, "gzip", zlib),
            "isal": _decode_with(gz, "gzip", compression.isal_zlib),
            "br": _decode_with(brotli.compress(raw), "br"),
            "zstd": _decode_with(zstandard.ZstdCompressor(level=3).compress(raw), "zstd"),
        }
        t = best_of(fns, rounds, n)
        print(
            f"| {label} | {t['zlib']:.0f} | {t['isal']:.0f} | {t['isal'] / t['zlib']:.0%} "
            f"| {t['br']:.0f} | {t['zstd']:.0f} |"
        )
    compression._INFLATE = compression.isal_zlib
    print()

    print("| page | gzip-1 zlib (us, bytes) | gzip-1 ISA-L (us, bytes) | zstd-1 (us, bytes) |")
    print("|---|---|---|---|")
    for label, path in PAGES.items():
        raw = pages[path].body
        encoders: dict[str, Callable[[], bytes]] = {
            "zlib": lambda raw=raw: gzip.compress(raw, compresslevel=1, mtime=0),
            "isal": lambda raw=raw: compression.igzip.compress(raw, compresslevel=1, mtime=0),
            "zstd": lambda raw=raw: zstandard.ZstdCompressor(level=1).compress(raw),
        }
        t = best_of(dict(encoders), rounds, n)
        cells = " | ".join(f"{t[k]:.0f}, {len(encoders[k]()):,}" for k in encoders)
        print(f"| {label} | {cells} |")
    print()

    engine = Engine(load_lists([ROOT / "blocklists"]))
    choices = {
        "old": (zlib, ("zstd", "gzip")),
        "new": (compression.isal_zlib, ("gzip", "zstd")),
    }
    print(
        "| 100 KB masked page, upstream | worker job, old: zlib, zstd-1 (us) "
        "| new: ISA-L, gzip-1 (us) | new / old | sent as (new) |"
    )
    print("|---|---|---|---|---|")
    for enc in setup.ENCODINGS:
        pg = pages[f"/match.html.{enc}"]
        headers = {k.lower(): v for k, v in pg.headers.items()}
        job = ScanJob(pg.body, headers["content-type"], enc, ACCEPT, Profile())

        fns = {k: _job_with(engine, job, *v) for k, v in choices.items()}
        t = best_of(fns, rounds, max(n // 4, 3))
        sent = fns["new"]()
        assert isinstance(sent, ScanOutcome)
        print(
            f"| {enc} | {t['old']:.0f} | {t['new']:.0f} | {t['new'] / t['old']:.0%} "
            f"| {sent.status}, {sent.content_encoding or 'identity'} |"
        )


if __name__ == "__main__":
    main()
