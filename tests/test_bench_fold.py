"""scripts/bench_fold.py still runs end to end and prints its table (a tiny smoke run,
without an old build to compare with). Speed is never asserted here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_prints_every_text(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_fold.py"), "--old", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT / "addons")},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["text", "chars", "old", "us"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert {"/clean.html", "/match.html", "/api.json", "/small.html", "Chinese"} <= set(rows)
    assert len(lines) == 13
    # The benchmark pages' normalised text is tens of thousands of characters, timed.
    assert int(rows["/clean.html"][1]) > 10_000
    assert float(rows["/clean.html"][3]) > 0
