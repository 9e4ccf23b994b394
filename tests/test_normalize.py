"""Normalisation keeps a map back to every original character."""

from __future__ import annotations

import random

import numpy as np
import pytest

from qinglang.engine._normtext import char_offsets
from qinglang.engine.normalize import normalize


@pytest.mark.parametrize(
    "src, norm",
    [
        ("ＰＯＲＮ", "porn"),
        ("PoRn", "porn"),
        ("賭博", "赌博"),
        ("頭髮", "头发"),
        ("①②③⑴⒈❶➊", "1231111"),
        ("ⓐⒶ⒜", "aaa"),
        ("𝐀𝐁𝐂", "abc"),  # mathematical bold letters
        ("赌\u200b博\u200d", "赌博"),
        ("赌\u3000博", "赌博"),  # ideographic space
        ("a-b_c*d|e~f·g", "abcdefg"),
        ("ｐ．ｏ．ｒ．ｎ", "porn"),  # full-width noise
        ("Ａｌ\tＪａｚ", "al jaz"),  # a real word gap stays one space
        ("an  Al.Jazeera", "an al jazeera"),
        ("p o r n", "porn"),  # single letters are joined
        ("p.o.r.n", "porn"),
    ],
)
def test_forms_normalise(src: str, norm: str) -> None:
    assert normalize(src).text == norm


def test_positions_map_back_to_the_source() -> None:
    src = "xy ＰＯ*Ｒ\u200bＮ 賭 博!"
    n = normalize(src)
    assert n.text == "xy porn赌博!"
    assert [src[i] for i in n.pos] == ["x", "y", " ", "Ｐ", "Ｏ", "Ｒ", "Ｎ", "賭", "博", "!"]


def test_punctuation_that_separates_clauses_is_kept() -> None:
    # A comma between two clauses must not glue words together (出色，情况 is not 色情).
    assert "色情" not in normalize("出色，情况").text


def test_undecodable_bytes_are_noise_inside_a_word() -> None:
    # On screen an invalid byte is a "?" inside the word; the word must still match.
    src = b"ab\xffcd \xe8\xb5\x8c\xff\xe5\x8d\x9a".decode("utf-8", "surrogateescape")
    n = normalize(src)
    assert n.text == "abcd赌博"
    assert n.pos.tolist() == [0, 1, 3, 4, 6, 8]
    assert len(n.cps) == len(src)


def test_empty() -> None:
    assert normalize("").text == ""


@pytest.mark.parametrize(
    "src, norm",
    [
        ("a b cd", "ab cd"),  # single letters join; a longer word keeps its gap
        ("cd a b", "cd ab"),
        ("ab. c", "ab c"),  # one side longer than a letter is enough
        ("a*b cd", "ab cd"),  # "*" joins without making a word gap
        ("p o\x1er n", "po\x1ern"),  # a boundary is kept, never noise
        ("  . \u200b", ""),  # all noise
        ("赌 博 ab cd", "赌博ab cd"),
        ("１２ ３４", "12 34"),  # full-width digits are words too
    ],
)
def test_word_gaps(src: str, norm: str) -> None:
    assert normalize(src).text == norm


def test_a_kept_word_gap_maps_to_its_first_noise_character() -> None:
    src = "an \u200b. Al"
    n = normalize(src)
    assert n.text == "an al"
    assert n.pos.tolist() == [0, 1, 2, 6, 7]


def test_lone_surrogates_and_astral_characters_keep_their_place() -> None:
    # Decoded pages carry undecodable bytes as lone surrogates; CJK extension B is astral.
    src = "ab\udc80 cd \U00020000 賭"
    n = normalize(src)
    assert n.text == "ab cd\U00020000赌"  # the surrogate is noise, the word gap stays
    assert [src[i] for i in n.pos] == list("ab\udc80cd\U00020000賭")
    assert n.cps.tolist() == [ord(c) for c in src]
    assert n.cps.dtype.name == "uint32"


def test_byte_offsets_become_character_offsets() -> None:
    # The matcher's map from the automaton's UTF-8 byte offsets back to characters.
    rng = random.Random(7)
    for _ in range(500):
        text = "".join(rng.choice("aé中😀 \u0800") for _ in range(rng.randint(0, 70)))
        data = text.encode()
        starts = [i for i in range(len(data) + 1) if i == len(data) or data[i] & 0xC0 != 0x80]
        offsets = np.array(rng.choices(starts, k=rng.randint(0, 12)), dtype=np.int64)
        expected = [len(data[:o].decode()) for o in offsets.tolist()]
        char_offsets(data, offsets)
        assert offsets.tolist() == expected
    with pytest.raises(ValueError, match="outside the text"):
        char_offsets(b"abc", np.array([4], dtype=np.int64))
