"""The engine's compiled passes against slow pure-Python references, on generated text.

The fold records only the characters that are not one plain character each (runs,
shifts, folded characters); the normalisation pass finds the phrase characters itself;
the matcher skips the per-character check of hits too short to pass it. Each of these
is compared here with the straightforward version it replaced, so that a faster pass
never changes what is matched or masked.
"""

from __future__ import annotations

import re
from functools import cache
from itertools import pairwise

import numpy as np
import zhconv_rs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qinglang.engine import evasion as ev
from qinglang.engine.lists import load_lists
from qinglang.engine.normalize import PHRASE_CHARS, _phrases, normalize, phrase_windows
from qinglang.engine.scanner import Engine
from qinglang.policy.config import Profile

# Letters, leet digits and symbols, look-alikes, accented and other letters, skip
# characters, Chinese numerals, phrase characters, noise and word gaps.
_ALPHABET = "porniuckasxe 0134579$@!рοеí ŋ【】♥🎲赌博三下滥二覆反著作.-*\u200b\u202e\u202c"
_FOLD_ALPHABET = _ALPHABET + "ffooss00$$"  # more runs


def _reference_fold(
    text: str, off: frozenset[str] = frozenset()
) -> tuple[str, list[int], list[int], list[int], list[int], list[int]]:
    """(folded, start, end, via, rep, skipped): the fold's rules (evasion.py), one
    character at a time."""
    table = ev.fold_table(off)
    collapse = "repeats" not in off
    bits = [int(table[ord(c)]) for c in text]
    target = [b & 0x1FFFFF for b in bits]
    token = ev._ASCII | ev._DIGIT | ev._LEETD | ev._LEETS | ev._CONF | ev._LATX | ev._LETTER
    letter = ev._ASCII | ev._CONF | ev._LATX | ev._LETTER
    latin = ev._ASCII | ev._LATX | ev._CONF
    chars: list[tuple[int, int, int]] = []  # (folded code point, via, source index)
    skipped: list[int] = []
    i, n = 0, len(text)
    while i < n:
        if not bits[i] & token:
            if bits[i] & ev._SKIP:
                skipped.append(i)
            elif bits[i] & ev._NUM:
                chars.append((target[i], ev.NUMERALS, i))
            else:
                chars.append((ord(text[i]), 0, i))
            i += 1
            continue
        j = i
        while j < n and bits[j] & token:
            j += 1
        word = bits[i:j]
        alpha = sum(1 for b in word if b & letter)
        digits = sum(1 for b in word if b & ev._DIGIT)
        leet = sum(1 for b in word if b & (ev._LEETD | ev._LEETS))
        hexonly = all(b & ev._HEX for b in word if b & letter)
        leet_ok = leet > 0 and (
            (alpha >= 2 and digits <= alpha and not (hexonly and digits > 0 and j - i >= 6))
            or (alpha == 1 and digits == 0 and bool(word[0] & letter) and j - i >= 3)
        )
        ascii_n = sum(1 for b in word if b & (ev._ASCII | ev._LATX))
        conf_ok = any(b & ev._CONF for b in word) and ascii_n > 0
        splitter = alpha == 0 and digits == 0 and not any(b & ev._LEETD for b in word)
        for k in range(i, j):
            b = bits[k]
            bang_edge = text[k] == "!" and (
                k + 1 >= j or k == i or not bits[k - 1] & latin or not bits[k + 1] & latin
            )
            if b & (ev._LEETD | ev._LEETS) and leet_ok and not bang_edge:
                chars.append((target[k], ev.LEET, k))
            elif (b & ev._CONF and conf_ok) or b & ev._LATX:
                chars.append((target[k], ev.CONFUSABLES, k))
            elif b & ev._SKIP and splitter:
                skipped.append(k)
            else:
                chars.append((ord(text[k]), 0, k))
        i = j
    out: list[list[int]] = []  # [code point, via, start, end]
    for c, via, k in chars:
        if collapse and out and out[-1][0] == c:
            out[-1][1] |= via
            out[-1][3] = k
        else:
            out.append([c, via, k, k])
    folded = "".join(chr(c) for c, _, _, _ in out)
    return (
        folded,
        [a for _, _, a, _ in out],
        [b for _, _, _, b in out],
        [v for _, v, _, _ in out],
        [ord(text[a]) for _, _, a, _ in out],
        skipped,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(alphabet=_FOLD_ALPHABET, max_size=60),
    off=st.sets(st.sampled_from(["leet", "repeats", "confusables", "skips", "numerals"])),
)
def test_fold_matches_reference(text: str, off: set[str]) -> None:
    norm = normalize(text).text
    got = ev.fold(norm, frozenset(off))
    arr = got.arrays()
    folded, start, end, via, rep, skipped = _reference_fold(norm, frozenset(off))
    assert got.text == folded
    assert got.length == len(folded)
    assert arr.start.tolist() == start
    assert arr.end.tolist() == end
    assert arr.via.tolist() == via
    assert arr.rep.tolist() == rep
    assert got.skipped.tolist() == skipped
    assert got.via_at.tolist() == [k for k, v in enumerate(via) if v]


