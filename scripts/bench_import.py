"""Time `qinglang lists import` on 100,000-line lists of each format.

Generates the sources in a temporary folder (random names, the real formats),
runs the command end to end as a maintainer would (a new process each time),
and prints, side by side, two baselines measured in the same run: reading and
splitting the source in Python, and loading the written output with
``load_lists`` / ``load_domains``. The issue's budget is 10 seconds per import.

    python scripts/bench_import.py [--lines 100000]
"""

from __future__ import annotations

import argparse
import random
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qinglang.engine.lists import load_lists
from qinglang.policy.domains import load_domains


def word(rng: random.Random, k: int) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=k))


CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def make_e2guardian(path: Path, n: int, rng: random.Random) -> None:
    lines = ['#listcategory: "Pornography"']
    for i in range(n - 1):
        r = i % 10
        if r < 5:
            edge = rng.choice(["< {} >", "< {}>", "<{}>", "<{} >"])
            phrase = edge.format(
                " ".join(word(rng, rng.randint(3, 9)) for _ in range(rng.randint(1, 3)))
            )
        elif r < 8:
            phrase = "<" + "".join(rng.choices(CJK, k=rng.randint(2, 5))) + ">"
        else:
            phrase = f"<{word(rng, 5)}>,< {word(rng, 6)} >"
        lines.append(f"{phrase}<{rng.choice([5, 10, 20, 40, 60, -20, 100])}>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_hosts(path: Path, n: int, rng: random.Random) -> None:
    lines = ["# generated", "127.0.0.1 localhost"]
    lines += [f"0.0.0.0 {word(rng, 10)}.{word(rng, 3)}.example" for _ in range(n - 2)]
    path.write_text("\n".join(lines) + "\n")


def make_adblock(path: Path, n: int, rng: random.Random) -> None:
    lines = ["[Adblock Plus 2.0]", "! generated"]
    for i in range(n - 2):
        d = f"{word(rng, 10)}.example"
        lines.append(f"@@||{d}^" if i % 50 == 0 else f"||{d}^" if i % 10 else f"{d}##.ad")
    path.write_text("\n".join(lines) + "\n")


def make_domains(path: Path, n: int, rng: random.Random) -> None:
    path.write_text("\n".join(f"{word(rng, 12)}.example" for _ in range(n)) + "\n")


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=100_000)
    n = ap.parse_args().lines
    rng = random.Random(5)
    head = ["format", "lines", "import (s)", "read+split (s)", "load output (s)"]
    print(f"{head[0]:12} {head[1]:>8} {head[2]:>11} {head[3]:>15} {head[4]:>16}")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        cases = [
            ("e2guardian", make_e2guardian, [], "weighted"),
            ("hosts", make_hosts, ["--category", "ads"], "hosts"),
            ("adblock", make_adblock, ["--category", "ads"], "easylist.txt"),
            ("domains", make_domains, ["--category", "porn"], "porn.txt"),
        ]
        for fmt, make, extra, name in cases:
            src = base / fmt / name
            src.parent.mkdir()
            make(src, n, rng)
            out = base / f"out-{fmt}"
            cmd = [sys.executable, "-m", "qinglang.cli", "lists", "import", fmt, str(src)]
            cmd += [*extra, "--out", str(out)]
            t_import = timed(lambda cmd=cmd: subprocess.run(cmd, check=True, capture_output=True))
            t_read = timed(lambda src=src: src.read_text(encoding="utf-8").splitlines())
            if fmt == "e2guardian":
                t_load = timed(lambda out=out: load_lists([out], use_cache=False))
            else:
                t_load = timed(lambda out=out: load_domains([out]))
            print(f"{fmt:12} {n:>8} {t_import:>11.2f} {t_read:>15.3f} {t_load:>16.2f}")


if __name__ == "__main__":
    main()
