"""Pages through a real mitmdump with the addon: masked, blocked, untouched."""

from __future__ import annotations

import pytest

from .conftest import ADULT, CHILD, Proxy
from .upstream import CLEAN_TEXT, MASK_TERM, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_masked_page(proxy: Proxy, upstream: Upstream, tls: bool) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/mask.html", tls))
    assert r.status_code == 200
    assert MASK_TERM not in r.text and "****" in r.text
    assert CLEAN_TEXT in r.text
    assert r.headers["content-length"] == str(len(r.content))


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_clean_page_is_untouched(proxy: Proxy, upstream: Upstream, tls: bool) -> None:
    page = upstream.pages["/clean.html"]
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/clean.html", tls))
    assert r.status_code == 200
    assert r.content == page.body
    assert r.headers["etag"] == '"v1"'
    assert r.headers["content-type"] == page.headers["content-type"]


def test_adult_profile_gets_the_page_as_it_is(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(ADULT) as c:
        r = c.get(upstream.url("/mask.html", True))
    assert r.content == upstream.pages["/mask.html"].body
