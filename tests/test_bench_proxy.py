"""scripts/bench_proxy.py still runs end to end and prints its tables (a tiny smoke run).

It starts a real upstream server, a bare mitmdump and qinglang, and drives them with wrk,
hey and curl (Debian packages). Speed is never asserted here: only that the benchmark works and
that what the client received through qinglang is right (pages without a match byte for
byte, pages with matches masked).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bench_proxy.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
        check=False,
    )


def _cells(out: str, first: str) -> list[str]:
    rows = re.findall(rf"^\| {re.escape(first)} \|.*\|$", out, re.MULTILINE)
    assert rows, f"no row {first!r} in:\n{out}"
    return [c.strip() for c in rows[0].strip("|").split("|")]


def test_quick_run_prints_every_table(tmp_path: Path) -> None:
    result = tmp_path / "bench.json"
    args = ["--quick", "--duration", "1", "--rate-duration", "1", "--big-mb", "1"]
    proc = _run(*args, "--connections", "4", "--json", str(result))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    out = proc.stdout

    # The exact command, ready to paste next to the table.
    assert "`python scripts/bench_proxy.py --quick --duration 1 --rate-duration 1" in out
    assert (
        "| page | tool | bare req/s | qinglang req/s | qinglang / bare (target ≥ 50%) "
        "| per pair of runs |" in out
    )
    pages = ["HTML 100 KB, no match", "HTML 100 KB, masked", "JSON API 30 KB, masked"]
    pages += ["JPEG 20 KB (not scanned)", "HTML 2 KB"]
    for enc in ("gzip", "br", "zstd"):
        pages += [f"HTML 100 KB, no match, {enc} upstream", f"HTML 100 KB, masked, {enc} upstream"]
    for page in pages:
        sat = _cells(out, page)  # the first row with this name: saturation
        assert float(sat[2].replace(",", "")) > 0 and float(sat[3].replace(",", "")) > 0
        assert sat[4].endswith("%")
        assert re.fullmatch(r"\d+–\d+%", sat[5])  # the lowest and highest pair of runs
    assert _cells(out, "HTML 100 KB, masked, HTTPS (CONNECT)")[1] == "curl"

    assert "### CPU at saturation" in out
    assert re.search(r"CPU pressure during the run: (\d+%|not available)", out)
    assert re.search(r"^\| 50 pages/s of 100 KB HTML, 1 in 5 masked", out, re.MULTILINE)
    assert "| worst small-page latency (ms) |" in out
    assert "| the 1 MB page (s) |" in out

    # What the client received: checked, not only printed.
    assert "### What the client received through qinglang" in out
    assert "(WRONG)" not in out
    data = json.loads(result.read_text(encoding="utf-8"))
    received = {r["path"]: r for r in data["received"]}
    assert received["/clean.html.br"]["identical"] is True
    assert received["/clean.html.br"]["encoding"] == "br"
    assert received["/match.html"]["status"] == 200
    assert received["/match.html"]["identical"] is False
    assert received["/match.html"]["terms_left"] == 0
    assert received["/photo.jpg"]["identical"] is True  # media: byte for byte
    assert received["/small.html"]["identical"] is True
    assert len(data["saturation"]) == 12
    for row in data["saturation"]:
        assert len(row["pair_ratios"]) == len(row["runs"]["bare"]) == len(row["runs"]["qinglang"])
    assert data["fixed_rate"]["median"]["qinglang"]["rps"] > 0


def test_bad_option_is_a_clear_error() -> None:
    proc = _run("--duration", "soon")
    assert proc.returncode == 2
    assert "--duration" in proc.stderr
    assert "Traceback" not in proc.stderr
