"""Evasions, whole-word rules and exceptions, through the engine as a user sees it."""

from __future__ import annotations

import pytest

from qinglang.policy.config import Profile

LISTS = """
category: porn
weight: 10
terms:
  - porn
  - ass
  - meth
  - cunt
  - anal
  - sex
  - av
  - {term: kill yourself, weight: 60}
  - {term: xxx, match: prefix}
  - {term: fuck, match: substring}
  - 赌博
  - 色情
  - {term: 裸聊, weight: 40}
exceptions:
  - 禁止赌博
  - sex education
"""


def terms(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.term for m in result.matches]


@pytest.mark.parametrize(
    "text, term",
    [
        ("赌*博", "赌博"),
        ("賭 博", "赌博"),  # traditional, with a space
        ("賭博", "赌博"),
        ("赌\u200b博", "赌博"),  # zero-width space
        ("赌＿博", "赌博"),  # full-width underscore
        ("赌｜博", "赌博"),  # full-width bar
        ("p.o.r.n", "porn"),
        ("ＰＯＲＮ", "porn"),
        ("P O R N", "porn"),
        ("p-o-r-n", "porn"),
        ("po_rn", "porn"),
        ("p*o*r*n", "porn"),
        ("Porn", "porn"),
        ("kill yourself", "kill yourself"),
        ("KILL   YOURSELF", "kill yourself"),
        ("kill.yourself", "kill yourself"),
        ("killyourself", "kill yourself"),
        ("k i l l y o u r s e l f", "kill yourself"),
        ("xxxvideos", "xxx"),
        ("motherfucker", "fuck"),
        ("色 情", "色情"),
        ("裸-聊", "裸聊"),
    ],
)
def test_evasions_match(scan, text: str, term: str) -> None:
    r = scan(f"看 {text} 吧", lists=LISTS)
    assert term in terms(r), r.matches


@pytest.mark.parametrize(
    "text",
    [
        "an Al Jazeera reporter",  # spaces must not invent "anal"
        "classic",  # ass inside a word
        "the method works",  # meth inside a word
        "Scunthorpe United",  # cunt inside a word
        "Middlesex county",
        "I have a nice day",  # av
        "analysis of data",
        "a massive bass",
        "sextant and Essex",
        "fixxx",  # prefix term not at a word start
    ],
)
def test_whole_words_do_not_match_inside_words(scan, text: str) -> None:
    r = scan(text, lists=LISTS)
    assert r.matches == [], r.matches
    assert r.body == text


def test_word_terms_match_next_to_cjk_and_punctuation(scan) -> None:
    r = scan("看porn视频，(ass)!", lists=LISTS)
    assert terms(r) == ["porn", "ass"]


def test_exception_cancels_overlapping_terms(scan) -> None:
    r = scan("学校禁止赌博。", lists=LISTS)
    assert r.matches == []
    assert r.action == "allow"
    r = scan("学校禁止赌博，但是他还在赌博。", lists=LISTS)
    assert len(r.matches) == 1  # the second, not covered by the exception
    assert r.body == "学校禁止赌博，但是他还在**。"


def test_latin_exception_cancels_word(scan) -> None:
    r = scan("Sex education at school", lists=LISTS)
    assert r.matches == []
    r = scan("sex", lists=LISTS)
    assert terms(r) == ["sex"]


def test_masking_covers_noise_between_characters(scan) -> None:
    r = scan("abc 赌 * 博 def p.o.r.n!", lists=LISTS)
    assert r.action == "mask"
    assert r.body == "abc * * * def *******!"


def test_offsets_point_at_the_original_text(scan) -> None:
    doc = "前言 ＰＯＲＮ 和 賭*博"
    r = scan(doc, lists=LISTS)
    for m in r.matches:
        assert doc[m.start : m.end] == m.text
    assert [m.text for m in r.matches] == ["ＰＯＲＮ", "賭*博"]


@pytest.mark.parametrize("filler", ["é", "中", "😀", "a", "é中😀"])
def test_offsets_hold_after_characters_of_every_utf8_width(scan, filler: str) -> None:
    # The automaton reports byte offsets into UTF-8; 1- to 4-byte characters (and runs
    # longer than the 8-byte steps of the count) come before and between the hits.
    for k in (0, 1, 7, 8, 9, 23):
        pad = (filler + " ") * k
        doc = f"{pad}porn {pad}赌博 {pad}sex"
        r = scan(doc, lists=LISTS)
        assert [(m.text, doc[m.start : m.end]) for m in r.matches] == [
            ("porn", "porn"),
            ("赌博", "赌博"),
            ("sex", "sex"),
        ]
        assert r.body == f"{pad}**** {pad}** {pad}***"


def test_categories_outside_profile_are_ignored(scan) -> None:
    r = scan("porn", lists=LISTS, profile=Profile(categories=["gambling"]))
    assert r.matches == [] and r.action == "allow"


def test_single_letters_spaced_are_an_evasion_but_words_are_not(scan) -> None:
    assert terms(scan("s e x", lists=LISTS)) == ["sex"]
    assert terms(scan("ass es", lists=LISTS)) == ["ass"]
    assert scan("as sex", lists=LISTS).matches[0].text == "sex"
