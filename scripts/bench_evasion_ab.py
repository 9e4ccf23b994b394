"""The engine of this checkout against another checkout's (e.g. the main branch before
the evasion rules), on the same text and lists, in two long-lived worker processes
driven in turns, so that both see the same load on a shared machine.

    python scripts/bench_evasion_ab.py --baseline /work/main [--baseline DIR ...]
        [--mb 5] [--terms 10000]

Each round times one scan per tree and one bare ahocorasick-rs scan (the baseline
``bench_engine.py`` uses: ``AhoCorasick(patterns).find_matches_as_indexes(text)``);
the table gives the best of the rounds and engine / bare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdata

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ahocorasick_rs import AhoCorasick
from qinglang.engine.lists import load_lists
from qinglang.engine.normalize import tables
from qinglang.engine.scanner import Engine
from qinglang.policy.config import Profile
folder, text_path = sys.argv[2], sys.argv[3]
tables()
engine = Engine(load_lists([folder], use_cache=False))
patterns = json.loads(open(folder + "/patterns.json", encoding="utf-8").read())
bare = AhoCorasick(patterns)
text = open(text_path, encoding="utf-8").read()
prof = Profile(block_threshold=10**9, pii="off")
engine.scan(text[:65536], "text", prof)
print("ready", flush=True)
for line in sys.stdin:
    what = line.strip()
    t = time.perf_counter()
    if what == "engine":
        engine.scan(text, "text", prof)
    else:
        bare.find_matches_as_indexes(text)
    print(time.perf_counter() - t, flush=True)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--baseline", type=Path, action="append", required=True, help="repeat for several"
    )
    ap.add_argument("--mb", type=float, default=5.0)
    ap.add_argument("--terms", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--cache", type=Path, default=ROOT / ".bench")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT / "addons"))
    from qinglang.engine.normalize import normalize_term

    vocab = benchdata.load_vocab(benchdata.WORDLIST)
    split = benchdata.split_vocab(vocab, 1)
    text_path = benchdata.cached_text(a.cache, split, a.mb, 1)
    terms = benchdata.ordered_terms(split, a.terms, 1, normalize_term)
    with tempfile.TemporaryDirectory(prefix="qinglang-ab-") as tmp:
        benchdata.write_lists(terms[: a.terms], split, 1, Path(tmp))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        trees = {"this": ROOT}
        for i, tree in enumerate(a.baseline):
            trees[f"baseline {i + 1}" if len(a.baseline) > 1 else "baseline"] = tree
        procs = {
            name: subprocess.Popen(
                [sys.executable, "-c", WORKER, str(tree / "addons"), tmp, str(text_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
                cwd=tree,
            )
            for name, tree in trees.items()
        }
        for p in procs.values():
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        best: dict[tuple[str, str], float] = {}
        load_start = f"{os.getloadavg()[0]:.2f}"
        for _ in range(a.rounds):
            for name, p in procs.items():
                for what in ("engine", "bare"):
                    assert p.stdin is not None and p.stdout is not None
                    p.stdin.write(what + "\n")
                    p.stdin.flush()
                    t = float(p.stdout.readline())
                    key = (name, what)
                    best[key] = min(best.get(key, t), t)
        for p in procs.values():
            assert p.stdin is not None
            p.stdin.close()
            p.wait()
    mb = text_path.stat().st_size / 1e6
    load = f"load average {load_start} -> {os.getloadavg()[0]:.2f}"
    print(f"{mb:.1f} MB, {a.terms:,} terms, best of {a.rounds} rounds, {load}\n")
    print("| tree | engine (MB/s) | bare (MB/s) | engine / bare |")
    print("|---|---:|---:|---:|")
    for name, tree in trees.items():
        e, b = best[(name, "engine")], best[(name, "bare")]
        print(f"| {name} (`{tree}`) | {mb / e:.1f} | {mb / b:.1f} | {b / e:.0%} |")
    print(json.dumps({f"{k[0]}_{k[1]}": v for k, v in best.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
