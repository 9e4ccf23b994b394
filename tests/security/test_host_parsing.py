"""Host headers as a hostile client writes them (issue 19, item 3): property tests.

``hosts.strict_authority`` and ``destination.where_to`` never raise on any input, never
accept what a server could read otherwise (a lone surrogate is a byte that was not UTF-8),
and agree with mitmproxy's own strict parse on what they accept. Then arbitrary bytes are
sent as the Host header through a real mitmdump: the blocked site and the harmful page
never come back, and nothing is logged as an error (``child_proxy`` checks the log).
"""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mitmproxy.net.http.url import parse_authority

from qinglang.policy.destination import where_to
from qinglang.policy.hosts import strict_authority

from .conftest import MARKER, Attacked, status_of

_ODD = "ßüé中文。．\u200d\u00ad\ufeff%@/[]: \t\x00\x7f٤"
_label = st.text(st.sampled_from(string.ascii_letters + string.digits + "-_" + _ODD), max_size=10)
_host = st.one_of(
    st.lists(_label, min_size=1, max_size=4).map(".".join),
    st.ip_addresses().map(lambda ip: f"[{ip}]" if ip.version == 6 else str(ip)),
    st.text(st.characters(codec="utf-8") | st.characters(categories=["Cs"]), max_size=8),
)
_port = st.one_of(
    st.just(""),
    st.integers(-2, 70000).map(lambda n: f":{n}"),
    st.sampled_from([":", "::", ":80:80", ":٨٠", ":8o", ": 80", ":+80", ":\udcff", ":0080"]),
)
_authority = st.one_of(st.tuples(_host, _port).map("".join), st.text(max_size=16))
# Raw header values: any bytes, read as mitmproxy reads them.
_raw = st.binary(max_size=24).map(lambda b: b.decode("utf-8", "surrogateescape"))


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


@example("evil.test:\udcff")
@example("evil.test:")
@example("evil.test:٤٤٣")
@example("[::1]:443")
@example("a..b")
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_authority, _raw))
def test_strict_authority_accepts_only_what_servers_agree_on(text: str) -> None:
    parsed = strict_authority(text)
    if parsed is None:
        return
    host, port = parsed
    assert not _has_surrogate(host)
    host.encode("idna")  # a name a resolver can be asked for
    assert port is None or 0 < port <= 65535
    # mitmproxy's strict parse (the one it uses for a request's destination) agrees.
    theirs = parse_authority(text, check=True)
    assert theirs == (host, port), text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_authority, _raw), max_size=3), _authority | st.just(""),
       st.none() | _raw)  # fmt: skip
def test_where_to_never_passes_what_it_cannot_read(
    headers: list[str], authority: str, sni: str | None
) -> None:
    t = where_to(host_headers=headers, authority=authority, request_host="news.test", sni=sni,
                 shown=headers[0] if headers else "news.test")  # fmt: skip
    if len(headers) > 1:
        assert t.problem is not None
    if any(_has_surrogate(h) for h in [*headers, authority]):
        assert t.problem is not None
    if t.problem is None:
        for name in t.others:
            assert not _has_surrogate(name)
            name.encode("ascii")  # canonical: punycode


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    prefix=st.sampled_from([b"evil.test", b"news.test", b"EVIL.test", b"evil.test."]),
    suffix=st.binary(min_size=1, max_size=8).filter(lambda b: b"\r" not in b and b"\n" not in b),
)
def test_any_bytes_in_host_never_open_the_blocked_site(
    child_proxy: Attacked, prefix: bytes, suffix: bytes
) -> None:
    target = "http://evil.test/page" if prefix.lower().startswith(b"evil") else (
        "http://news.test/harmful")  # fmt: skip
    request = (
        f"GET {target} HTTP/1.1\r\n".encode()
        + b"Host: " + prefix + suffix + b"\r\n"
        + b"Accept: text/html\r\nConnection: close\r\n\r\n"
    )  # fmt: skip
    reply = child_proxy.raw(request)
    assert MARKER.encode() not in reply, (prefix + suffix, reply[:200])
    assert status_of(reply) in (400, 403), (prefix + suffix, reply[:200])


pytestmark = pytest.mark.e2e
