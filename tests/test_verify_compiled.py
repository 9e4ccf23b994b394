"""The compiled hit checks (``engine/_verify.pyx``) against the numpy version they replaced
(``tests/verify_reference.py``): for text written the way evasions write it, around the
shipped lists' own terms and a list with every rule switched off, both accept the same
(hit, entry) pairs with the same spans."""

from __future__ import annotations

from functools import cache
from itertools import chain
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from verify_reference import accept as reference

import qinglang.engine._verify as _verify
from qinglang.engine._normtext import char_offsets
from qinglang.engine.evasion import LEET_DIGITS, LEET_SYMBOLS, SKIP_CHARS, fold
from qinglang.engine.lists import load_lists
from qinglang.engine.matcher import Matcher
from qinglang.engine.normalize import normalize, tables

ROOT = Path(__file__).resolve().parent.parent
PLAIN = """
category: plain
numerals: false
evasion: {leet: false, repeats: false, confusables: false, skips: false}
terms: [cok, pr0n, 三级片, all, 赌博]
"""
NUMERALS = """
category: vulgar
numerals: true
terms: [下三滥, 二逼]
"""


@cache
def matcher() -> tuple[Matcher, list[str]]:
    lists = load_lists([ROOT / "blocklists"])
    terms = [t.pattern.norm for t in lists.terms]
    return Matcher(lists), terms


@pytest.fixture(scope="module")
def small_matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    d = tmp_path_factory.mktemp("verify_lists")
    (d / "plain.yaml").write_text(PLAIN, encoding="utf-8")
    (d / "numerals.yaml").write_text(NUMERALS, encoding="utf-8")
    (d / "porn.yaml").write_text("category: porn\nterms: [fuck, ass, sex, book]\n", "utf-8")
    return Matcher(load_lists([d]))


_LEET = {v: k for k, v in (LEET_DIGITS | LEET_SYMBOLS).items()}
_LOOKS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "s": "ѕ"}


@st.composite
def evaded(draw: st.DrawFn, terms: list[str]) -> str:
    """A term written as evasions write it, with text around it."""
    word = draw(st.sampled_from(terms))
    out = []
    for ch in word:
        how = draw(st.sampled_from(["as is", "as is", "repeat", "leet", "look", "skip", "upper"]))
        if how == "repeat":
            out.append(ch * draw(st.integers(2, 4)))
        elif how == "leet" and ch in _LEET:
            out.append(_LEET[ch])
        elif how == "look" and ch in _LOOKS:
            out.append(_LOOKS[ch])
        elif how == "skip":
            out.append(ch + draw(st.sampled_from([*SKIP_CHARS, "🎲", "*", " "])))
        elif how == "upper":
            out.append(ch.upper())
        else:
            out.append(ch)
    around = st.text(alphabet="abcdefghijklmnopqrstuvwxyz 0123456789$@!.赌博三一二", max_size=8)
    return draw(around) + "".join(out) + draw(around)


def _both(m: Matcher, text: str) -> int:
    """Run both versions on ``text``'s hits; the number of pairs accepted."""
    norm = normalize(text)
    if not norm.text or m._ac is None:
        return 0
    f = fold(norm.text, m.off)
    raw = m._ac.find_matches_as_indexes(f.utf8, overlapping=True)
    if not raw:
        return 0
    arr = np.fromiter(chain.from_iterable(raw), dtype=np.int64, count=3 * len(raw))
    arr = arr.reshape(-1, 3)
    pid = np.ascontiguousarray(arr[:, 0])
    spans = arr[:, 1:].copy()
    if len(f.utf8) != f.length:
        char_offsets(f.utf8, spans.reshape(-1))
    fs, fe = np.ascontiguousarray(spans[:, 0]), np.ascontiguousarray(spans[:, 1])
    got = _verify.accept(
        pid, fs, fe, f.shift_at, f.shift, f.run_at, f.run_end, f.via_at, f.via, f.via_rep,
        f.skipped, m._ptr, m._u_off, m._u_rules, m._u_plain.view(np.uint8), m._u_norm_len,
        m._f_via, m._f_rep, m._f_cps, m._f_run, m._latin.view(np.uint8), m._u_mode,
        norm.pos, norm.cps, tables()[2].view(np.uint8),
    )  # fmt: skip
    want = reference(m, f, norm, pid, fs, fe)
    for g, w in zip(got, want, strict=True):
        assert g.tolist() == w.tolist(), text
    return len(got[0])


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_shipped_lists(data: st.DataObject) -> None:
    m, terms = matcher()
    _both(m, data.draw(evaded(terms)))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_rules_switched_off_per_list(data: st.DataObject, small_matcher: Matcher) -> None:
    m = small_matcher
    terms = ["cok", "pr0n", "三级片", "all", "赌博", "下三滥", "二逼", "fuck", "ass", "sex", "book"]
    _both(m, data.draw(evaded(terms)))


def test_the_comparison_sees_checked_pairs() -> None:
    """The texts above reach the character-by-character checks, not only plain hits."""
    m, _ = matcher()
    texts = ["fuuuuck you a$$hole", "p0rn pr0n", "ѕех", "赌赌博 赌🎲博 下3滥", "fFuck sexx cook"]
    assert sum(_both(m, t) for t in texts) >= 5


def test_bad_arrays_are_refused() -> None:
    m, _ = matcher()
    f = fold("porn")
    one = np.zeros(1, dtype=np.int64)
    args = (
        f.shift_at, f.shift, f.run_at, f.run_end, f.via_at, f.via, f.via_rep, f.skipped,
        m._ptr, m._u_off, m._u_rules, m._u_plain.view(np.uint8), m._u_norm_len,
        m._f_via, m._f_rep, m._f_cps, m._f_run, m._latin.view(np.uint8), m._u_mode,
        np.zeros(4, dtype=np.int64), np.zeros(4, dtype=np.uint32), tables()[2].view(np.uint8),
    )  # fmt: skip
    with pytest.raises(ValueError):  # an empty hit
        _verify.accept(one, one, one, *args)
    with pytest.raises(ValueError):  # a pattern that does not exist
        _verify.accept(one + 10**9, one, one + 1, *args)
    with pytest.raises(ValueError):  # longer than its pattern
        _verify.accept(one, one, one + 10**6, *args)
