"""scripts/bench_codecs.py still runs end to end and prints its tables (a tiny smoke run).

Speed is never asserted here: only that the benchmark works, so it cannot silently rot.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_prints_the_three_tables() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_codecs.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("`python scripts/bench_codecs.py --quick`")
    assert "| page | gunzip zlib (us) | gunzip ISA-L (us) | ISA-L / zlib |" in out
    assert "| gzip-1 zlib (us, bytes) | gzip-1 ISA-L (us, bytes) | zstd-1 (us, bytes) |" in out
    upstreams = ("| gzip |", "| br |", "| zstd |")
    rows = [line for line in out.splitlines() if line.startswith(upstreams)]
    assert len(rows) == 3
    # Every masked page from a compressed upstream goes back out as ISA-L's gzip.
    assert all(row.endswith("| mask, gzip |") for row in rows), rows
