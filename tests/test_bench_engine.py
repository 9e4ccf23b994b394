"""scripts/bench_engine.py still runs end to end and prints its tables (a tiny smoke run).

Speed is never asserted here: only that the benchmark works, so it cannot silently rot.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bench_engine.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        check=False,
    )


def test_quick_run_prints_the_tables(tmp_path: Path) -> None:
    cache = tmp_path / "bench-cache"
    args = ["--quick", "--mb", "0.2", "--html-mb", "0.1", "--sizes", "100,1000"]
    proc = _run(*args, "--cache", str(cache))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Traceback" not in proc.stderr

    # The exact command, ready to paste next to the table.
    assert "`python scripts/bench_engine.py --quick --mb 0.2 --html-mb 0.1" in out
    assert "| terms | patterns | engine (MB/s) | bare (MB/s) | engine / bare |" in out
    assert "| terms | load_lists, cold / cached (s) |" in out
    for n in ("100", "1,000"):
        rows = re.findall(rf"^\| {n} \| .*\|$", out, re.MULTILINE)
        assert len(rows) == 2, f"no speed and build rows for {n} terms in:\n{out}"
        speed = [c.strip() for c in rows[0].strip("|").split("|")]
        engine, bare, ratio = speed[2], speed[3], speed[4]
        assert float(engine) > 0 and float(bare) > 0
        assert ratio.endswith("%")
        build = [c.strip() for c in rows[1].strip("|").split("|")]
        assert len(build) == 8
        assert re.fullmatch(r"[\d.]+ / [\d.]+", build[1])  # load_lists cold / cached

    # Variants at the largest size: PII on/off, documents, HTML pages.
    assert "| input (1,000 terms) |" in out
    assert "| text, one document, `pii: off` |" in out
    assert "| text, one document, `pii: mask` |" in out
    assert re.search(r"^\| text as \d+ documents of ~64 KB", out, re.MULTILINE)
    assert re.search(r"^\| HTML, \d+ pages \(kind `html`\)", out, re.MULTILINE)
    assert "PII detection (`pii: mask` against `pii: off`) costs" in out

    # The generated text is cached for the next run.
    assert list(cache.glob("text-*.txt")) and list(cache.glob("html-*.txt"))


def test_without_a_word_list_it_uses_pseudo_words_and_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-wordlist"
    args = ["--quick", "--mb", "0.1", "--html-mb", "0", "--sizes", "100"]
    proc = _run(*args, "--wordlist", str(missing), "--cache", str(tmp_path / "c"))
    assert proc.returncode == 0, proc.stderr
    assert f"English: {missing} missing, using generated pseudo-words" in proc.stdout
    assert re.search(r"^\| 100 \| ", proc.stdout, re.MULTILINE)


def test_bad_option_is_a_clear_error(tmp_path: Path) -> None:
    proc = _run("--sizes", "ten", "--cache", str(tmp_path))
    assert proc.returncode == 2
    assert "--sizes" in proc.stderr
    assert "Traceback" not in proc.stderr
