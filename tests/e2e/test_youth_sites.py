"""Site rules through a real mitmdump: deny and allow domains, URL patterns, category
domain lists, searches and page addresses checked by the keyword engine, search engines
blocked outright, and payments.

The keyword lists are conftest's (赌博 weight 10, 网络赌场 40, 裸聊 60; block at 100).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from .youth_support import API, EN, IMAGE, UPSTREAM_PAGE, ZH, World, events, eventually, youth_world

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CHILD, ADULT, TEEN = "127.0.0.1", "127.0.0.2", "127.0.0.3"

CONFIG = """
    lists: [lists]
    profiles:
      child:
        deny_domains: [blocked.example.test]
        allow_domains: [homework.blocked.example.test]
        deny_urls:
          - www.example.test/forbidden
          - "*.example.test/*/recharge"
          - www.example.test/搜索
        block_search_engines: [sogou]
        payments: block
      adult:
        filter: false
      teen:
        timezone: Asia/Shanghai
        payments: {days: [sat], windows: ["10:00-11:00"]}
    clients:
      - {match: 127.0.0.2, profile: adult}
      - {match: 127.0.0.3, profile: teen}
    default_profile: child
    events: {db: events.sqlite}
"""
DOMAINS = {"gambling": ["casino.example.test", "@@help.casino.example.test"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with youth_world(tmp_path_factory.mktemp("youth-sites"), CONFIG, DOMAINS) as w:
        w.clock.set("2025-06-04T12:00:00+08:00")
        yield w


def blocked(r: object, reason_zh: str) -> bool:
    status = getattr(r, "status_code", None)
    text = getattr(r, "text", "")
    return status == 403 and "此页面已被拦截" in text and reason_zh in text


def test_denied_domains_and_their_subdomains_get_the_block_page(world: World) -> None:
    with world.proxy.client(CHILD) as c:
        for url in (
            "https://blocked.example.test/",
            "https://www.blocked.example.test/a",
            "http://m.blocked.example.test/",
        ):
            r = c.get(url, headers=ZH)
            assert blocked(r, "家长或学校设置了不能访问这个网站"), url
        en = c.get("https://blocked.example.test/", headers=EN)
        assert en.status_code == 403 and "a parent or school has blocked this site" in en.text
        api = c.get("https://blocked.example.test/v1", headers=API)
        assert api.status_code == 403 and api.json()["reason"] == "deny_domains"
        # A more specific allow wins; look-alike names are not subdomains.
        for url in ("https://homework.blocked.example.test/", "https://notblocked.example.test/"):
            assert c.get(url, headers=ZH).content == UPSTREAM_PAGE, url
    assert world.upstream.count("blocked.example.test") == 0
    rows = eventually(
        lambda: events(world.proxy, reason="deny_domains", host="www.blocked.example.test"),
        "a deny_domains event",
    )
    assert rows[0]["detail"] == "blocked.example.test" and rows[0]["path"] == "/a"


def _read_all(s: socket.socket) -> bytes:
    reply = b""
    while chunk := s.recv(65536):
        reply += chunk
    return reply


def test_a_forged_host_header_does_not_open_a_blocked_site(world: World) -> None:
    # The proxy dials the host of the request line or of the CONNECT; the Host header,
    # which the client writes, names an allowed site.
    before = world.upstream.count("homework.blocked.example.test")
    forged = (
        b"Host: homework.blocked.example.test\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", world.proxy.port), 20) as s:
        s.sendall(b"GET http://blocked.example.test/ HTTP/1.1\r\n" + forged)
        reply = _read_all(s)
    assert reply.startswith(b"HTTP/1.1 403")
    assert "家长或学校设置了不能访问这个网站".encode() in reply

    with socket.create_connection(("127.0.0.1", world.proxy.port), 20) as s:
        s.sendall(b"CONNECT blocked.example.test:443 HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 200")
        ctx = ssl.create_default_context(cafile=str(world.proxy.ca))
        with ctx.wrap_socket(s, server_hostname="homework.blocked.example.test") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\n" + forged)
            reply = _read_all(tls)
    assert reply.startswith(b"HTTP/1.1 403")
    assert world.upstream.count("homework.blocked.example.test") == before


def test_url_patterns(world: World) -> None:
    with world.proxy.client(CHILD) as c:
        for path in ("/forbidden", "/forbidden/2", "/forbidden?id=1", "/" + quote("搜索")):
            r = c.get("https://www.example.test" + path, headers=ZH)
            assert blocked(r, "家长或学校设置了不能访问这个网址"), path
        r = c.get("https://m.example.test/u/1/recharge", headers=API)  # API calls too
        assert r.status_code == 403 and r.json()["reason"] == "deny_urls"
        for url in ("https://www.example.test/forbiddenx", "https://m.example.test/recharge"):
            assert c.get(url, headers=ZH).content == UPSTREAM_PAGE, url


def test_category_domain_list(world: World) -> None:
    with world.proxy.client(CHILD) as c:
        r = c.get("https://www.casino.example.test/", headers=ZH)
        assert blocked(r, "这类网站不适合你") and "赌博" in r.text
        # An @@ exception in the list takes a subdomain out again.
        assert c.get("https://help.casino.example.test/", headers=ZH).status_code == 200
    with world.proxy.client(ADULT) as c:  # a profile that does not filter
        assert c.get("https://www.casino.example.test/", headers=ZH).status_code == 200


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("https://www.baidu.com/s?wd={q}", "wd"),
        ("https://www.google.com/search?q={q}&hl=zh-CN", "q"),
        ("https://www.bing.com/search?q={q}", "q"),
        ("https://www.douyin.com/search/{q}", None),
    ],
)
def test_a_search_for_a_blocked_term_shows_the_block_page(
    world: World, url: str, param: str | None
) -> None:
    host = url.split("/")[2]
    before = world.upstream.count(host)
    with world.proxy.client(CHILD) as c:
        r = c.get(url.format(q=quote("网上赌博")), headers=ZH)
        assert blocked(r, "搜索的内容不适宜")
        assert world.upstream.count(host) == before
        # Suggestions while typing are API calls: JSON 403.
        api = c.get(url.format(q=quote("赌博")), headers=API)
        assert api.status_code == 403 and api.json()["reason"] == "search keywords"
        # Typed as JSON, where the word would be a key, it is still read.
        assert c.get(url.format(q=quote('{"赌博": 1}')), headers=ZH).status_code == 403
        # An innocent search goes through.
        ok = c.get(url.format(q=quote("数学作业")), headers=ZH)
        assert ok.content == UPSTREAM_PAGE
    rows = eventually(
        lambda: events(world.proxy, reason="search keywords", host=host), "a search event"
    )
    assert "赌博" in rows[-1]["decided_by"]  # list term names, for the parent
    # The search itself is never stored, also where it is part of the path (Douyin).
    assert rows[-1]["path"] in ("/s", "/search", "/search/")


def test_page_addresses_are_scanned_like_pages(world: World) -> None:
    # 网络赌场 (40) + 裸聊 (60) = 100: blocked as a page would be. One term is not enough.
    bad = "http://news.example.test/" + quote("网络赌场") + "/" + quote("裸聊")
    with world.proxy.client(CHILD) as c:
        assert blocked(c.get(bad, headers=ZH), "网址包含不适宜的内容")
        assert c.get(bad, headers=IMAGE).status_code == 200  # only page loads are read
        one = "http://news.example.test/2025/" + quote("网络赌场") + "-crackdown"
        assert c.get(one, headers=ZH).content == UPSTREAM_PAGE


def test_search_engine_blocked_outright(world: World) -> None:
    with world.proxy.client(CHILD) as c:
        r = c.get("https://www.sogou.com/web?query=" + quote("数学"), headers=ZH)
        assert blocked(r, "这个搜索引擎不能使用")
        assert c.get("https://www.baidu.com/s?wd=" + quote("数学"), headers=ZH).status_code == 200


def test_payments_blocked_or_open_in_a_window(world: World) -> None:
    with world.proxy.client(CHILD) as c:  # payments: block
        for url in ("https://pay.qq.com/ipay/index.html", "https://www.alipay.com/"):
            assert blocked(c.get(url, headers=ZH), "这里不能付款或充值"), url
    clock = world.clock
    with world.proxy.client(TEEN) as c:  # payments only on Saturdays 10:00-11:00
        clock.set("2025-06-07T10:30:00+08:00")
        assert c.get("https://pay.qq.com/ipay/index.html", headers=ZH).status_code == 200
        clock.set("2025-06-07T12:00:00+08:00")
        r = c.get("https://pay.qq.com/ipay/index.html", headers=ZH)
        assert r.status_code == 403 and "现在不能付款" in r.text and "6月14日 10:00" in r.text
        api = c.get("https://pay.qq.com/cgi-bin/order", headers=API).json()
        assert (api["reason"], api["returns_at"]) == ("payments", "2025-06-14T10:00:00+08:00")
    clock.set("2025-06-04T12:00:00+08:00")


def test_domain_list_and_rule_edits_are_picked_up_and_broken_ones_rejected(
    tmp_path: Path,
) -> None:
    with youth_world(tmp_path, CONFIG, DOMAINS) as w, w.proxy.client(CHILD) as c:
        w.clock.set("2025-06-04T12:00:00+08:00")
        url = "https://www.dice.example.test/"
        assert c.get(url, headers=ZH).status_code == 200
        lists = w.proxy.lists / "domains"
        with (lists / "gambling.txt").open("a", encoding="utf-8") as f:
            f.write("dice.example.test\n")
        eventually(lambda: c.get(url, headers=ZH).status_code == 403, "the listed domain")

        # A list file the loader refuses: reported with its name, the rules stay.
        (lists / "Bad Name.txt").write_text("x.example.test\n", encoding="utf-8")
        eventually(lambda: "domain list edit rejected" in w.proxy.log(), "the rejection")
        assert "Bad Name.txt" in w.proxy.log()
        assert c.get(url, headers=ZH).status_code == 403
        assert c.get("https://casino.example.test/", headers=ZH).status_code == 403

        (lists / "Bad Name.txt").unlink()
        cfg = w.proxy.config.read_text(encoding="utf-8")
        w.proxy.config.write_text(
            cfg.replace(
                "deny_domains: [blocked.example.test]", "deny_domains: [chat.example.test]"
            ),
            encoding="utf-8",
        )
        eventually(
            lambda: c.get("https://chat.example.test/", headers=ZH).status_code == 403,
            "the new deny_domains entry",
        )
        assert c.get("https://blocked.example.test/", headers=ZH).status_code == 200
        assert c.get(url, headers=ZH).status_code == 403