_PHRASE_AT = re.compile(f"[{PHRASE_CHARS}]")


def _reference_phrases(text: str) -> str:
    """Phrase conversion window by window, found by a regular expression."""
    pieces: list[str] = []
    done, n, reach = 0, len(text), 8
    for m in _PHRASE_AT.finditer(text):
        if m.start() < done:
            continue
        a, b = max(done, m.start() - reach), min(n, m.end() + reach)
        while (nxt := _PHRASE_AT.search(text, b, min(n, b + reach))) is not None:
            b = min(n, nxt.end() + reach)
        window = text[a:b]
        conv = zhconv_rs.zhconv(window, "zh-hans", False)
        pieces += [text[done:a], conv if len(conv) == len(window) else window]
        done = b
    return "".join(pieces) + text[done:] if pieces else text


# Phrases whose conversion depends on the characters around 覆, 著, 沈 ….
_PHRASE_PIECES = [
    "反反覆覆",
    "覆蓋",
    "著作",
    "顯著",
    "沈默",
    "昇華",
    "藉口",
    "了",
    "的",
    " ",
    ".",
    "a",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(
        st.one_of(st.sampled_from(_PHRASE_PIECES), st.text(alphabet=_ALPHABET, max_size=6)),
        max_size=12,
    )
)
def test_phrases_match_reference(pieces: list[str]) -> None:
    source = "".join(pieces)
    from qinglang.engine import _normtext
    from qinglang.engine.normalize import _packed_table

    text, _, _, at = _normtext.normalize_text(source, _packed_table())
    assert at == [m.start() for m in _PHRASE_AT.finditer(text)]
    assert (_phrases(text, at) if at else text) == _reference_phrases(text)
    windows = phrase_windows(len(text), at)
    assert all(a < b for a, b in windows)
    assert all(b1 <= a2 for (_, b1), (a2, _) in pairwise(windows))


def test_phrase_conversion_still_applies() -> None:
    assert normalize("他反反覆覆地說").text == "他反反复复地说"


_LISTS = """
category: porn
terms: [porn, fuck, ass, all, book, sex, 赌博, 下三滥, a$$, hand job, cok]
exceptions: [pen is]
"""


@cache
def _engine(folder: str) -> Engine:
    return Engine(load_lists([folder], use_cache=False))  # type: ignore[list-item]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=_FOLD_ALPHABET + "lbh j", max_size=50))
