"""Who is asking: profile from the peer address or proxy-auth user, pass-through hosts."""

from __future__ import annotations

import ipaddress

from qinglang.policy.clients import ClientMap, peer_ip, proxy_user
from qinglang.policy.config import parse_config
from qinglang.policy.hosts import host_matches

CFG = parse_config(
    """
profiles: {child: {}, adult: {filter: false}, school: {}}
clients:
  - {match: 192.168.1.10, profile: adult}
  - {match: 192.168.1.0/24, profile: child}
  - {match: "2001:db8::/32", profile: school}
  - {user: dad, profile: adult}
default_profile: school
""",
    "/tmp/q.yaml",
)


def test_first_matching_rule_wins() -> None:
    m = ClientMap(CFG)
    assert m.profile_for(ipaddress.ip_address("192.168.1.10")) == "adult"
    assert m.profile_for(ipaddress.ip_address("192.168.1.11")) == "child"
    assert m.profile_for(ipaddress.ip_address("2001:db8::1")) == "school"
    assert m.profile_for(ipaddress.ip_address("10.0.0.1")) == "school"  # default
    assert m.profile_for(ipaddress.ip_address("10.0.0.1"), "dad") == "adult"
    assert m.profile_for(None, "stranger") == "school"


def test_peer_address_forms() -> None:
    assert str(peer_ip(("::ffff:192.168.1.10", 5, 0, 0))) == "192.168.1.10"
    assert str(peer_ip(("fe80::1%eth0", 5, 0, 0))) == "fe80::1"
    assert peer_ip(None) is None and peer_ip(("not an ip", 1)) is None


def test_proxy_user_never_the_password() -> None:
    assert proxy_user({"proxyauth": ("kid", "pw")}) == "kid"
    assert proxy_user({}) is None and proxy_user({"proxyauth": ("", "")}) is None


def test_host_patterns() -> None:
    pats = ["bank.example", "*.apple.example"]
    assert host_matches("bank.example", pats) and host_matches("www.Bank.Example.", pats)
    assert host_matches("bank.example:443", pats)
    assert not host_matches("notbank.example", pats)
    assert host_matches("push.apple.example", pats) and not host_matches("apple.example", pats)
    assert not host_matches(None, pats) and not host_matches("x", [])
