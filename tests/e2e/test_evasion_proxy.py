"""Evasions through a real proxy (issue 21): a page that writes a listed word with leet,
repeated letters, a look-alike letter, a skip character, an emoji or a bidi override
reaches the child with exactly those characters masked; a benign page with numbers,
prices and symbols passes byte for byte."""

from __future__ import annotations

import pytest

from .conftest import ADULT, CHILD, Proxy
from .upstream import Page, Upstream, html

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

HTML = {"content-type": "text/html; charset=utf-8"}
# The shared proxy's lists have `casino` (30) and `赌博` (10): masked, not blocked.
CASES = [
    ("leet", "<p>best ca$ino in town</p>", "<p>best ****** in town</p>"),
    ("repeats", "<p>caaaasinooo tonight</p>", "<p>*********** tonight</p>"),
    ("lookalike", "<p>саsino here</p>", "<p>****** here</p>"),  # Cyrillic с, а
    ("skip", "<p>网上赌@博平台</p>", "<p>网上***平台</p>"),
    ("emoji", "<p>网上赌🎲博平台</p>", "<p>网上***平台</p>"),
    ("bidi", "<p>go \u202eonisac\u202c now</p>", "<p>go \u202e******\u202c now</p>"),
]
BENIGN = "<p>2000 4x4 h264 $100 v1.2.3 deadbeef00 cook book hello! 反复 @home [1]</p>"


@pytest.mark.parametrize("name, body, expected", CASES, ids=[c[0] for c in CASES])
def test_evasion_masked_for_the_child(
    proxy: Proxy, upstream: Upstream, name: str, body: str, expected: str
) -> None:
    path = f"/evasion/{name}"
    upstream.pages[path] = Page(html(body).encode(), HTML)
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url(path))
    assert r.status_code == 200
    assert expected in r.content.decode(), r.content.decode()
    with proxy.client(ADULT) as c:
        assert c.get(upstream.url(path)).content == html(body).encode()


def test_benign_page_passes_unchanged(proxy: Proxy, upstream: Upstream) -> None:
    upstream.pages["/evasion/benign"] = Page(html(BENIGN).encode(), HTML)
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/evasion/benign"))
    assert r.status_code == 200
    assert r.content == html(BENIGN).encode()
