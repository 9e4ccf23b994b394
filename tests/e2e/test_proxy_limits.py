"""Size limits, broken and hostile upstream input, ranges and streams, per profile.

The child profile is fail-closed (a body it cannot scan is blocked with an explanation);
the teen profile in these tests is fail-open (``on_oversize: pass``, ``on_error: pass``).
Neither case may crash the proxy (the fixtures check mitmdump's log for tracebacks).
"""

from __future__ import annotations

import httpx
import pytest

from .conftest import CHILD, TEEN, Proxy
from .upstream import BLOCK_TERMS, CLEAN_TEXT, MASK_TERM, VIDEO, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def raw_get(c: httpx.Client, url: str, **kw: object) -> tuple[httpx.Response, bytes]:
    with c.stream("GET", url, **kw) as r:  # type: ignore[arg-type]
        return r, b"".join(r.iter_raw())


@pytest.mark.parametrize("path", ["/large.html", "/large-chunked.html"])
def test_body_over_the_limit_is_blocked_for_a_child(
    proxy: Proxy, upstream: Upstream, path: str
) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url(path, True), headers={"accept-language": "en"})
    assert r.status_code == 403
    assert "too large to be checked" in r.text
    assert MASK_TERM not in r.text


@pytest.mark.parametrize("path", ["/large.html", "/large-chunked.html"])
def test_body_over_the_limit_passes_for_a_fail_open_profile(
    proxy: Proxy, upstream: Upstream, path: str
) -> None:
    with proxy.client(TEEN) as c:
        r = c.get(upstream.url(path))
    assert r.status_code == 200 and r.content == upstream.pages[path].body


def test_large_video_streams_through_unchanged(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r, raw = raw_get(c, upstream.url("/video.mp4", True))
    assert r.status_code == 200 and raw == VIDEO


def test_large_text_disguised_as_video_is_cut_off(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        _, raw = raw_get(c, upstream.url("/video-lie.mp4"))
    # The headers were on their way before the body showed it was text: nothing follows.
    assert raw == b""
    with proxy.client(TEEN) as c:
        _, raw = raw_get(c, upstream.url("/video-lie.mp4"))
    assert raw == upstream.pages["/video-lie.mp4"].body


def test_truncated_gzip(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/truncated-gzip.html"), headers={"accept-language": "en"})
    assert r.status_code == 403 and "could not be checked" in r.text
    with proxy.client(TEEN) as c:
        r, raw = raw_get(c, upstream.url("/truncated-gzip.html"))
    assert raw == upstream.pages["/truncated-gzip.html"].body  # fail-open: as it came


def test_gzip_bomb_is_not_expanded(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/gzip-bomb.html"), headers={"accept-language": "en"})
    assert r.status_code == 403 and "too large to be checked" in r.text
    with proxy.client(TEEN) as c:
        r, raw = raw_get(c, upstream.url("/gzip-bomb.html"))
    assert raw == upstream.pages["/gzip-bomb.html"].body


def test_invalid_bytes_cannot_hide_a_word(proxy: Proxy, upstream: Upstream) -> None:
    # "网络\xff赌场": the invalid byte splits the term; the browser would still show it.
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/bad-bytes.html"))
    text = r.content.decode("gbk")
    assert r.status_code == 200 and "****" in text and "赌场" not in text


def test_invalid_bytes_in_a_clean_page_are_left_alone(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/bad-bytes-clean.html"))
    assert r.content == upstream.pages["/bad-bytes-clean.html"].body


def test_partial_text_range_is_blocked_for_a_child(proxy: Proxy, upstream: Upstream) -> None:
    body = upstream.pages["/range.txt"].body
    cut = body.index(MASK_TERM.encode()) + 3  # the range ends inside the term
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/range.txt"), headers={"range": f"bytes=0-{cut}"})
        clean = c.get(upstream.url("/range-clean.txt"), headers={"range": "bytes=0-99"})
    assert r.status_code == 403 and clean.status_code == 403


def test_whole_range_is_scanned_like_a_page(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/range.txt"), headers={"range": "bytes=0-"})
    assert r.status_code == 200 and "content-range" not in r.headers
    assert MASK_TERM not in r.text and "****" in r.text and CLEAN_TEXT in r.text


def test_partial_range_for_a_fail_open_profile(proxy: Proxy, upstream: Upstream) -> None:
    page = upstream.pages["/range-clean.txt"].body
    body = upstream.pages["/range.txt"].body
    end = body.index(MASK_TERM.encode()) + len(MASK_TERM.encode()) + 5  # the term, not all
    with proxy.client(TEEN) as c:
        ok = c.get(upstream.url("/range-clean.txt"), headers={"range": "bytes=0-99"})
        masked = c.get(upstream.url("/range.txt"), headers={"range": f"bytes=0-{end}"})
    assert ok.status_code == 206 and ok.content == page[:100]
    # A masked fragment would no longer fit its Content-Range: not served.
    assert masked.status_code == 403


def test_event_stream_passes(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/events"))
    assert r.status_code == 200 and r.content == b"data: hello\n\n"


def test_proxy_still_serves_after_bad_input(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        for path in ("/gzip-bomb.html", "/truncated-gzip.html", "/bad-bytes.html"):
            c.get(upstream.url(path))
        r = c.get(upstream.url("/block.html"))
    assert r.status_code == 403 and BLOCK_TERMS.split()[0] not in r.text
