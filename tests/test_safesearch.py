"""Safe search: each engine's request is rewritten by the mechanism it documents, and
what was searched is found for the keyword checks. Requests are real mitmproxy
Request objects; the assertions read the rewritten request as it would go upstream."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from mitmproxy.http import Request
from mitmproxy.test import tutils

from qinglang.policy.safesearch import ENGINES, enforce, engine_for, search_query


def req(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Request:
    parts = urlsplit(url)
    r = tutils.treq(
        method=method.encode(),
        scheme=parts.scheme.encode(),
        host=parts.hostname,
        port=443 if parts.scheme == "https" else 80,
        authority=b"",
        path=(parts.path or "/").encode() + (b"?" + parts.query.encode() if parts.query else b""),
    )
    r.headers.clear()
    r.headers["Host"] = parts.hostname or ""
    for k, v in (headers or {}).items():
        r.headers[k] = v
    return r


def params(r: Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(r.url).query, keep_blank_values=True)


def test_google_gets_safe_active_and_loses_safe_off() -> None:
    r = req("https://www.google.com/search?q=cats&safe=off&hl=zh-CN")
    done = enforce(r)
    assert done.engine == "google" and done.changed and done.has_switch
    assert params(r) == {"q": ["cats"], "safe": ["active"], "hl": ["zh-CN"]}
    assert r.headers["Prefer"] == "safe"
    for url in ("https://www.google.com.hk/search?q=x", "https://google.co.uk/webhp"):
        r = req(url)
        enforce(r)
        assert params(r)["safe"] == ["active"], url


def test_google_leaves_other_google_services_alone() -> None:
    for url in ("https://mail.google.com/mail/?q=x", "https://www.google.com/maps/place/x"):
        r = req(url)
        before = r.url
        enforce(r)
        assert r.url == before, url


def test_youtube_gets_the_restrict_header_on_every_host_google_lists() -> None:
    for host in (
        "www.youtube.com",
        "m.youtube.com",
        "youtubei.googleapis.com",
        "youtube.googleapis.com",
        "www.youtube-nocookie.com",
    ):
        r = req(f"https://{host}/results?search_query=x", {"YouTube-Restrict": "Moderate"})
        assert enforce(r).changed
        assert r.headers.get_all("YouTube-Restrict") == ["Strict"], host
    r = req("https://i.ytimg.com/vi/x/hq.jpg")
    assert enforce(r).engine is None and "YouTube-Restrict" not in r.headers


def test_bing_gets_adlt_strict_and_the_preference_cookie() -> None:
    r = req(
        "https://cn.bing.com/search?q=x&adlt=off",
        {"Cookie": "MUID=abc; SRCHHPGUSR=SRCHLANG=zh-Hans&ADLT=OFF&BRW=W; _EDGE_S=1"},
    )
    enforce(r)
    assert params(r) == {"q": ["x"], "adlt": ["strict"]}
    assert dict(r.cookies) == {
        "MUID": "abc",
        "SRCHHPGUSR": "SRCHLANG=zh-Hans&BRW=W&ADLT=STRICT",
        "_EDGE_S": "1",
    }
    # No cookie yet: one is added. Images search too.
    r = req("https://www.bing.com/images/search?q=x")
    enforce(r)
    assert params(r)["adlt"] == ["strict"]
    assert r.cookies["SRCHHPGUSR"] == "ADLT=STRICT"
    # Already strict: nothing to change.
    r = req("https://www.bing.com/search?q=x&adlt=strict", {"Cookie": "SRCHHPGUSR=ADLT=STRICT"})
    r.headers["Prefer"] = "safe"
    assert not enforce(r).changed


def test_duckduckgo_gets_kp_1() -> None:
    r = req("https://duckduckgo.com/?q=x&kp=-2")
    enforce(r)
    assert params(r) == {"q": ["x"], "kp": ["1"]}
    r = req("https://html.duckduckgo.com/html/", method="POST")
    enforce(r)
    assert params(r) == {"kp": ["1"]}


def test_yahoo_gets_vm_r() -> None:
    r = req("https://search.yahoo.com/search?p=x&vm=p")
    enforce(r)
    assert params(r) == {"p": ["x"], "vm": ["r"]}
    r = req("https://hk.search.yahoo.com/search?p=x")
    enforce(r)
    assert params(r)["vm"] == ["r"]


def test_yandex_gets_family_search() -> None:
    r = req("https://yandex.ru/search/?text=x")
    enforce(r)
    assert params(r) == {"text": ["x"], "family": ["yes"], "fyandex": ["1"]}
    r = req("https://yandex.com/images/search?text=x")
    enforce(r)
    assert params(r)["family"] == ["yes"]


@pytest.mark.parametrize(
    "url",
    [
        "https://www.baidu.com/s?wd=x",
        "https://www.sogou.com/web?query=x",
        "https://www.so.com/s?q=x",
        "https://search.bilibili.com/all?keyword=x",
        "https://www.douyin.com/search/x",
    ],
)
def test_engines_without_a_switch_are_left_for_keyword_checks(url: str) -> None:
    r = req(url)
    before = (r.url, list(r.headers.items(multi=True)))
    done = enforce(r)
    assert done.engine is not None and not done.has_switch and not done.changed
    assert (r.url, list(r.headers.items(multi=True))) == before


def test_prefer_safe_is_merged_into_an_existing_prefer_header() -> None:
    r = req("https://duckduckgo.com/?q=x", {"Prefer": "return=minimal"})
    enforce(r)
    assert r.headers["Prefer"] == "return=minimal, safe"


def test_other_sites_are_untouched() -> None:
    r = req("https://example.com/search?q=x&safe=off", {"Cookie": "a=1"})
    before = (r.url, list(r.headers.items(multi=True)))
    assert enforce(r).engine is None
    assert (r.url, list(r.headers.items(multi=True))) == before


@pytest.mark.parametrize(
    ("host", "path", "engine", "text"),
    [
        ("www.google.com", "/search?q=%E8%B5%8C%E5%8D%9A&hl=zh", "google", "赌博"),
        ("www.google.com", "/complete/search?q=abc&client=gws", "google", "abc"),
        ("www.bing.com", "/search?q=hello+world", "bing", "hello world"),
        ("www.baidu.com", "/s?ie=utf-8&wd=%E8%B5%8C%E5%8D%9A", "baidu", "赌博"),
        ("m.baidu.com", "/s?word=abc", "baidu", "abc"),
        ("suggestion.baidu.com", "/su?wd=ab", "baidu", "ab"),
        ("www.sogou.com", "/web?query=abc", "sogou", "abc"),
        ("m.sogou.com", "/web/searchList.jsp?keyword=abc", "sogou", "abc"),
        ("www.so.com", "/s?q=abc", "so360", "abc"),
        ("duckduckgo.com", "/?q=abc&ia=web", "duckduckgo", "abc"),
        ("search.yahoo.com", "/search?p=abc", "yahoo", "abc"),
        ("yandex.ru", "/search/?text=abc", "yandex", "abc"),
        ("www.youtube.com", "/results?search_query=abc", "youtube", "abc"),
        ("search.bilibili.com", "/all?keyword=abc", "bilibili", "abc"),
        ("api.bilibili.com", "/x/web-interface/wbi/search/type?keyword=abc", "bilibili", "abc"),
        ("www.douyin.com", "/search/%E8%B5%8C%E5%8D%9A?type=general", "douyin", "赌博"),
        ("www.douyin.com", "/aweme/v1/web/search/item/?keyword=abc", "douyin", "abc"),
        ("www.kuaishou.com", "/search/video?searchKey=abc", "kuaishou", "abc"),
        ("s.weibo.com", "/weibo?q=abc", "weibo", "abc"),
        ("www.zhihu.com", "/search?type=content&q=abc", "zhihu", "abc"),
        ("www.xiaohongshu.com", "/search_result?keyword=abc", "xiaohongshu", "abc"),
        ("so.toutiao.com", "/search?keyword=abc", "toutiao", "abc"),
        ("m.sm.cn", "/s?q=abc", "shenma", "abc"),
    ],
)
def test_search_text_is_found_for_every_engine(
    host: str, path: str, engine: str, text: str
) -> None:
    q = search_query(host, path)
    assert q is not None and (q.engine, q.text) == (engine, text)


def test_not_a_search() -> None:
    assert search_query("www.google.com", "/maps?q=x") is None  # not a search path
    assert search_query("www.baidu.com", "/s?wd=") is None  # empty
    assert search_query("example.com", "/search?q=x") is None
    assert search_query("www.bilibili.com", "/video/BV1?keyword=x") is None  # not a search host


def test_every_engine_is_named_and_described() -> None:
    assert set(ENGINES) >= {"google", "bing", "baidu", "sogou", "so360", "youtube", "douyin"}
    for name, e in ENGINES.items():
        assert e.name == name and e.label and e.mechanism and e.params
    assert engine_for("WWW.Baidu.com.").name == "baidu"  # type: ignore[union-attr]
