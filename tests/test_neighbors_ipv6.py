"""MACs of IPv6 devices: the kernel's IPv6 neighbour table as `ip -6 neigh show` prints
it (recorded from real routers: a Linux box and an OpenWrt br-lan), read by a real
command, and the profile a device written by MAC gets when it asks over IPv6."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from qinglang.deploy.neighbors import Neighbors, parse_ip_neigh
from qinglang.policy.clients import ClientMap
from qinglang.policy.config import load_config

IP6_NEIGH = """\
fe80::1 dev eth0 lladdr 00:11:22:33:44:55 router REACHABLE
2408:8207:1c2a:5f0::1a dev br-lan lladdr AA:BB:CC:DD:EE:01 STALE
2408:8207:1c2a:5f0:a1b2:c3d4:e5f6:7788 dev br-lan lladdr aa:bb:cc:dd:ee:01 DELAY
fd00::1 dev eth0  FAILED
fd00::2 dev br-lan INCOMPLETE
fe80::1 dev wlan0 lladdr 66:77:88:99:aa:bb STALE
2408:8207:1c2a:5f0:0000::99 dev br-lan lladdr aa:bb:cc:dd:ee:04 PERMANENT
fd00::7 dev br-lan lladdr 00:00:00:00:00:00 NOARP
fd00::8 dev br-lan lladdr zz:bb:cc:dd:ee:04 STALE
192.168.1.50 dev eth0 lladdr aa:bb:cc:dd:ee:09 REACHABLE
"""

CFG = """\
profiles: {child: {}, teen: {}}
devices:
  - {name: tv, mac: "AA-BB-CC-DD-EE-01", profile: teen}
default_profile: child
"""


def test_parse_ip_neigh() -> None:
    assert parse_ip_neigh(IP6_NEIGH) == {
        "fe80::1": "00:11:22:33:44:55",  # the first interface's entry
        "2408:8207:1c2a:5f0::1a": "aa:bb:cc:dd:ee:01",
        "2408:8207:1c2a:5f0:a1b2:c3d4:e5f6:7788": "aa:bb:cc:dd:ee:01",
        "2408:8207:1c2a:5f0::99": "aa:bb:cc:dd:ee:04",  # compressed as peer_ip writes it
    }
    assert parse_ip_neigh("") == {}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789abcdef:. lladdrevREACHBLSTFI%", max_size=60)))
def test_parse_ip_neigh_never_crashes(lines: list[str]) -> None:
    for addr, mac in parse_ip_neigh("\n".join(lines)).items():
        assert isinstance(ipaddress.ip_address(addr), ipaddress.IPv6Address)
        assert len(mac) == 17 and mac == mac.lower()


def _recorded(tmp_path: Path, text: str = IP6_NEIGH) -> list[str]:
    out = tmp_path / "ip6-neigh.txt"
    out.write_text(text, encoding="ascii")
    return ["cat", str(out)]


def test_ipv6_macs_from_the_command(tmp_path: Path) -> None:
    n = Neighbors(tmp_path / "no-arp", ip6_command=_recorded(tmp_path))
    assert n.mac_of(ipaddress.ip_address("2408:8207:1c2a:5f0::1a")) == "aa:bb:cc:dd:ee:01"
    assert n.mac_of("2408:8207:1c2a:5f0:0:0:0:99") == "aa:bb:cc:dd:ee:04"
    assert n.mac_of("fe80::1%eth0") == "00:11:22:33:44:55"
    assert n.mac_of("fd00::1") is None and n.mac_of("fd00::7") is None
    # An IPv4 address is looked up in the ARP table, never in the IPv6 one.
    assert n.mac_of("192.168.1.50") is None


def test_ipv4_mapped_addresses_use_the_arp_table(tmp_path: Path) -> None:
    arp = tmp_path / "arp"
    arp.write_text(
        "IP address  HW type  Flags  HW address  Mask  Device\n"
        "192.168.1.50  0x1  0x2  aa:bb:cc:dd:ee:09  *  eth0\n",
        encoding="ascii",
    )
    n = Neighbors(arp, ip6_command=_recorded(tmp_path))
    assert n.mac_of("::ffff:192.168.1.50") == "aa:bb:cc:dd:ee:09"


FAILS = "fe80::1 dev x lladdr 00:11:22:33:44:55 STALE"  # printed, then exit status 2


def test_no_table_when_the_command_is_missing_fails_or_hangs(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ip"
    for command in (
        [str(missing), "-6", "neigh", "show"],
        [sys.executable, "-c", f"print({FAILS!r}); raise SystemExit(2)"],
        [sys.executable, "-c", "import time; time.sleep(5)"],
        [],
    ):  # fmt: skip
        n = Neighbors(tmp_path / "no-arp", ip6_command=command)
        assert n.mac_of("fe80::1") is None, command


def test_a_device_written_by_mac_gets_its_profile_over_ipv6(tmp_path: Path) -> None:
    p = tmp_path / "qinglang.yaml"
    p.write_text(CFG, encoding="utf-8")
    clients = ClientMap(load_config(p))
    n = Neighbors(tmp_path / "no-arp", ip6_command=_recorded(tmp_path))
    tv = ipaddress.ip_address("2408:8207:1c2a:5f0:a1b2:c3d4:e5f6:7788")
    assert clients.profile_for(tv, mac=n.mac_of(tv)) == "teen"
    assert clients.device_name(str(tv), mac=n.mac_of(tv)) == "tv"
    other = ipaddress.ip_address("2408:8207:1c2a:5f0::99")
    assert clients.profile_for(other, mac=n.mac_of(other)) == "child"
