"""`qinglang lists stats`: terms per category and language, weight distribution."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LISTS = Path(__file__).parent / "fixtures" / "labelled-lists"


def qinglang(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qinglang.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_table(tmp_path: Path) -> None:
    r = qinglang("lists", "stats", str(LISTS))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Keyword lists (3 files)"
    rows = {
        tuple(x.split()[:2]): x.split()[2:] for x in lines if x.startswith(("gambling", "vulgar"))
    }
    # terms, combinations, exceptions, min / median / max
    assert rows[("gambling", "en")] == ["4", "0", "2", "20", "/", "50", "/", "60"]
    assert rows[("gambling", "zh")] == ["4", "0", "2", "20", "/", "40", "/", "100"]
    assert rows[("vulgar", "en")] == ["1", "0", "0", "10", "/", "10", "/", "10"]
    assert any(x.split()[:2] == ["total", "9"] for x in lines)
    band = {
        x.split("  ")[0].strip(): x.split()[-2:] for x in lines if x.startswith(("10-29", ">= 100"))
    }
    assert band["10-29"][0] == "3"


def test_json_with_domains(tmp_path: Path) -> None:
    (tmp_path / "domains").mkdir()
    (tmp_path / "domains" / "porn.txt").write_text("a.example\nb.example\n@@ok.a.example\n")
    (tmp_path / "porn.yaml").write_text(
        "category: porn\nweight: 100\n"
        "terms: [x1, {term: x2, weight: -20}, {all: [y, z], weight: 40}]\n"
    )
    r = qinglang("lists", "stats", "--json", str(tmp_path))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["files"] == 1
    (row,) = doc["categories"]
    assert row["category"] == "porn" and row["lang"] == "-"
    assert (row["terms"], row["combinations"], row["exceptions"]) == (2, 1, 0)
    assert doc["weights"] == {"-20": 1, "40": 1, "100": 1}
    assert doc["weight_bands"]["< 0 (context)"] == 1
    assert doc["weight_bands"][">= 100 (blocks alone)"] == 1
    assert doc["domains"] == {"porn": {"domains": 2, "exceptions": 1}}


def test_bad_lists(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("category: Bad\n")
    r = qinglang("lists", "stats", str(tmp_path))
    assert r.returncode == 2
    assert str(tmp_path / "x.yaml") in r.stderr