def test_short_hits_skipped_only_where_the_check_rejects_them(text: str) -> None:
    """The matcher skips the check of hits shorter than their pattern's runs: with
    the skip switched off (every such hit checked), the result is the same."""
    folder = _lists_folder()
    eng = _engine(folder)
    profile = Profile(block_threshold=10**6)
    fast = eng.scan(text, "text", profile)  # type: ignore[arg-type]
    m = eng.matcher
    saved = m._u_norm_len
    try:
        m._u_norm_len = np.zeros_like(saved)
        slow = eng.scan(text, "text", profile)  # type: ignore[arg-type]
    finally:
        m._u_norm_len = saved
    assert [(x.term, x.start, x.end) for x in fast.matches] == [
        (x.term, x.start, x.end) for x in slow.matches
    ]
    assert fast.body == slow.body


@cache
def _lists_folder() -> str:
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="qinglang-passes-"))
    (folder / "a.yaml").write_text(_LISTS, encoding="utf-8")
    (folder / "b.yaml").write_text(
        "category: vulgar\nnumerals: true\nterms: [下三滥, 二逼]\n", encoding="utf-8"
    )
    return str(folder)


def test_check_skip_keeps_stretched_and_masked_forms() -> None:
    """Hits that the skip must keep: stretched, leet and doubled forms, masked whole."""
    eng = _engine(_lists_folder())
    profile = Profile(block_threshold=10**6)
    r = eng.scan("fuuuuckkk p0rn, a$$, sexx alll; also cook", "text", profile)  # type: ignore[arg-type]
    assert r.body == "********* ****, ***, **** ****; also cook"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(alphabet=_FOLD_ALPHABET, min_size=1, max_size=60),
    data=st.data(),
)
def test_hit_spans_match_searches(text: str, data: st.DataObject) -> None:
    """The compiled span look-up (one pass, each search from the last one) gives what
    the separate numpy searches give, for spans in any order."""
    f = ev.fold(normalize(text).text)
    if f.length == 0:
        return
    pairs = data.draw(
        st.lists(
            st.tuples(st.integers(0, f.length - 1), st.integers(1, f.length)).map(
                lambda p: (min(p[0], p[1] - 1), max(p[1], p[0] + 1))
            ),
            max_size=30,
        )
    )
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    start, end, folded = f.spans(a, b)
    last = b - 1
    assert start.tolist() == f.start_of(a).tolist()
    assert end.tolist() == (f.end_of(last, f.start_of(last)) + 1).tolist()
    assert folded.tolist() == f.folded_in(a, b).tolist()


@settings(max_examples=150, deadline=None)
@given(
    marks=st.lists(st.integers(1, 2000), max_size=400, unique=True),
    queries=st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 40)), max_size=60),
    sort=st.booleans(),
)
def test_hit_spans_on_long_tables(
    marks: list[int], queries: list[tuple[int, int]], sort: bool
) -> None:
    """Long shift, run and fold tables, spans near together or far apart: the searches
    from a hint walk back and forth correctly."""
    at = np.array(sorted(marks), dtype=np.int32)
    shift_at = np.concatenate(([0], at)).astype(np.int32)
    f = ev.Folded(
        b"",
        2100,
        shift_at,
        np.arange(len(shift_at), dtype=np.int32) * 2,
        at[::2].copy(),
        at[::2] * 2 + 5,
        at[1::3].copy(),
        np.ones(len(at[1::3]), dtype=np.uint8),
        np.zeros(len(at[1::3]), dtype=np.uint32),
        np.zeros(0, dtype=np.int64),
    )
    if sort:
        queries = sorted(queries, key=lambda q: q[0] + q[1])
    a = np.array([q[0] for q in queries], dtype=np.int64)
    b = a + np.array([q[1] for q in queries], dtype=np.int64)
    start, end, folded = f.spans(a, b)
    last = b - 1
    assert start.tolist() == f.start_of(a).tolist()
    assert end.tolist() == (f.end_of(last, f.start_of(last)) + 1).tolist()
    assert folded.tolist() == f.folded_in(a, b).tolist()
