"""The ``devices:`` entries by address, MAC and log-in: their checks, the profile they
give, the names pages show, and the neighbour table MACs come from."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from qinglang.deploy.neighbors import Neighbors, parse_arp
from qinglang.policy.clients import ClientMap
from qinglang.policy.config import load_config, normalize_mac

CFG = """\
profiles: {child: {}, teen: {}, adult: {filter: false}}
devices:
  - {name: mei-tablet, label: "Mei's tablet", ip: 192.168.1.23, profile: child}
  - {name: tv, mac: "AA-BB-CC-DD-EE-01", profile: teen}
  - {name: dad-laptop, user: dad, profile: adult}
  - {name: kid-phone, profile: child, wireguard_port: 51821}
clients:
  - {match: 192.168.1.0/24, profile: teen}
default_profile: child
"""

ARP = """\
IP address       HW type     Flags       HW address            Mask     Device
192.168.1.50     0x1         0x2         aa:bb:cc:dd:ee:01     *        eth0
192.168.1.51     0x1         0x0         00:00:00:00:00:00     *        eth0
"""


def _cfg(tmp_path: Path, text: str = CFG):  # type: ignore[no-untyped-def]
    p = tmp_path / "qinglang.yaml"
    p.write_text(text, encoding="utf-8")
    return load_config(p)


def ip(s: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(s)


def test_devices_give_their_profile_before_client_rules(tmp_path: Path) -> None:
    m = ClientMap(_cfg(tmp_path))
    assert m.profile_for(ip("192.168.1.23")) == "child"  # the device, not the /24 rule
    assert m.profile_for(ip("192.168.1.24")) == "teen"
    assert m.profile_for(ip("192.168.1.50"), mac="aa:bb:cc:dd:ee:01") == "teen"
    assert m.profile_for(ip("10.9.9.9"), user="dad") == "adult"
    assert m.profile_for(ip("10.9.9.9"), listener=51821) == "child"
    assert m.uses_mac
    assert not m.is_known(ip("10.9.9.9")) and m.is_known(ip("192.168.1.77"))


def test_names_pages_show(tmp_path: Path) -> None:
    m = ClientMap(_cfg(tmp_path))
    assert m.device_name("192.168.1.23") == "Mei's tablet"
    assert m.device_name("wg:kid-phone") == "kid-phone"
    assert m.device_name("192.168.1.50", mac="aa:bb:cc:dd:ee:01") == "tv"
    assert m.device_name("10.1.1.1", user="dad") == "dad-laptop"
    assert m.device_name("10.1.1.1") is None


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("{name: a, ip: 10.0.0.1, user: x, profile: child}", "exactly one of"),
        ("{name: a, ip: 10.0.0.0/24, profile: child}", "not an IP address"),
        ("{name: a, mac: 'aa:bb:cc', profile: child}", "not a MAC address"),
        ("{name: a, ip: 10.0.0.1, profile: nobody}", "unknown profile"),
        ("{name: a, ip: 10.0.0.1, label: '', profile: child}", "label"),
    ],
)
def test_device_mistakes(tmp_path: Path, entry: str, says: str) -> None:
    with pytest.raises(ValueError) as e:
        _cfg(tmp_path, f"profiles: {{child: {{}}}}\ndevices:\n  - {entry}\n")
    assert says in str(e.value) and ":3: devices[0]" in str(e.value)


def test_the_same_address_twice(tmp_path: Path) -> None:
    text = (
        "profiles: {child: {}}\ndevices:\n  - {name: a, ip: 10.0.0.1, profile: child}\n"
        "  - {name: b, ip: 10.0.0.1, profile: child}\n"
    )
    with pytest.raises(ValueError, match=r":4: devices\[1\]\.ip: ip '10.0.0.1' is also device 0"):
        _cfg(tmp_path, text)


@pytest.mark.parametrize(
    "text", ["AA:BB:CC:DD:EE:FF", "aa-bb-cc-dd-ee-ff", "aabbccddeeff", " aa:bb:cc:dd:ee:ff "]
)
def test_mac_spellings(text: str) -> None:
    assert normalize_mac(text) == "aa:bb:cc:dd:ee:ff"


def test_neighbour_table(tmp_path: Path) -> None:
    assert parse_arp(ARP) == {"192.168.1.50": "aa:bb:cc:dd:ee:01"}
    table = tmp_path / "arp"
    table.write_text(ARP, encoding="utf-8")
    n = Neighbors(table)
    assert n.mac_of(ip("192.168.1.50")) == "aa:bb:cc:dd:ee:01"
    assert n.mac_of(ip("192.168.1.51")) is None and n.mac_of(None) is None
    assert Neighbors(tmp_path / "missing").mac_of(ip("192.168.1.50")) is None
