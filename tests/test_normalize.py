"""Normalisation keeps a map back to every original character."""

from __future__ import annotations

import pytest

from qinglang.normalize import normalize


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


def test_undecodable_bytes_survive() -> None:
    src = b"ab\xffcd".decode("utf-8", "surrogateescape")
    n = normalize(src)
    assert n.text.replace("\udcff", "") == "abcd"
    assert len(n.pos) == 5


def test_empty() -> None:
    assert normalize("").text == ""
