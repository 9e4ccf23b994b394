"""Pages through a real mitmdump with the addon: masked, blocked, untouched, per profile."""

from __future__ import annotations

import gzip
import json
import socket

import httpx
import pytest

from .conftest import ADULT, CHILD, Proxy
from .upstream import BLOCK_TERMS, CLEAN_TEXT, MASK_TERM, PNG, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def raw_get(c: httpx.Client, url: str, **kw: object) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as it came over the wire (not decompressed)."""
    with c.stream("GET", url, **kw) as r:  # type: ignore[arg-type]
        return r, b"".join(r.iter_raw())


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_masked_page(proxy: Proxy, upstream: Upstream, tls: bool) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/mask.html", tls))
    assert r.status_code == 200
    assert MASK_TERM not in r.text and "****" in r.text
    assert CLEAN_TEXT in r.text
    assert r.headers["content-length"] == str(len(r.content))


def test_masked_page_sent_chunked(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/mask-chunked.html"))
    assert r.status_code == 200 and MASK_TERM not in r.text and "****" in r.text


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_page_without_a_match_is_untouched(proxy: Proxy, upstream: Upstream, tls: bool) -> None:
    page = upstream.pages["/clean.html"]
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/clean.html", tls))
    assert r.status_code == 200
    assert r.content == page.body
    assert r.headers["etag"] == '"v1"'
    assert r.headers["content-type"] == page.headers["content-type"]
    assert r.headers["content-length"] == str(len(page.body))


def test_blocked_page_in_chinese_by_default(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/block.html", True))
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "此页面已被拦截" in r.text and "赌博" in r.text  # title and category, in Chinese
    for term in BLOCK_TERMS.split():
        assert term not in r.text  # never the words that were found
    assert "事件编号" in r.text


def test_blocked_page_in_english_when_the_browser_prefers_it(
    proxy: Proxy, upstream: Upstream
) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(
            upstream.url("/block.html"),
            headers={"accept-language": "en-GB,en;q=0.9,zh-CN;q=0.5", "accept": "text/html"},
        )
    assert r.status_code == 403
    assert r.text.index("This page was blocked") < r.text.index("此页面已被拦截")
    assert "Event id" in r.text


def test_block_page_escapes_the_address(proxy: Proxy, upstream: Upstream) -> None:
    # httpx would percent-encode the path; a raw request sends "<" as it is.
    path = "/<script>alert(1)</script>"
    upstream.pages[path] = upstream.pages["/block.html"]
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as s:
        s.sendall(
            f"GET {upstream.url(path)} HTTP/1.1\r\nHost: 127.0.0.1:{upstream.http_port}\r\n"
            "Accept: text/html\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403")
    assert b"<script>alert(1)" not in body and b"&lt;script&gt;alert(1)" in body


def test_json_api_is_masked_inside_strings(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/api.json", True))
    data = r.json()  # still valid JSON
    assert data["items"][0]["title"] == "****" and data["items"][1]["title"] == "ok"


def test_blocked_json_api_gets_a_json_403(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/api-block.json"), headers={"accept": "application/json"})
    assert r.status_code == 403
    body = r.json()
    assert body["error"] == "blocked" and body["category"] in ("porn", "gambling")
    assert len(body["event_id"]) == 10


def test_json_served_as_javascript_is_recognised(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/api.js"))
    assert json.loads(r.text) == {"msg": "****"}


def test_javascript_and_css_are_never_scored(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        for path in ("/app.js", "/style.css"):
            r = c.get(upstream.url(path))
            assert r.content == upstream.pages[path].body


def test_plain_text_and_unlabelled_pages_are_scanned(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        for path in ("/plain.txt", "/unlabelled"):
            r = c.get(upstream.url(path))
            assert r.status_code == 200 and MASK_TERM not in r.text and "****" in r.text


def test_text_behind_a_lying_content_type_is_caught(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/lying.png"))
    assert r.status_code == 403


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_binary_arrives_byte_for_byte(proxy: Proxy, upstream: Upstream, tls: bool) -> None:
    with proxy.client(CHILD) as c:
        r, raw = raw_get(c, upstream.url("/image.png", tls))
    assert r.status_code == 200 and raw == PNG
    assert r.headers["content-type"] == "image/png"


def test_gbk_page_keeps_its_charset(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/gbk.html", True))
    assert r.headers["content-type"] == "text/html; charset=gbk"
    text = r.content.decode("gbk")  # still GBK bytes
    assert MASK_TERM not in text and "****" in text and CLEAN_TEXT in text


def test_gbk_page_declared_only_in_meta(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/gbk-meta.html"))
    text = r.content.decode("gbk")
    assert MASK_TERM not in text and "****" in text and CLEAN_TEXT in text


def test_undeclared_utf8_is_read_as_utf8(proxy: Proxy, upstream: Upstream) -> None:
    # mitmproxy's .text would read this as latin-1 and never match a Chinese term.
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/undeclared-utf8.html"))
    text = r.content.decode("utf-8")
    assert MASK_TERM not in text and "****" in text


@pytest.mark.parametrize("path", ["/gzip.html", "/deflate.html", "/br.html", "/zstd.html"])
def test_compressed_pages_are_masked_and_sent_cheaply(
    proxy: Proxy, upstream: Upstream, path: str
) -> None:
    with proxy.client(CHILD) as c:
        r, raw = raw_get(c, upstream.url(path), headers={"accept-encoding": "gzip, deflate, br"})
    assert r.status_code == 200
    # Re-encoded at the cheapest setting the client takes (gzip level 1), never brotli 11.
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["content-length"] == str(len(raw))
    text = gzip.decompress(raw).decode()
    assert MASK_TERM not in text and "****" in text and CLEAN_TEXT in text


def test_compressed_page_without_a_match_is_not_reencoded(proxy: Proxy, upstream: Upstream) -> None:
    page = upstream.pages["/gzip-clean.html"]
    with proxy.client(CHILD) as c:
        r, raw = raw_get(c, upstream.url("/gzip-clean.html"))
    assert raw == page.body and r.headers["content-encoding"] == "gzip"


def test_http2_where_the_client_offers_it(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD, http2=True) as c:
        masked = c.get(upstream.url("/gzip.html", h2=True))
        blocked = c.get(upstream.url("/block.html", h2=True))
        image = c.get(upstream.url("/image.png", h2=True))
        clean = c.get(upstream.url("/clean.html", h2=True))
    assert masked.http_version == "HTTP/2" and image.http_version == "HTTP/2"
    assert MASK_TERM not in masked.text and "****" in masked.text
    assert blocked.status_code == 403
    assert image.content == PNG
    assert clean.content == upstream.pages["/clean.html"].body


def test_two_clients_two_profiles(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as child, proxy.client(ADULT) as adult:
        for path in ("/mask.html", "/block.html", "/br.html"):
            page = upstream.pages[path]
            r, raw = raw_get(adult, upstream.url(path, True))
            assert r.status_code == 200 and raw == page.body  # the adult: untouched
            assert child.get(upstream.url(path, True)).content != page.body


def test_head_and_204_pass(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        head = c.head(upstream.url("/block.html"))
        empty = c.get(upstream.url("/nothing"))
    assert head.status_code == 200 and head.content == b""
    assert empty.status_code == 204
