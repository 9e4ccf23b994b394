"""``policy.hosts``: the Host header parse agrees with mitmproxy's, and host names are
compared in one canonical form (IDNA 2008, no trailing dot, lower case, no brackets).

``authority_host`` re-implements ``mitmproxy.net.http.url.parse_authority(text,
check=False)[0]`` (the host ``Request.pretty_host`` shows) without importing mitmproxy; the
property test below feeds both the same generated authorities and wants the same answer,
or the same exception.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mitmproxy.net.http.url import parse_authority

from qinglang.policy.hosts import authority_host, canonical, canonical_name, host_matches

# Label characters: DNS ones, upper case, then what a hostile Host header may hold.
_ODD = "ßüé中文。．\u200d\u00ad\ufeff%@/[] \t\r\n\x00\x7f"
_label = st.text(
    st.sampled_from(string.ascii_letters + string.digits + "-_" + _ODD), min_size=0, max_size=12
) | st.sampled_from(["xn--strae-oqa", "xn--", "xn--zz", "a" * 63, "a" * 64, "localhost", ""])
_name = st.lists(_label, min_size=1, max_size=5).map(".".join)
_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).flatmap(
    lambda ip: st.sampled_from([ip.compressed, ip.exploded, ip.compressed.upper()])
)
_zone = st.sampled_from(["", "%eth0", "%1", "%", "%a.b"])
_dot = st.sampled_from(["", ".", ".."])
_host = st.one_of(
    _name,
    st.tuples(_ipv4, _dot).map("".join),
    st.tuples(_ipv4, _dot).map(lambda t: f"[{t[0]}{t[1]}]"),
    st.tuples(_ipv6, _zone, _dot).map(lambda t: f"[{''.join(t)}]"),
    st.tuples(_ipv6, _zone).map("".join),  # unbracketed: never a valid authority
    st.text(st.characters(codec="utf-8") | st.characters(categories=["Cs"]), max_size=8),
)
_port = st.one_of(
    st.just(""),
    st.integers(-3, 70000).map(lambda n: f":{n}"),
    st.integers(0, 99).map(lambda n: f":{n:05d}"),  # leading zeros
    st.sampled_from([":", "::", ":80:80", ":٨٠", ":8o", ": 80", ":80\n", ":+80", ":99999999999"]),
)
_authority = st.one_of(
    st.tuples(_host, _port).map("".join),
    st.text(max_size=20),  # anything at all
    st.text(st.characters(categories=["Cs", "Cc", "Zs"]) | st.sampled_from(":[]."), max_size=10),
)


def _outcome(fn: object, text: str) -> tuple[str, object]:
    try:
        return ("host", fn(text))  # type: ignore[operator]
    except Exception as e:  # the same failure counts as agreement
        return ("raises", type(e).__name__)


# `authority_host("[::1.]")` is "[::1.]" where mitmproxy says "::1.": mitmproxy checks the
# IP address after dropping the trailing dot (check.is_valid_host), policy.hosts checks it
# with the dot (`_valid_wire_host` passes ``wire``, not ``labels``, to ip_address). Reported,
# not fixed here: this example keeps failing until the module agrees.
@example("[::.]")  # the shrunk form hypothesis finds by itself
@example("[::1.]")
@example("[::1.]:80")
@example("[1.2.3.4.]")
@example("[fe80::1%eth0]:443")
@example("a:80\n")
@example("straße.de:443")
@example("\udcff:1")
@example("[]")
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_authority)
def test_authority_host_is_mitmproxys_parse(text: str) -> None:
    ours = _outcome(authority_host, text)
    theirs = _outcome(lambda t: parse_authority(t, check=False)[0], text)
    assert ours == theirs, f"authority {text!r}"


@pytest.mark.parametrize(
    ("host", "want"),
    [
        ("straße.de", "xn--strae-oqa.de"),  # IDNA 2008 keeps the ß (2003 made it "ss")
        ("STRASSE.de", "strasse.de"),
        ("Example.COM.", "example.com"),
        ("  example.com  ", "example.com"),
        ("[::1]", "::1"),
        ("[0:0:0:0:0:0:0:1]", "::1"),
        ("2001:DB8::0:1", "2001:db8::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("中文.中国", "xn--fiq228c.xn--fiqs8s"),
        ("", None),
        (".", None),
        ("[]", None),
    ],
)
def test_canonical(host: str, want: str | None) -> None:
    assert canonical(host) == want


@pytest.mark.parametrize(
    ("host", "want"),
    [
        ("straße.de", "xn--strae-oqa.de"),
        ("WWW.Example.com.", "www.example.com"),
        ("under_score.example", "under_score.example"),
        ("[::1]", "::1"),
        ("10.0.0.1", "10.0.0.1"),
        ("not a name", None),
        ("example.com/path", None),
        ("a" * 64 + ".com", None),  # a label is at most 63
        ("-bad.example", None),
        ("", None),
    ],
)
def test_canonical_name(host: str, want: str | None) -> None:
    assert canonical_name(host) == want


@pytest.mark.parametrize(
    ("host", "patterns", "want"),
    [
        ("example.com", ["example.com"], True),
        ("WWW.Example.COM.", ["example.com"], True),  # case, trailing dot
        ("example.com:8080", ["example.com"], True),  # a port on the host
        ("example.com", ["example.com:443"], True),  # and on the pattern
        ("badexample.com", ["example.com"], False),  # a label boundary, not a suffix
        ("example.com.evil", ["example.com"], False),
        ("example.com", ["*.example.com"], False),  # the wildcard: only names under it
        ("a.example.com", ["*.example.com"], True),
        ("a.b.example.com", ["*.example.com"], True),
        ("straße.de", ["xn--strae-oqa.de"], True),  # IDNA 2008 both ways
        ("xn--strae-oqa.de", ["straße.de"], True),
        ("www.straße.de", ["*.STRASSE.de"], False),  # ß is not "ss"
        ("[::1]:443", ["::1"], True),  # brackets and port
        ("::1", ["[0::1]"], True),
        ("127.0.0.1", ["127.0.0.2"], False),
        (None, ["example.com"], False),
        ("", ["example.com"], False),
        ("example.com", [], False),
    ],
)
def test_host_matches(host: str | None, patterns: list[str], want: bool) -> None:
    assert host_matches(host, patterns) is want
