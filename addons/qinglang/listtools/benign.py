"""A benign corpus for false-positive checks: real English and Chinese text that nobody
wrote for qinglang, cut into pages.

- English: Debian's ``wamerican`` word list, one word a line (about 1 MB).
- Chinese: the dictionary shipped with the jieba segmenter (``jieba/dict.txt``, the
  word column: about 350,000 words, 2 MB of UTF-8), one word a line.

Used by tests/test_benign_corpus.py and scripts/benign_corpus.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PAGE_CHARS = 32 * 1024


def jieba_dict() -> Path:
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.origin:
        raise FileNotFoundError("the jieba package is not installed (pip install jieba)")
    return Path(spec.origin).parent / "dict.txt"


def _pages(lines: list[str], chars: int) -> list[str]:
    pages: list[str] = []
    cur: list[str] = []
    size = 0
    for line in lines:
        cur.append(line)
        size += len(line) + 1
        if size >= chars:
            pages.append("\n".join(cur))
            cur, size = [], 0
    if cur:
        pages.append("\n".join(cur))
    return pages


def benign_pages(words: Path, chars: int = PAGE_CHARS) -> list[tuple[str, str]]:
    """(lang, page) pairs: the English word list, then the Chinese dictionary."""
    en = words.read_text(encoding="utf-8", errors="replace").splitlines()
    zh = [
        line.split(" ", 1)[0]
        for line in jieba_dict().read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [("en", p) for p in _pages(en, chars)] + [("zh", p) for p in _pages(zh, chars)]
