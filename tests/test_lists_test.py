"""`qinglang lists test`: a labelled corpus, precision and recall, the wrong documents."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

FIX = Path(__file__).parent / "fixtures"
CORPUS = FIX / "labelled"
LISTS = FIX / "labelled-lists"


def qinglang(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qinglang.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_action_folders_all_right() -> None:
    r = qinglang("lists", "test", str(CORPUS), "--lists", str(LISTS))
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in r.stdout.splitlines()[2:4]}
    # action, category -> labelled, got it, recall, flagged, right, precision
    assert rows[("block", "gambling")] == ["2", "2", "100%", "2", "2", "100%"]
    assert rows[("mask", "vulgar")] == ["1", "1", "100%", "1", "1", "100%"]
    assert "6 of 6 documents right, 0 wrong" in r.stdout


def test_manifest_gives_the_same_result() -> None:
    r = qinglang("lists", "test", str(FIX / "labelled-manifest.yaml"), "--lists", str(LISTS),
                 "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["right"] == 6 and doc["wrong"] == 0
    by_path = {d["path"]: d for d in doc["documents"]}
    ad = by_path["labelled/block/gambling/casino_ad_en.html"]
    assert ad["action"] == "block" and ad["top_category"] == "gambling"
    assert set(ad["decided_by"]) == {"online casino", "free spins", "deposit bonus"}
    assert by_path["labelled/mask/vulgar_comment_en.json"]["action"] == "mask"


def test_wrong_documents_are_named_with_the_terms_that_decided(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    # A news report labelled harmless that the lists do block, and harm they miss.
    (corpus / "allow" / "gambling_report_en.txt").write_text(
        "Report: an online casino offered free spins to children.", encoding="utf-8"
    )
    (corpus / "block" / "gambling_missed_en.txt").write_text(
        "Bet on tonight's match, odds boosted!", encoding="utf-8"
    )
    # Masking a word on a page labelled allow is acceptable: it is not blocked.
    (corpus / "allow" / "gambling_word_en.txt").write_text(
        "Our class talked about gambling.", encoding="utf-8"
    )
    r = qinglang("lists", "test", str(corpus), "--lists", str(LISTS))
    assert r.returncode == 1
    out = r.stdout
    assert "gambling_word_en.txt" not in out
    assert (
        "allow/gambling_report_en.txt: expected allow, got block; score 100 (gambling 100); "
        "decided by: free spins, online casino" in out
    )
    assert "block/gambling_missed_en.txt: expected block, got allow" in out
    assert "no terms" in out
    assert "7 of 9 documents right, 2 wrong" in out
    # Recall of gambling blocks drops to 2 of 3, precision to 2 of 3.
    line = next(x for x in out.splitlines() if x.startswith("block") and "gambling" in x)
    assert line.split()[2:] == ["3", "2", "67%", "3", "2", "67%"]


def test_profile_that_does_not_filter_fails_every_block(tmp_path: Path) -> None:
    cfg = tmp_path / "qinglang.yaml"
    cfg.write_text(
        f"lists: [{LISTS}]\nprofiles:\n  child: {{}}\n  adult: {{filter: false}}\n"
        "default_profile: child\n",
        encoding="utf-8",
    )
    r = qinglang("lists", "test", str(CORPUS), "--config", str(cfg), "--profile", "adult")
    assert r.returncode == 1
    assert "3 of 6 documents right" in r.stdout


def test_not_a_corpus(tmp_path: Path) -> None:
    r = qinglang("lists", "test", str(tmp_path), "--lists", str(LISTS))
    assert r.returncode == 2
    assert "no block/, allow/ or mask/ folder" in r.stderr
    bad = tmp_path / "manifest.yaml"
    bad.write_text("- {path: nowhere.txt, expect: block}\n", encoding="utf-8")
    r = qinglang("lists", "test", str(bad), "--lists", str(LISTS))
    assert r.returncode == 2
    assert f"{bad}:1: no such document: nowhere.txt" in r.stderr
    bad.write_text("- {path: x.txt, expect: blocked}\n", encoding="utf-8")
    r = qinglang("lists", "test", str(bad), "--lists", str(LISTS))
    assert r.returncode == 2 and f"{bad}:1:" in r.stderr and "expect" in r.stderr
