"""Speed of the evasion fold (``_evasion.fold_text``) on the normalised text of the proxy
benchmark's pages and on synthetic texts, this checkout against an older build, in one run.

    python scripts/bench_fold.py [--old /tmp/old_evasion] [--repeat 200]

The older build is another revision's ``_evasion.pyx`` (REV: e.g. 28850bb, the last one
before the fold was made faster) compiled under the module name ``qinglang_old_evasion``
into the ``--old`` folder:

    mkdir -p /tmp/old_evasion && cd /tmp/old_evasion
    git -C REPO show REV:addons/qinglang/engine/_evasion.pyx > qinglang_old_evasion.pyx
    cythonize -i -3 --cplus qinglang_old_evasion.pyx

Without it only this checkout is timed; with it, the script also checks that both return
the same on every text. Each time is the best of ``--repeat`` calls, old and
new interleaved, because other work on a shared machine only ever makes a call slower.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "addons"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchproxy_setup import bench_pages  # noqa: E402

from qinglang.engine import _evasion  # noqa: E402
from qinglang.engine.evasion import SKIP_CHARS, fold_table  # noqa: E402
from qinglang.engine.extract import extract  # noqa: E402
from qinglang.engine.normalize import normalize  # noqa: E402

PAGES = ("/clean.html", "/match.html", "/api.json", "/small.html")
_PROSE = (
    "the children were reading about history and science in the library while their teacher "
    "explained how the old bridge across the river had been built by hand"
)
_EN = tuple(_PROSE.split())
_ZH = "我们今天在学校里学习了历史和科学老师讲了很多有意思的故事大家都听得非常认真"
_LEET = ("p0rn", "a$$", "h3ll0", "f4ck", "s3x", "b!tch", "l33t", "w0rd", "d@mn", "gr8")
_SIZE = 30_000


def synthetic() -> dict[str, str]:
    """Deterministic texts of about 30,000 characters, one kind of content each."""
    rnd = random.Random(7)

    def words(pick: Callable[[], str], sep: str = " ") -> str:
        out: list[str] = []
        size = 0
        while size < _SIZE:
            w = pick()
            out.append(w)
            size += len(w) + len(sep)
        return sep.join(out)

    def mixed() -> str:
        r = rnd.random()
        if r < 0.4:
            return "".join(rnd.choices(_ZH, k=rnd.randint(2, 12)))
        if r < 0.8:
            return rnd.choice(_EN)
        return rnd.choice(("2026", "12", "3.5", "iphone15", "h264"))

    def lookalike() -> str:
        w = list(rnd.choice(_EN))
        w[rnd.randrange(len(w))] = rnd.choice("аеорсхοαé")  # Cyrillic, Greek, accented
        return "".join(w)

    return {
        "English prose": words(lambda: rnd.choice(_EN)),
        "Chinese": "".join(rnd.choices(_ZH, k=_SIZE)),
        "mixed zh/en": words(mixed),
        "leet-heavy": words(lambda: rnd.choice(_LEET + tuple(_EN))),
        "digit-heavy": words(lambda: str(rnd.randint(0, 10 ** rnd.randint(1, 9)))),
        "repeats": words(lambda: "".join(c * rnd.randint(1, 4) for c in rnd.choice(_EN))),
        "look-alikes": words(lookalike),
        "emoji/skips": words(
            lambda: rnd.choice(_ZH) + rnd.choice(SKIP_CHARS + "😀🎲♥") + rnd.choice(_ZH), ""
        ),
    }


def page_texts() -> dict[str, str]:
    pages = bench_pages(1_000_000)
    out = {}
    for path in PAGES:
        doc = pages[path].body.decode("utf-8")
        out[path] = normalize(extract(doc, "json" if path.endswith(".json") else "html").text).text
    return out


def same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Whether two results of ``fold_text`` are the same, value for value."""
    return a[:2] == b[:2] and all(
        x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a[2:], b[2:], strict=True)
    )


def best(fn: Callable[[], Any], repeat: int) -> float:
    t_best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", type=Path, default=Path("/tmp/old_evasion"))
    ap.add_argument("--repeat", type=int, default=200)
    a = ap.parse_args()
    old = None
    if (a.old / "qinglang_old_evasion.pyx").exists():
        sys.path.insert(0, str(a.old))
        old = importlib.import_module("qinglang_old_evasion")
    table = fold_table()
    texts = {**page_texts(), **synthetic()}
    print(
        f"{'text':<14} {'chars':>7} {'old us':>8} {'new us':>8} {'old ns/ch':>9} "
        f"{'new ns/ch':>9} {'old/new':>7}"
    )
    for name, text in texts.items():
        fns = {"new": lambda t=text: _evasion.fold_text(t, table, True)}
        if old is not None:
            fns["old"] = lambda t=text: old.fold_text(t, table, True)
            if not same(fns["old"](), fns["new"]()):
                print(f"{name}: the results differ")
                return 1
        times = {k: float("inf") for k in fns}
        for _ in range(5):  # interleaved rounds, so both see the same load
            for k, fn in fns.items():
                times[k] = min(times[k], best(fn, max(1, a.repeat // 5)))
        n = len(text)
        new_us = times["new"] * 1e6
        old_us = times.get("old", float("nan")) * 1e6
        print(
            f"{name:<14} {n:>7} {old_us:>8.1f} {new_us:>8.1f} {old_us * 1e3 / n:>9.2f} "
            f"{new_us * 1e3 / n:>9.2f} {old_us / new_us:>7.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
