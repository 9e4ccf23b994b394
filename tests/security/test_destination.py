"""One answer to "where does this request go" (issue 19, item 3).

The rules read the Host header; a server may pick its site by the request line's
absolute-form target, by the TLS server name, or go where the proxy dials (the CONNECT
target). A child who names an allowed site in one place and a blocked one in another must
get the block page, and a request a server could read otherwise than the rules (two Host
headers, a port that is not a number, a host that is not UTF-8 or IDNA) gets a 400 without
anything being fetched. ``evil.test`` is on the child's ``deny_domains``; ``news.test``
serves clean pages under ``/clean``.
"""

from __future__ import annotations

import pytest

from .conftest import ADULT, CHILD, MARKER, Attacked, status_of

pytestmark = pytest.mark.e2e


def _get(target: str, *headers: bytes) -> bytes:
    return (
        f"GET {target} HTTP/1.1\r\n".encode()
        + b"".join(h + b"\r\n" for h in headers)
        + b"Accept: text/html\r\nConnection: close\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("why", "host_headers"),
    [
        ("two Host headers", [b"Host: news.test", b"Host: evil.test"]),
        ("two equal Host headers", [b"Host: news.test", b"Host: news.test"]),
        ("an empty port", [b"Host: news.test:"]),
        ("a port that is not a number", [b"Host: news.test:http"]),
        ("a port in other digits", ["Host: news.test:٤٤٣".encode()]),
        ("a port out of range", [b"Host: news.test:65536"]),
        ("a byte that is not UTF-8 in the port", [b"Host: news.test:\xff"]),
        ("a byte that is not UTF-8 in the name", [b"Host: news\xc3.test"]),
        ("an empty label", [b"Host: news..test"]),
        ("a space in the name", [b"Host: news .test"]),
    ],
)
@pytest.mark.parametrize("source", [CHILD, ADULT])
def test_unreadable_host_is_400(
    child_proxy: Attacked, why: str, host_headers: list[bytes], source: str
) -> None:
    """For every profile: a request a server could read otherwise is not passed on."""
    before = len(child_proxy.upstream.seen)
    reply = child_proxy.raw(_get("http://news.test/clean", *host_headers), source=source)
    assert status_of(reply) == 400, (why, reply[:300])
    assert MARKER.encode() not in reply
    assert len(child_proxy.upstream.seen) == before, f"{why}: the upstream was asked"


def test_two_host_headers_inside_a_tunnel(child_proxy: Attacked) -> None:
    before = len(child_proxy.upstream.seen)
    reply = child_proxy.tunnel(
        "news.test:443",
        b"GET /clean HTTP/1.1\r\nHost: news.test\r\nHost: evil.test\r\nConnection: close\r\n\r\n",
        sni="news.test",
    )
    assert status_of(reply) == 400, reply[:300]
    assert len(child_proxy.upstream.seen) == before


def test_valid_names_still_pass(child_proxy: Attacked) -> None:
    """The strict reading refuses only what is broken: ports, case, a trailing dot and
    an international name pass as before."""
    for host in [b"news.test", b"news.test:80", b"NEWS.Test", b"news.test.",
                 "新闻.test".encode()]:  # fmt: skip
        reply = child_proxy.raw(_get("http://news.test/clean", b"Host: " + host))
        assert status_of(reply) == 200, (host, reply[:300])
        assert MARKER.encode() in reply


def test_absolute_form_naming_a_blocked_site(child_proxy: Attacked) -> None:
    """Plain HTTP through the proxy: the absolute URL (which the proxy dials) names the
    blocked site, the Host header an allowed one."""
    reply = child_proxy.raw(_get("http://evil.test/clean", b"Host: news.test"))
    assert status_of(reply) == 403 and MARKER.encode() not in reply


def test_absolute_form_inside_a_tunnel(child_proxy: Attacked) -> None:
    """Inside a tunnel to an allowed site, an absolute-form target naming a blocked one:
    a server reads the target, not the Host header (RFC 9112, section 3.2.2)."""
    before = len(child_proxy.upstream.requests_for("news.test"))
    reply = child_proxy.tunnel(
        "news.test:443",
        b"GET https://evil.test/clean HTTP/1.1\r\nHost: news.test\r\nAccept: text/html\r\n"
        b"Connection: close\r\n\r\n",
        sni="news.test",
    )
    assert status_of(reply) in (400, 403), reply[:300]
    assert MARKER.encode() not in reply
    assert len(child_proxy.upstream.requests_for("news.test")) == before


def test_tls_name_of_a_blocked_site(child_proxy: Attacked) -> None:
    """A tunnel to an allowed site with the blocked site's TLS server name (a CDN picks
    the site by it) and an allowed Host header."""
    reply = child_proxy.tunnel(
        "news.test:443",
        b"GET /clean HTTP/1.1\r\nHost: news.test\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
        sni="evil.test",
    )
    assert status_of(reply) == 403 and MARKER.encode() not in reply


def test_tunnel_to_a_blocked_site_with_allowed_names(child_proxy: Attacked) -> None:
    """CONNECT to the blocked site, TLS name and Host header of an allowed one: the
    proxy dials the CONNECT target."""
    reply = child_proxy.tunnel(
        "evil.test:443",
        b"GET /clean HTTP/1.1\r\nHost: news.test\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
        sni="news.test",
    )
    assert status_of(reply) == 403 and MARKER.encode() not in reply


def test_host_header_of_a_blocked_site_in_an_allowed_tunnel(child_proxy: Attacked) -> None:
    reply = child_proxy.tunnel(
        "news.test:443",
        b"GET /clean HTTP/1.1\r\nHost: evil.test\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
        sni="news.test",
    )
    assert status_of(reply) == 403 and MARKER.encode() not in reply


def test_all_names_agreeing_on_an_allowed_site_pass(child_proxy: Attacked) -> None:
    reply = child_proxy.tunnel(
        "news.test:443",
        b"GET /clean HTTP/1.1\r\nHost: news.test\r\nAccept: text/html\r\nConnection: close\r\n\r\n",
        sni="news.test",
    )
    assert status_of(reply) == 200 and MARKER.encode() in reply
