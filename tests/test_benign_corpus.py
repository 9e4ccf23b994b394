"""No new false positives from the evasion rules (issue 21): real English and Chinese text
nobody wrote for qinglang, scanned with the shipped lists and the default child profile,
with every evasion rule on and with all of them off in the same run. No page may be
newly masked or blocked, and no page may gain a match.

The text: Debian's ``wamerican`` word list (/usr/share/dict/american-english, about
1 MB, installed in CI by .ci/run) and the dictionary of the jieba segmenter (its
``dict.txt``, about 5 MB of Chinese words), cut into pages of 32 KB. The result is in
docs/matching.md ("Evasions"); scripts/benign_corpus.py prints the same comparison.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from qinglang.engine.evasion import SWITCHES
from qinglang.engine.lists import load_lists
from qinglang.engine.scanner import Engine, ScanResult
from qinglang.listtools.benign import benign_pages
from qinglang.policy.config import Profile, shipped_lists

WORDS = Path("/usr/share/dict/american-english")


@cache
def engines() -> tuple[Engine, Engine]:
    ls = load_lists([shipped_lists()], use_cache=False)
    return Engine(ls), Engine(ls, frozenset(SWITCHES))


def outcome(r: ScanResult) -> tuple[str, list[tuple[int, int]]]:
    return r.action, sorted((m.start, m.end) for m in r.matches)


def test_corpus_is_large_enough() -> None:
    pages = benign_pages(WORDS)
    en = sum(len(p.encode()) for lang, p in pages if lang == "en")
    zh = sum(len(p.encode()) for lang, p in pages if lang == "zh")
    assert en >= 900_000 and zh >= 1_000_000, (en, zh)


def test_no_page_newly_masked_or_blocked() -> None:
    if not WORDS.is_file():
        pytest.fail(f"{WORDS} is missing: install Debian's wamerican (CI does)")
    on, off = engines()
    profile = Profile()
    worse: list[str] = []
    for i, (lang, page) in enumerate(benign_pages(WORDS)):
        a = outcome(off.scan(page, "text", profile))  # type: ignore[arg-type]
        r = on.scan(page, "text", profile)  # type: ignore[arg-type]
        b = outcome(r)
        new = sorted(set(b[1]) - set(a[1]))
        if new or (a[0] == "allow" and b[0] != "allow") or (a[0] != "block" and b[0] == "block"):
            found = [(m.term, m.text) for m in r.matches if (m.start, m.end) in new]
            worse.append(f"{lang} page {i}: {a[0]} -> {b[0]}, new matches {found[:10]}")
    assert worse == []
