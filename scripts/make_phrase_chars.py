"""Print ``PHRASE_CHARS`` for ``addons/qinglang/engine/normalize.py``: the characters that
zhconv-rs's phrase-level traditional -> simplified conversion changes where the
character-by-character table the normaliser uses leaves them (覆 in 反覆 -> 反复).

The normaliser runs the phrase conversion only around these characters (a whole-page
conversion cost about a seventh of the engine's time). Derived from zhconv-rs itself:
every word of jieba's dictionary is converted to traditional Chinese phrase by phrase,
then back both ways; where the two ways differ, the character left by the table is one.

    python scripts/make_phrase_chars.py   # needs the test extra (jieba)
"""

from __future__ import annotations

import sys

import zhconv_rs

from qinglang.engine.normalize import normalize
from qinglang.listtools.benign import jieba_dict


def main() -> int:
    words = [
        line.split(" ", 1)[0]
        for line in jieba_dict().read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    sep = "\n"
    chars: set[str] = set()
    for variant in ("zh-hant", "zh-tw", "zh-hk"):
        trad = zhconv_rs.zhconv(sep.join(words), variant, False).split(sep)
        for t in trad:
            by_char = normalize(t, phrases=False).text
            by_phrase = zhconv_rs.zhconv(by_char, "zh-hans", False)
            if len(by_char) != len(by_phrase):
                continue
            for a, b in zip(by_char, by_phrase, strict=True):
                if a != b:
                    chars.add(a)
    print(f'PHRASE_CHARS = "{"".join(sorted(chars))}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
