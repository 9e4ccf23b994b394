"""scripts/bench_dns.py still runs end to end and prints its tables (a tiny smoke run).
Speed is never asserted: only that both servers answered and the tables are there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_run_prints_the_tables(tmp_path: Path) -> None:
    out = tmp_path / "dns.json"
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_dns.py"), "--quick", "--seconds", "1",
         "--domains", "5000", "--json", str(out)],
        capture_output=True, text=True, timeout=240, cwd=ROOT, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "| allowed only (forwarded upstream) | qinglang DNS mode |" in r.stdout
    data = json.loads(out.read_text("utf-8"))
    for name, runs in data["runs"].items():
        assert runs and all(run["qps"] > 0 for run in runs), name
    assert data["rss_mb"]["bare mitmdump"] > 0
