"""scripts/bench_scale.py still runs end to end and prints its tables (a tiny smoke run).

It starts real PostgreSQL, Redis, HAProxy, an upstream server and three qinglang workers on
127.0.0.1 and drives them with wrk. Speed is never asserted: only that both set-ups served
the load and that the report has every column the README's table needs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bench_scale.py"

pytestmark = pytest.mark.timeout(240)


def _cells(out: str, first: str) -> list[list[str]]:
    rows = re.findall(rf"^\| {re.escape(first)} \|.*\|$", out, re.MULTILINE)
    assert rows, f"no row {first!r} in:\n{out}"
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows]


def test_quick_run_prints_rates_ratio_cpu_and_sizing() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--connections", "4"],
        capture_output=True,
        text=True,
        timeout=200,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    out = proc.stdout
    assert "`python scripts/bench_scale.py --quick --connections 4`" in out
    assert "| page | 1 worker req/s | 2 workers req/s | 2 workers / 1 worker " in out
    assert re.search(r"Hardware: \d+ cores", out)
    for page in ("HTML 100 KB, no match", "HTML 100 KB, masked"):
        rate, one, two, base = _cells(out, page)
        assert float(rate[1].replace(",", "")) > 0 and float(rate[2].replace(",", "")) > 0
        assert rate[3].endswith("×") and rate[5].endswith("×")
        assert float(rate[4].replace(",", "")) > 0
        assert all(float(ms) > 0 for ms in rate[6].split(" / "))  # CPU ms per request
        header = "| page | set-up | worker 1 | worker 2 | haproxy | postgres+redis | upstream"
        assert header in out
        assert one[1] == "1 worker" and one[3] == "–" and float(one[2]) > 0
        assert two[1] == "2 workers" and float(two[2]) > 0 and float(two[3]) > 0
        assert base[1] == "1 worker, 2 scans" and base[3] == "–" and float(base[2]) > 0
    assert re.search(r"^Sizing .* need [\d,]+ req/s; keeping cores at 50% that is \d+ cores", out,
                     re.MULTILINE)  # fmt: skip
