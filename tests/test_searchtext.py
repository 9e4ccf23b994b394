"""Searches read as the engine reads them: charsets, repeated parameters, POST bodies."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qinglang.content.searchtext import fields, readings
from qinglang.engine.normalize import BOUNDARY
from qinglang.policy.config import Profile
from qinglang.policy.presets import resolve
from qinglang.policy.safesearch import search_query
from qinglang.policy.urlrules import RequestInfo, RequestRules

WORD = "赌博网站"
GBK = quote_from_bytes(WORD.encode("gbk"))  # %B6%C4%B2%A9%CD%F8%D5%BE
TRAD = "賭博網站"  # the same words in traditional characters, as Big5 holds them
BIG5 = quote_from_bytes(TRAD.encode("big5"))


def texts(q: object) -> list[str]:
    assert q is not None
    return q.text.split(BOUNDARY)  # type: ignore[attr-defined]


def test_gbk_bytes_are_real_gbk() -> None:
    assert GBK == "%B6%C4%B2%A9%CD%F8%D5%BE"


@pytest.mark.parametrize(
    "path",
    [
        f"/s?ie=gbk&wd={GBK}",  # Baidu, charset named
        f"/s?wd={GBK}",  # no charset: not UTF-8, so GBK, as Baidu guesses
        f"/s?wd={GBK}&ie=GB2312",  # the name after the value
        f"/s?oe=gbk&wd={GBK}",
        f"/s?encoding=gbk&wd={GBK}",
        f"/s?wd=cats&wd={quote(WORD)}",  # a repeated parameter: every value
        f"/s?wd={quote(WORD)}&wd=cats",
        f"/s?wd=cats&word={GBK}",  # another of the engine's parameters
        f"/s?wd={quote(quote(WORD))}",  # encoded twice
    ],
)
def test_baidu_search_text_in_every_spelling(path: str) -> None:
    assert WORD in texts(search_query("www.baidu.com", path))


def test_character_references_from_a_gbk_form() -> None:
    refs = "".join(f"%26%23{ord(c)}%3B" for c in WORD)  # &#32593;... percent-encoded
    assert WORD in texts(search_query("www.baidu.com", f"/s?ie=gbk&wd={refs}"))


def test_big5_named() -> None:
    assert TRAD in texts(search_query("www.baidu.com", f"/s?wd=cats&ie=big5&word={BIG5}"))


def test_declared_charset_wins_over_valid_utf8() -> None:
    """Bytes that are valid UTF-8 and valid GBK are read both ways when ie=gbk says GBK."""
    raw = WORD.encode("gbk")
    utf8_lookalike = "測試".encode()  # valid UTF-8 whose GBK reading is other text
    assert WORD in readings(raw, ["gbk"])
    got = readings(utf8_lookalike, ["gbk"])
    assert got[0] == "測試" and utf8_lookalike.decode("gb18030") in got


def test_sogou_and_google_charset_params() -> None:
    assert WORD in texts(search_query("www.sogou.com", f"/web?ie=gbk&query={GBK}"))
    assert WORD in texts(search_query("www.google.com", f"/search?ie=GBK&q={GBK}"))


def test_values_do_not_run_together() -> None:
    """Two values are two readings: 赌 in one and 博 in the next are no 赌博."""
    q = search_query("www.baidu.com", "/s?wd=%E8%B5%8C&wd=%E5%8D%9A")
    assert texts(q) == ["赌", "博"]


def test_post_form_search() -> None:
    body = f"q={quote(WORD)}&b=".encode()
    q = search_query("html.duckduckgo.com", "/html/", body, "application/x-www-form-urlencoded")
    assert WORD in texts(q)
    gbk_form = f"kw={GBK}".encode()
    q = search_query(
        "www.baidu.com", "/s", gbk_form, "application/x-www-form-urlencoded; charset=gbk"
    )
    assert WORD in texts(q)


def test_post_json_search() -> None:
    body = json.dumps(
        {"operationName": "visionSearchPhoto", "variables": {"keyword": WORD, "page": "1"}},
        ensure_ascii=True,
    ).encode()
    q = search_query("www.kuaishou.com", "/graphql", body, "application/json")
    assert texts(q) == [WORD]
    body = json.dumps({"keyword": [WORD, "cats"], "page": 1}).encode()
    q = search_query("edith.xiaohongshu.com", "/api/sns/web/v1/search/notes", body, None)
    assert WORD in texts(q)


def test_not_searches() -> None:
    assert search_query("www.baidu.com", "/s?wd=&ie=gbk") is None
    assert (
        search_query("www.baidu.com", "/s", b"other=1", "application/x-www-form-urlencoded") is None
    )
    assert search_query("example.com", f"/s?wd={GBK}") is None
    assert (
        search_query("www.kuaishou.com", "/graphql", b"\x00\x01binary", "application/octet-stream")
        is None
    )


def test_keyword_targets_read_the_post_body() -> None:
    rules = RequestRules(resolve(Profile.model_validate({})))
    info = RequestInfo(
        "POST",
        "html.duckduckgo.com",
        "/html/",
        {"content-type": "application/x-www-form-urlencoded"},
    )
    targets = rules.keyword_targets(info, f"q={quote(WORD)}".encode())
    assert [t.kind for t in targets][:1] == ["search"]
    assert WORD in targets[0].text.split(BOUNDARY)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6))
def test_fields_read_back_what_a_form_encodes(pairs: list[tuple[str, str]]) -> None:
    """Every pair a browser encodes (``+`` for spaces, UTF-8) comes back, in order."""
    raw = "&".join(f"{quote(k, safe='').replace('%20', '+')}={quote(v, safe='')}" for k, v in pairs)
    got = [(k, v.decode("utf-8")) for k, v in fields(raw.encode())]
    assert got == pairs


def test_page_address_in_gbk_is_read_as_words() -> None:
    from qinglang.policy.urlrules import url_text

    assert WORD in url_text("example.com", f"/tag/{GBK}.html")
    assert WORD in url_text("example.com", f"/tag/{quote(WORD)}?x=1+2")
    assert "x 1 2" in url_text("example.com", "/a?x=1+2")
