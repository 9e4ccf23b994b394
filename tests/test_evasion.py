"""Evasion families (issue 21): each written the way a child or a spammer writes it, and
the real words and numbers each rule must leave alone. Through the engine, with masks."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qinglang.engine.lists import load_lists
from qinglang.engine.scanner import Engine, ScanResult
from qinglang.policy.config import Profile

LISTS = """
category: porn
terms:
  - porn
  - fuck
  - ass
  - book
  - sex
  - penis
  - shit
  - whore
  - hand job
  - all
  - anus
  - 傻冒
  - 赌博
  - 反反复复
  - 色情
exceptions:
  - pen is
  - an us
"""

NUMERALS = """
category: vulgar
numerals: true
terms:
  - 下三滥
  - 二逼
"""

PLAIN = """
category: plain
numerals: false
evasion: {leet: false, repeats: false, confusables: false, skips: false}
terms:
  - cok
  - pr0n
  - 三级片
"""


@pytest.fixture
def engine(write_list: Callable[[str, str], object]) -> Engine:
    write_list("a.yaml", LISTS)
    write_list("b.yaml", NUMERALS)
    folder = write_list("c.yaml", PLAIN)
    return Engine(load_lists([folder], use_cache=False))  # type: ignore[list-item]


def run(engine: Engine, text: str) -> ScanResult:
    return engine.scan(text, "text", Profile(block_threshold=1000))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text, term, body",
    [
        # repeated letters, masked whole
        ("oh fuuuuuuckkk!", "fuck", "oh ***********!"),
        ("sexx", "sex", "****"),
        ("fFuck", "fuck", "*****"),
        ("ⒻⒻⒻfⓤuⓤ⒰cⓒ⒦", "fuck", "*" * 11),
        ("asssss", "ass", "******"),
        ("赌赌博", "赌博", "赌**"),  # not a letter: the extra 赌 is not part of it
        # leet, masked as written
        ("p0rn site", "porn", "**** site"),
        ("a$$", "ass", "***"),
        ("pen1s", "penis", "*****"),
        ("sh1t", "shit", "****"),
        ("sh!t", "shit", "****"),
        ("wh0re", "whore", "*****"),
        ("H4nd j0b", "hand job", "**** ***"),
        # look-alikes: Cyrillic р, Greek ο, accents, Latin letters with hooks
        ("рorn", "porn", "****"),
        ("pοrn", "porn", "****"),
        ("fréé pörn", "porn", "fréé ****"),
        ("ƒuƈk", "fuck", "****"),
        # skip characters and emoji
        ("傻@冒", "傻冒", "***"),
        ("al[]l", "all", "*****"),
        ("【赌】博", "赌博", "【***"),
        ("赌🎲博", "赌博", "***"),
        ("色♥情", "色情", "***"),
        # invisible characters (issue 20 item 9): bidi marks, tags, selectors, fillers
        ("por\u200fn", "porn", "*****"),
        ("p\U000e0041orn", "porn", "*****"),
        ("po\ufe0frn", "porn", "*****"),
        ("fu\u3164ck", "fuck", "*****"),
        # a word reversed on screen by a right-to-left override is read as shown
        ("x \u202enrop\u202c y", "porn", "x \u202e****\u202c y"),
        # phrase-level traditional -> simplified (覆 alone is not 复)
        ("反反覆覆", "反反复复", "****"),
        # numerals, for a list that asks for them
        ("下3滥", "下三滥", "***"),
        ("2逼", "二逼", "**"),
        # exceptions still cancel what they say
        ("penis", "penis", "*****"),
        ("anus", "anus", "****"),
    ],
)
def test_evasion_found(engine: Engine, text: str, term: str, body: str) -> None:
    r = run(engine, text)
    assert term in [m.term for m in r.matches], r.matches
    assert r.body == body


@pytest.mark.parametrize(
    "text",
    [
        # repeats never shorten a term's own letters; one doubled letter is a word
        "as",
        "bok",
        "cook",  # against `cok` (and that list allows no repeats anyway)
        "cooook",  # `cok`'s list switched repeats off
        "bookkeeper",
        "classic",
        "Essex",
        # leet only inside a word mixing letters with digits or symbols
        "2000",
        "4x4",
        "h264",
        "$100",
        "deadbeef00",
        "v1.2.3",
        "hello!",
        "x86 b4 5s",  # one letter with digits is a number or a code
        # exceptions cancel what they say, written as they are
        "pen is",
        "an us",
        # look-alikes only inside words that mix scripts: Russian stays Russian
        "рот рано",
        # a list that switched every rule off matches only as written
        "pron",
        "3级片",  # numerals: false
        "pr[]0n",
        # bidi override reversing nothing harmful
        "\u202eniboj\u202c",
    ],
)
def test_evasion_guard(engine: Engine, text: str) -> None:
    r = run(engine, text)
    assert r.matches == [], (text, r.matches)
    assert r.body == text


def test_exceptions_cancel_only_what_they_say(engine: Engine) -> None:
    r = run(engine, "the pen is red, the penis is not")
    assert [m.text for m in r.matches] == ["penis"]
    assert r.body == "the pen is red, the ***** is not"


def test_plain_list_matches_exact_forms(engine: Engine) -> None:
    assert [m.term for m in run(engine, "pr0n").matches] == ["pr0n"]
    assert [m.term for m in run(engine, "cok").matches] == ["cok"]
    assert [m.term for m in run(engine, "三级片").matches] == ["三级片"]


def test_rules_switched_off_per_list(write_list: Callable[[str, str], object]) -> None:
    folder = write_list(
        "x.yaml",
        """
        category: porn
        evasion: {leet: false}
        terms: [porn]
        """,
    )
    eng = Engine(load_lists([folder], use_cache=False))  # type: ignore[list-item]
    assert run(eng, "p0rn").matches == []
    assert [m.term for m in run(eng, "pooorn").matches] == ["porn"]


def test_evasion_setting_validated(write_list: Callable[[str, str], object]) -> None:
    from qinglang.engine.yamlloc import SourceError

    folder = write_list("x.yaml", "category: porn\nevasion: {leeet: false}\nterms: [porn]\n")
    with pytest.raises(SourceError, match=r"x\.yaml:2.*leeet"):
        load_lists([folder], use_cache=False)  # type: ignore[list-item]
    folder = write_list("x.yaml", "category: porn\nnumerals: maybe\nterms: [porn]\n")
    with pytest.raises(SourceError, match=r"x\.yaml:2"):
        load_lists([folder], use_cache=False)  # type: ignore[list-item]


def test_leet_written_term_is_a_whole_word(write_list: Callable[[str, str], object]) -> None:
    folder = write_list("x.yaml", "category: porn\nterms: [a$$, pr0n]\n")
    eng = Engine(load_lists([folder], use_cache=False))  # type: ignore[list-item]
    assert run(eng, "a classic class").matches == []
    assert [m.text for m in run(eng, "what an ass, a$$").matches] == ["ass", "a$$"]
    assert [m.text for m in run(eng, "pr0n or pron").matches] == ["pr0n", "pron"]


@pytest.mark.parametrize(
    "rule, text",
    [
        ("leet", "p0rn"),
        ("repeats", "fuuuuck"),
        ("confusables", "рorn"),
        ("skips", "傻@冒"),
        ("numerals", "下3滥"),
        ("phrases", "反反覆覆"),
        ("fold", "p0rn"),
    ],
)
def test_engine_switch_turns_one_rule_off(
    write_list: Callable[[str, str], object], rule: str, text: str
) -> None:
    write_list("a.yaml", LISTS)
    folder = write_list("b.yaml", NUMERALS)
    ls = load_lists([folder], use_cache=False)  # type: ignore[list-item]
    assert run(Engine(ls), text).matches != []
    assert run(Engine(ls, frozenset({rule})), text).matches == []


def test_personal_data_inside_a_bidi_override_is_still_masked(engine: Engine) -> None:
    # The detectors read numbers in the order they are written, as before overrides
    # were read as displayed.
    text = "call \u202e138 1234 5678\u202c now"
    r = engine.scan(text, "text", Profile(block_threshold=1000))  # type: ignore[arg-type]
    assert [p.kind for p in r.pii] == ["cn_mobile"]
    assert "1234" not in r.body and r.body.startswith("call \u202e138")


def test_html_masks_exactly_what_was_written(engine: Engine) -> None:
    page = "<p>a p0rn site, a pooorn site, <b>fuu</b>uuck</p>"
    r = engine.scan(page, "html", Profile(block_threshold=1000))  # type: ignore[arg-type]
    assert r.body == "<p>a **** site, a ****** site, <b>***</b>****</p>"


_ALPHABET = "pornfuckasbe 0134$@!рο é【】@♥🎲赌博三3下滥.\u202e\u202c"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=_ALPHABET, max_size=40))
def test_rules_only_add_matches(text: str) -> None:
    """Without exceptions, every match with the rules off is found with them on, and
    every match lies inside the text, on the characters it reports."""
    on, off = _engines()
    profile = Profile(block_threshold=10**6)
    r_on = on.scan(text, "text", profile)  # type: ignore[arg-type]
    r_off = off.scan(text, "text", profile)  # type: ignore[arg-type]
    spans_on = {(m.term, m.start, m.end) for m in r_on.matches}
    for m in r_off.matches:
        assert any(t == m.term and a <= m.start and m.end <= b for t, a, b in spans_on), m
    for m in r_on.matches:
        assert 0 <= m.start < m.end <= len(text) and text[m.start : m.end] == m.text
    assert len(r_on.body) == len(text)


@cache
def _engines() -> tuple[Engine, Engine]:
    import tempfile
    from pathlib import Path

    from qinglang.engine.evasion import SWITCHES

    folder = Path(tempfile.mkdtemp())
    (folder / "a.yaml").write_text(
        "category: porn\nnumerals: true\nterms: [porn, fuck, ass, sex, 赌博, 下三滥, a$$]\n",
        encoding="utf-8",
    )
    ls = load_lists([folder], use_cache=False)
    return Engine(ls), Engine(ls, frozenset(SWITCHES))


def test_digits_in_mixed_styles_read_as_one_number() -> None:
    from qinglang.engine.evasion import fold
    from qinglang.engine.normalize import normalize

    # Every style of digit after a contact label, Chinese numerals included.
    assert fold(normalize("微信：9⓿二肆⁹₈③⑸⒋➃㈤㊄").text).text == "微信:9024983545"
