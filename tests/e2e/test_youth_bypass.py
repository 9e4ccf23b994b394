"""Bypass resistance through a real mitmdump: DNS-over-HTTPS resolvers, the proxies/VPN
category and CONNECT to bare IP addresses are refused; private addresses and
``allow_ips`` are not.

A refused CONNECT never dials out; one that is let through is sent to the recording
upstream by the test route (public addresses never leave 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .youth_support import API, ZH, World, connect_status, events, eventually, youth_world

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CHILD, ADULT, TEEN = "127.0.0.1", "127.0.0.2", "127.0.0.3"

CONFIG = """
    lists: [lists]
    profiles:
      child: {}
      adult: {filter: false}
      teen:
        bypass: {allow_ips: [203.0.113.0/24], block_doh: false}
    clients:
      - {match: 127.0.0.2, profile: adult}
      - {match: 127.0.0.3, profile: teen}
    default_profile: child
    events: {db: events.sqlite}
"""
DOMAINS = {"proxies_vpn": ["freevpn.example.test"], "doh": ["dns.example-resolver.test"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with youth_world(tmp_path_factory.mktemp("youth-bypass"), CONFIG, DOMAINS) as w:
        yield w


def test_doh_resolvers_are_refused_at_connect(world: World) -> None:
    for host in (
        "dns.google",
        "cloudflare-dns.com",
        "mozilla.cloudflare-dns.com",
        "doh.pub",
        "dns.alidns.com",
        "dns.example-resolver.test",  # from the doh domain list
    ):
        assert connect_status(world.proxy, CHILD, host) == 403, host
    assert connect_status(world.proxy, CHILD, "www.example.test") == 200
    assert connect_status(world.proxy, TEEN, "dns.google") == 200  # block_doh: false
    rows = eventually(
        lambda: events(world.proxy, reason="dns_over_https", host="dns.google"), "a DoH event"
    )
    assert rows[0]["action"] == "block" and rows[0]["client"] == CHILD


def test_doh_by_its_shape_on_any_host(world: World) -> None:
    with world.proxy.client(CHILD) as c:
        r = c.get(
            "https://resolver.example.test/dns-query?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB",
            headers={"Accept": "application/dns-message"},
        )
        assert r.status_code == 403
        r = c.post(
            "https://resolver.example.test/resolve",
            content=b"\x00\x00\x01\x00\x00\x01",
            headers={"Content-Type": "application/dns-message"},
        )
        assert r.status_code == 403
        r = c.get(
            "https://resolver.example.test/resolve?name=example.com",
            headers=API | {"Accept": "application/dns-json"},
        )
        assert r.status_code == 403 and r.json()["reason"] == "dns_over_https"
    assert world.upstream.count("resolver.example.test") == 0


def test_proxies_and_vpns_are_refused(world: World) -> None:
    assert connect_status(world.proxy, CHILD, "freevpn.example.test") == 403
    assert connect_status(world.proxy, CHILD, "www.freevpn.example.test") == 403
    with world.proxy.client(CHILD) as c:
        r = c.get("http://freevpn.example.test/download", headers=ZH)
        assert r.status_code == 403 and "不能使用代理或 VPN 绕过过滤" in r.text
    assert connect_status(world.proxy, ADULT, "freevpn.example.test") == 200


def test_connect_to_bare_public_ip_is_refused(world: World) -> None:
    for host in ("93.184.216.34", "8.8.8.8", "[2001:db8::1]"):
        assert connect_status(world.proxy, CHILD, host) == 403, host
    # Private and loopback addresses are the home network: allowed.
    assert connect_status(world.proxy, CHILD, "192.168.1.1") == 200
    assert connect_status(world.proxy, CHILD, "127.0.0.1") != 403  # 502 if nothing listens
    # Other ports need the profile's allow_ports (docs/proxy.md, "Tunnels").
    assert connect_status(world.proxy, CHILD, "127.0.0.1", world.upstream.https_port) == 403
    # allow_ips exempts a range for one profile; a profile that does not filter is free.
    assert connect_status(world.proxy, TEEN, "203.0.113.5") == 200
    assert connect_status(world.proxy, TEEN, "198.51.100.7") == 403
    assert connect_status(world.proxy, ADULT, "93.184.216.34") == 200
    rows = eventually(
        lambda: events(world.proxy, reason="bare_ip", host="93.184.216.34"), "a bare-IP event"
    )
    assert rows[0]["detail"] == "93.184.216.34"


def test_plain_http_to_a_bare_ip_gets_the_block_page(world: World) -> None:
    with world.proxy.client(CHILD) as c:
        r = c.get("http://198.51.100.7/", headers=ZH)
        assert r.status_code == 403 and "不能直接用 IP 地址访问" in r.text
