"""The compiled evasion fold (``_evasion.fold_text``) returns exactly what the reference
(tests/fold_reference.py, the fold before it was made faster) returns: all ten values, for
any text, with every rule on or off and with repeats kept apart."""

from __future__ import annotations

import numpy as np
import pytest
from fold_reference import fold_text as reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qinglang.engine import _evasion
from qinglang.engine.evasion import LEET_DIGITS, LEET_SYMBOLS, NUMERALS_ZH, SKIP_CHARS, fold_table
from qinglang.engine.normalize import normalize

# The table variants lists can ask for (each rule off, all off) and the default.
OFFS = (
    frozenset(),
    frozenset({"leet"}),
    frozenset({"confusables"}),
    frozenset({"skips"}),
    frozenset({"numerals"}),
    frozenset({"leet", "confusables", "skips", "numerals"}),
)

_LATIN = "abcdefghijklmnopqrstuvwxyz"
_LOOK = "аеорсхуіѕοαεικνρτυ"  # Cyrillic and Greek letters confusable with Latin ones
_ACCENT = "éèüñçàẗƈɦøßæ"
_CJK = "我们的学校色情赌博傻冒反复" + "".join(NUMERALS_ZH)
_DIGITS = "0123456789" + "".join(LEET_DIGITS)
_SYMBOLS = "".join(LEET_SYMBOLS) + "!?.,-_'\"#%&*+/:;=~^"
_OTHER = SKIP_CHARS + "😀🎲♥☆\u2603\U0001f600\U00020000\U0010fffdЖжщλπ\u00a0 \n\t"

# Pieces of text as the fold sees them: words mixing letters, digits, symbols and
# look-alikes, runs of one character, CJK, emoji and skip characters, separators.
_char = st.sampled_from(_LATIN + _LOOK + _ACCENT + _CJK + _DIGITS + _SYMBOLS + _OTHER)
_word = st.text(st.sampled_from(_LATIN + _DIGITS + "$@!" + _LOOK[:6] + _ACCENT[:4]), max_size=12)
_run = st.builds(lambda c, k: c * k, _char, st.integers(1, 6))
_piece = st.one_of(
    _word,
    _run,
    st.text(_char, max_size=8),
    st.sampled_from([" ", "  ", "!", "@", "p0rn", "a$$", "h3ll0!", "2000", "$100", "h264"]),
    st.characters(max_codepoint=0x10FFFF, exclude_categories=("Cs",)),
)
texts = st.lists(_piece, max_size=20).map("".join)


def assert_same(text: str, off: frozenset[str], collapse: bool) -> None:
    table = fold_table(off)
    got = _evasion.fold_text(text, table, collapse)
    want = reference(text, table, collapse)
    assert len(got) == len(want) == 10
    assert got[0] == want[0] and got[1] == want[1], (text, off, collapse)
    for g, w in zip(got[2:], want[2:], strict=True):
        assert isinstance(g, np.ndarray) and g.dtype == w.dtype, (text, off, collapse)
        assert np.array_equal(g, w), (text, off, collapse)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, off=st.sampled_from(OFFS), collapse=st.booleans())
def test_fold_matches_reference(text: str, off: frozenset[str], collapse: bool) -> None:
    assert_same(text, off, collapse)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, off=st.sampled_from(OFFS))
def test_fold_of_normalised_text_matches_reference(text: str, off: frozenset[str]) -> None:
    # What the matcher folds: normalised text (noise dropped, word gaps as one space).
    assert_same(normalize(text).text, off, True)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a",
        "!",
        "!a!",
        "b!tch hello! !hi",
        "fuuuuuck sexx cook aaa",
        "p0rn a$$ 2000 4x4 h264 $100 deadbeef12 cafe12 l33t",
        "раypal рорn рaypal",  # Cyrillic next to Latin, and alone
        "傻@冒 赌🎲博 al[]l @@ @a a@",
        "下三滥 下3滥 三三三 一一",
        "\U00020000\U00020000x\U0010fffd",
        "ééé ẗẗest ƈat",
        "a\udc80b p0\udcffrn \udfff\udfff",  # lone surrogates (surrogateescape input)
        "x" * 200 + "0" + "y" * 200,  # a word longer than any small buffer
        "a1" * 150 + "!" + "$" * 80,
    ],
)
@pytest.mark.parametrize("off", OFFS)
@pytest.mark.parametrize("collapse", [True, False])
def test_fold_cases(text: str, off: frozenset[str], collapse: bool) -> None:
    assert_same(text, off, collapse)


def test_fold_long_mixed_text() -> None:
    # Long enough to cross any internal block size, with every kind of string storage.
    rng = np.random.default_rng(3)
    alphabet = _LATIN * 4 + _DIGITS + _SYMBOLS + _LOOK + _ACCENT + _CJK + _OTHER + " " * 20
    chars = list(alphabet)
    for tail in ("", "é", "我", "😀"):  # 1, 1, 2 and 4 byte storage
        text = "".join(rng.choice(chars, size=5000)) + tail
        for off in OFFS[:2] + OFFS[-1:]:
            assert_same(text, off, True)
