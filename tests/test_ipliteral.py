"""IP literals in every notation: the parser against the C library that dials them."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qinglang.policy import ipliteral
from qinglang.policy.domains import load_domains
from qinglang.policy.hosts import canonical, host_matches, parse_ip
from qinglang.policy.urlrules import DomainSet, compile_url_pattern

BOUNDED = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def getaddrinfo_ip(text: str) -> str | None:
    """What the proxy's own dial reads ``text`` as, without asking DNS."""
    try:
        infos = socket.getaddrinfo(text.encode("ascii"), None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return str(infos[0][4][0])


def inet_aton_ip(text: str) -> str | None:
    try:
        return socket.inet_ntoa(socket.inet_aton(text))
    except (OSError, ValueError):
        return None


def _spell(n: int, style: str, pad: int) -> str:
    if style == "hex":
        return "0x" + "0" * pad + format(n, "x")
    if style == "HEX":
        return "0X" + "0" * pad + format(n, "X")
    if style == "oct":
        return "0" + "0" * pad + format(n, "o")
    return str(n)


@st.composite
def notations(draw: st.DrawFn) -> tuple[str, ipaddress.IPv4Address]:
    """An IPv4 address written in 1-4 parts, each part in its own base."""
    addr = ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))
    b = addr.packed
    n = draw(st.integers(1, 4))
    values = [*list(b[: n - 1]), int.from_bytes(b[n - 1 :], "big")]
    styles = st.sampled_from(["dec", "hex", "HEX", "oct"])
    parts = [_spell(v, draw(styles), draw(st.integers(0, 3))) for v in values]
    return ".".join(parts), addr


@BOUNDED
@given(notations())
@example(("134744072", ipaddress.IPv4Address("8.8.8.8")))
@example(("0x08080808", ipaddress.IPv4Address("8.8.8.8")))
@example(("010.010.010.010", ipaddress.IPv4Address("8.8.8.8")))
@example(("8.8.2056", ipaddress.IPv4Address("8.8.8.8")))
@example(("0x7f.1", ipaddress.IPv4Address("127.0.0.1")))
def test_every_notation_is_the_address_the_dial_reaches(
    case: tuple[str, ipaddress.IPv4Address],
) -> None:
    text, addr = case
    assert ipliteral.parse(text) == addr
    assert getaddrinfo_ip(text) == str(addr)
    assert inet_aton_ip(text) == str(addr)
    assert canonical(text) == str(addr)
    assert canonical(text.upper() + ".") == str(addr)


# Strings made of what an address is written with, and a few letters that are not.
_ALPHABET = st.text(alphabet="0123456789xXabcdefg.:%", min_size=1, max_size=24)


@BOUNDED
@given(_ALPHABET)
@example("0x.1")
@example("1.0x")
@example("4294967296")
@example("1.16777216")
@example("08")
@example("1..2")
@example("::ffff:8.8.8.8")
@example("fe80::1%1")
def test_agrees_with_getaddrinfo(text: str) -> None:
    """Whatever getaddrinfo reads as an address, the parser reads as the same one; the
    parser reads more only where a browser does (``0x`` with no digits is 0 there)."""
    ref = getaddrinfo_ip(text)
    got = ipliteral.parse(text)
    if ref is not None:
        assert got is not None, text
        want = ipaddress.ip_address(ref.split("%", 1)[0])
        if isinstance(want, ipaddress.IPv6Address) and want.ipv4_mapped is not None:
            want = want.ipv4_mapped
        assert got == want
    elif got is not None:
        if ":" in text:
            # A zone getaddrinfo does not know (``::%:``): still read as the address, so
            # the rules judge it as one (stricter, never looser).
            assert "%" in text, text
            v6 = ipaddress.IPv6Address(text.split("%", 1)[0])
            assert got == (v6.ipv4_mapped or v6), text
        else:
            assert any(p.lower() == "0x" for p in text.split(".")), text


@BOUNDED
@given(st.text(alphabet="0123456789xX.", min_size=1, max_size=20))
def test_agrees_with_inet_aton(text: str) -> None:
    ref = inet_aton_ip(text)
    got = ipliteral.parse_ipv4(text)
    if ref is not None:
        assert got is not None and str(got) == ref
    elif got is not None:
        assert any(p.lower() == "0x" for p in text.split(".")), text


@BOUNDED
@given(st.ip_addresses(v=6))
def test_ipv6_as_inet_pton_reads_it(addr: ipaddress.IPv6Address) -> None:
    text = str(addr)
    assert socket.inet_pton(socket.AF_INET6, text) == addr.packed
    got = ipliteral.parse(text)
    want = addr.ipv4_mapped or addr
    assert got == want
    assert parse_ip(f"[{text}]") == want
    assert canonical(f"[{text.upper()}]") == want.compressed


@pytest.mark.parametrize(
    "name",
    ["example.com", "1example.com", "0x7f.com", "1.2.3.4.5", "999.1.1.1", "1.2.3.4a", "٣.٣.٣.٣"],
)
def test_names_stay_names(name: str) -> None:
    assert parse_ip(name) is None


def test_mapped_and_zoned_ipv6_are_their_address() -> None:
    assert canonical("[::ffff:127.0.0.1]") == "127.0.0.1"
    assert canonical("fe80::1%eth0") == "fe80::1"
    assert canonical("１３４７４４０７２") == "8.8.8.8"  # full-width digits, as browsers fold them


def test_an_address_is_not_a_domain_under_a_shorter_address() -> None:
    listed = DomainSet(["0.0.1", "0x7f.0.0.2"])
    assert listed.match(canonical("127.0.0.1") or "") is None
    assert listed.match(canonical("2130706434") or "") == "127.0.0.2"
    assert not host_matches("0x7f.1", ["0.1"])
    assert host_matches("0x7f.1", ["127.0.0.1"])


def test_url_pattern_hosts_written_as_addresses_are_canonical() -> None:
    p = compile_url_pattern("0x7f.1/secret")
    assert p.matches("127.0.0.1", "/secret")


def test_domain_lists_hold_addresses_in_any_notation(tmp_path: Path) -> None:
    (tmp_path / "domains").mkdir()
    (tmp_path / "domains" / "proxies_vpn.txt").write_text("0x7f.2\n0.0.1\n", "utf-8")
    lists = load_domains([tmp_path])
    assert lists.categories_for("2130706434") == {"proxies_vpn"}
    assert lists.categories_for("127.0.0.2") == {"proxies_vpn"}
    assert lists.categories_for("127.0.0.1") == set()  # 0.0.1 is no parent of it


def test_an_address_the_client_wrote_is_judged_whatever_host_says() -> None:
    from qinglang.policy.decide import other_name

    assert other_name("134744072", "example.com", written=True) == "8.8.8.8"
    assert other_name("0x7f.1", "127.0.0.1", written=True) is None  # the same address
    # Transparent mode: the address the connection was going to; the name decides.
    assert other_name("134744072", "example.com") is None
    assert other_name("other.example", "example.com") == "other.example"
