"""The HTML differential test at scale: generated documents, qinglang's scan text against
the text html5lib's standard parse shows (tests/htmlref.py has both).

    python scripts/html_differential.py --examples 10000

Prints the number of documents checked and, on a miss, the smallest document hypothesis
finds that shows a character the scan text lacks (exit status 1).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from htmlref import ReferenceFailed, documents, missed, visible_text
from hypothesis import HealthCheck, given, reject, settings

from qinglang.engine.extract import extract


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--examples", type=int, default=10_000, help="documents to generate")
    ap.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    args = ap.parse_args()
    count = skipped = 0

    @given(documents)
    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(doc: str) -> None:
        nonlocal count, skipped
        try:
            shown = visible_text(doc)
        except ReferenceFailed:
            skipped += 1
            reject()  # html5lib's own assertion failed: no reference
        count += 1
        lost = missed(shown, extract(doc, "html").text)
        assert not lost, f"missed {dict(lost)!r} in {doc!r}"

    if args.seed is not None:
        from hypothesis import seed

        check = seed(args.seed)(check)
    t0 = time.perf_counter()
    try:
        check()
    except AssertionError as e:
        print(f"FAIL after {count} documents: {e}")
        return 1
    took = time.perf_counter() - t0
    print(f"{count} documents, no shown character missed ({took:.0f} s)")
    print(f"{skipped} more generated that html5lib itself fails on (not counted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
