"""`qinglang scan` as users' scripts call it: JSON on stdout, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

LISTS = "category: porn\nweight: 40\nterms:\n  - 裸聊\n  - porn\n"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "qinglang.cli", "scan", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
    )


def lists_dir(tmp_path: Path) -> str:
    d = tmp_path / "lists"
    d.mkdir()
    (d / "p.yaml").write_text(LISTS, encoding="utf-8")
    return str(d)


def test_scan_prints_the_design_json(tmp_path: Path) -> None:
    doc = tmp_path / "page.txt"
    doc.write_text("你好 裸 聊 porn\n", encoding="utf-8")
    p = run("--lists", lists_dir(tmp_path), str(doc))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert set(out) >= {"action", "score", "categories", "matches", "pii", "body"}
    assert out["action"] == "mask" and out["score"] == 80
    assert out["categories"] == {"porn": 80}
    m = out["matches"][0]
    assert m == {
        "term": "裸聊",
        "category": "porn",
        "weight": 40,
        "start": 3,
        "end": 6,
        "text": "裸 聊",
    }
    assert out["body"] == "你好 * * ****\n"


def test_scan_stdin_html_and_block_page(tmp_path: Path) -> None:
    page = "<html><body><p>裸聊 porn 裸聊</p></body></html>".encode()
    p = run("--lists", lists_dir(tmp_path), "--content-type", "text/html", "-", stdin=page * 1)
    out = json.loads(p.stdout)
    assert out["action"] == "mask"
    lists = tmp_path / "lists" / "p.yaml"
    lists.write_text(LISTS.replace("weight: 40", "weight: 60"), encoding="utf-8")
    p = run("--lists", str(lists.parent), "--content-type", "text/html", "-", stdin=page)
    out = json.loads(p.stdout)
    assert out["action"] == "block" and out["reason"] == "keywords"
    assert "blocked" in out["body"] and "porn" in out["body"]  # the block page, category named


def test_scan_gbk_file_is_sniffed(tmp_path: Path) -> None:
    doc = tmp_path / "gbk.html"
    doc.write_bytes(
        "<html><head><meta charset=gbk></head><body>这是裸聊网站</body></html>".encode("gbk")
    )
    out = json.loads(run("--lists", lists_dir(tmp_path), str(doc)).stdout)
    assert out["matches"][0]["text"] == "裸聊"


def test_invalid_utf8_is_a_safe_result(tmp_path: Path) -> None:
    p = run("--lists", lists_dir(tmp_path), "-", stdin=b"porn \xff\xfe\xfa ok")
    assert p.returncode == 0
    out = json.loads(p.stdout)
    assert out["matches"][0]["term"] == "porn"


def test_bad_config_and_bad_input_exit_non_zero_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "q.yaml"
    cfg.write_text("profiles:\n  child:\n    block_threshold: lots\n", encoding="utf-8")
    p = run("--config", str(cfg), "-", stdin=b"x")
    assert p.returncode != 0 and p.stdout == b""
    err = p.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "q.yaml:3" in err and "block_threshold" in err

    p = run("--lists", lists_dir(tmp_path), str(tmp_path / "missing.html"))
    assert p.returncode != 0 and "cannot read" in p.stderr.decode()
    assert "Traceback" not in p.stderr.decode()

    bad = tmp_path / "badlists"
    bad.mkdir()
    (bad / "x.yaml").write_text("category: x\nterms:\n  - [oops\n", encoding="utf-8")
    p = run("--lists", str(bad), "-", stdin=b"x")
    assert p.returncode != 0 and "x.yaml:" in p.stderr.decode()
    assert "Traceback" not in p.stderr.decode()


def test_unknown_profile(tmp_path: Path) -> None:
    p = run("--lists", lists_dir(tmp_path), "--profile", "nobody", "-", stdin=b"x")
    assert p.returncode != 0 and "nobody" in p.stderr.decode()


def test_adult_profile_passes_untouched(tmp_path: Path) -> None:
    cfg = tmp_path / "q.yaml"
    cfg.write_text(
        f"lists: [{lists_dir(tmp_path)}]\nprofiles:\n  child: {{}}\n  adult: {{filter: false}}\n",
        encoding="utf-8",
    )
    out = json.loads(run("--config", str(cfg), "--profile", "adult", "-", stdin=b"porn").stdout)
    assert out["action"] == "allow" and out["body"] == "porn"


def test_invalid_bytes_neither_fail_the_scan_nor_hide_a_word(tmp_path: Path) -> None:
    # A byte invalid in the page's charset shows as "?" inside the word on screen.
    page = "<p>裸\udcff聊 ok \udcfe</p>".encode("utf-8", "surrogateescape")
    p = run("--lists", lists_dir(tmp_path), "--content-type", "text/html; charset=utf-8", "-",
            stdin=page)  # fmt: skip
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["action"] == "mask" and out["categories"] == {"porn": 40}
    assert [m["term"] for m in out["matches"]] == ["裸聊"]
