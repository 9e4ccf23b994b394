"""DNS mode as a parent turns it on: a fresh data directory, `qinglang run --dns`, the
router's DNS pointed at it. A device with no CA and no proxy settings asks real DNS
queries (dnspython) of the real listener; the upstream is a real DNS server on 127.0.0.1.

Clients: 127.0.0.1 the child (the default profile, with the games preset of the fresh
config), 127.0.0.2 the parent (not filtered), 127.0.0.3 a child with a curfew.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sqlite3
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dns.rcode
import pytest

from qinglang.deploy import datadir

from .conftest import free_port, stop_group
from .dns_support import SAFE, Zone, address_of, addresses, ask, cnames, dns_upstream, udp_port_free
from .youth_support import TestClock, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CHILD, PARENT, NIGHT = "127.0.0.1", "127.0.0.2", "127.0.0.3"
# Local wall-clock moments (the fresh config names no time zone).
MONDAY_10 = datetime(2025, 3, 10, 10, 0).astimezone().isoformat()
SATURDAY_2030 = datetime(2025, 3, 15, 20, 30).astimezone().isoformat()
MONDAY_2230 = datetime(2025, 3, 10, 22, 30).astimezone().isoformat()

EXTRA = """
  night:
    games: true
    curfew: ["22:00-07:00"]
    always_allowed: [school.example]
clients:
  - {{match: {parent}, profile: parent}}
  - {{match: {night}, profile: night}}
dns:
  upstreams: ["127.0.0.1:{upstream}"]
  log_interval: 600
"""


@dataclass
class Home:
    root: Path
    dns_port: int
    zone: Zone
    clock: TestClock
    log: Path

    def events(self) -> list[sqlite3.Row]:
        db_path = self.root / "qinglang-events.sqlite"
        if not db_path.exists():
            return []
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        db.row_factory = sqlite3.Row
        try:
            return list(db.execute("SELECT * FROM events WHERE path LIKE 'dns:%' ORDER BY ts"))
        except sqlite3.OperationalError:
            return []
        finally:
            db.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    root = tmp_path_factory.mktemp("dnshome") / "qinglang"
    d = datadir.resolve(str(root))
    datadir.ensure(d)  # the fresh config a first `qinglang run` writes
    text = d.config.read_text("utf-8").replace("\nclients: []\n", "\n")
    with dns_upstream() as (up_port, zone):
        # The extra profile goes under `profiles:`, which the fresh config ends with parent.
        marker = "  parent:\n    filter: false\n"
        assert marker in text
        extra = EXTRA.format(parent=PARENT, night=NIGHT, upstream=up_port)
        profile_part, _, rest = extra.partition("clients:")
        text = text.replace(marker, marker + profile_part.lstrip("\n"))
        d.config.write_text(text + "clients:" + rest, encoding="utf-8")
        clock = TestClock(root / "clock.txt")
        clock.set(MONDAY_10)
        dns_port, port = udp_port_free(), free_port()
        log = root.parent / "run.log"
        env = {**os.environ, "QINGLANG_HOME": str(root)}
        with log.open("wb") as f:
            proc = subprocess.Popen(
                ["qinglang", "run", "--dns", f"127.0.0.1:{dns_port}",
                 "--listen-host", "127.0.0.1", "--listen-port", str(port),
                 "--set", "qinglang_workers=0", "--set", f"qinglang_clock={clock.path}",
                 "--set", f"qinglang_dashboard=127.0.0.1:{free_port()}"],
                stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=env,
            )  # fmt: skip
        try:
            deadline = time.monotonic() + 40
            while "filtering proxy listening" not in log.read_text("utf-8", "replace"):
                assert proc.poll() is None, log.read_text("utf-8", "replace")
                assert time.monotonic() < deadline, log.read_text("utf-8", "replace")
                time.sleep(0.1)
            yield Home(root, dns_port, zone, clock, log)
        finally:
            stop_group(proc)
        text = log.read_text("utf-8", "replace")
        assert "Traceback" not in text and "Addon error" not in text, text[-4000:]


@pytest.fixture(autouse=True)
def _weekday_morning(home: Home) -> None:
    home.clock.set(MONDAY_10)


def test_allowed_names_resolve_upstream(home: Home) -> None:
    r = ask(home.dns_port, "news.example")
    assert r.rcode() == dns.rcode.NOERROR
    assert addresses(r) == [address_of("news.example")]
    assert addresses(ask(home.dns_port, "news.example", "AAAA")) == ["2001:db8::53"]


def test_porn_and_gambling_blocked_without_asking_upstream(home: Home) -> None:
    for name in ("www.pornhub.com", "video.xxx", "www.bet365.com"):
        assert addresses(ask(home.dns_port, name)) == ["0.0.0.0"], name
        assert addresses(ask(home.dns_port, name, "AAAA")) == ["::"], name
        assert name not in home.zone.asked
    # The parent's device is not filtered.
    assert addresses(ask(home.dns_port, "www.pornhub.com", source=PARENT)) == [
        address_of("www.pornhub.com")
    ]


def test_games_only_in_the_window(home: Home) -> None:
    assert addresses(ask(home.dns_port, "store.steampowered.com")) == ["0.0.0.0"]
    assert addresses(ask(home.dns_port, "pvp.qq.com")) == ["0.0.0.0"]
    home.clock.set(SATURDAY_2030)
    assert addresses(ask(home.dns_port, "store.steampowered.com")) == [
        address_of("store.steampowered.com")
    ]


def test_safe_search_by_cname(home: Home) -> None:
    for name, safe in [
        ("www.google.com", "forcesafesearch.google.com"),
        ("www.google.com.hk", "forcesafesearch.google.com"),
        ("www.youtube.com", "restrict.youtube.com"),
        ("www.bing.com", "strict.bing.com"),
        ("duckduckgo.com", "safe.duckduckgo.com"),
    ]:
        r = ask(home.dns_port, name)
        assert cnames(r) == [safe] and addresses(r) == [SAFE[safe]], name
    # Not for the parent, and not for Google's other services.
    assert cnames(ask(home.dns_port, "www.google.com", source=PARENT)) == []
    assert addresses(ask(home.dns_port, "mail.google.com")) == [address_of("mail.google.com")]


def test_canaries_and_doh_resolvers_are_not_resolved(home: Home) -> None:
    for name in ("use-application-dns.net", "mask.icloud.com", "mask-h2.icloud.com", "dns.google"):
        assert ask(home.dns_port, name).rcode() == dns.rcode.NXDOMAIN, name
        assert name not in home.zone.asked
    # The parent's browser may keep its own encrypted DNS.
    assert ask(home.dns_port, "dns.google", source=PARENT).rcode() == dns.rcode.NOERROR


def test_a_cname_to_a_blocked_name_is_blocked(home: Home) -> None:
    assert addresses(ask(home.dns_port, "cloaked.example")) == ["0.0.0.0"]


def test_curfew_blocks_all_but_always_allowed(home: Home) -> None:
    assert addresses(ask(home.dns_port, "news.example", source=NIGHT)) == [
        address_of("news.example")
    ]
    home.clock.set(MONDAY_2230)
    assert addresses(ask(home.dns_port, "news.example", source=NIGHT)) == ["0.0.0.0"]
    assert addresses(ask(home.dns_port, "www.school.example", source=NIGHT)) == [
        address_of("www.school.example")
    ]
    # The curfew is this profile's: the child without one still resolves.
    assert addresses(ask(home.dns_port, "news.example")) == [address_of("news.example")]


def test_queries_become_events_rate_limited(home: Home) -> None:
    for _ in range(5):
        ask(home.dns_port, "chatty-tv.example")
        ask(home.dns_port, "www.xvideos.com")

    def rows() -> list[sqlite3.Row]:
        return [r for r in home.events() if r["host"] in ("chatty-tv.example", "www.xvideos.com")]

    found = eventually(lambda: len(rows()) >= 2 and rows(), "the DNS events")
    time.sleep(1.5)  # the event log writes in batches: nothing more may come
    found = rows()
    by_host = {r["host"]: r for r in found}
    assert len(found) == 2
    assert by_host["chatty-tv.example"]["action"] == "pass"
    porn = by_host["www.xvideos.com"]
    assert (porn["action"], porn["reason"], porn["client"]) == ("block", "category", CHILD)
    assert porn["path"] == "dns:A" and "porn" in porn["categories"]


def test_several_upstreams_fail_over(tmp_path: Path) -> None:
    """With more than one upstream qinglang asks them itself (dnspython), in order: a
    dead first upstream costs a timeout, not the answer; a name still gets its rules."""
    with dns_upstream() as (up_port, zone):
        cfg = tmp_path / "qinglang.yaml"
        dead = udp_port_free()  # nothing answers there
        cfg.write_text(
            "lists: [<shipped>]\nprofiles: {child: {}}\n"
            f"dns: {{upstreams: ['127.0.0.1:{dead}', 'tcp://127.0.0.1:{up_port}'], "
            "timeout: 0.5, block_addresses: [192.0.2.80]}\n",
            encoding="utf-8",
        )
        dns_port, log = udp_port_free(), tmp_path / "run.log"
        with log.open("wb") as f:
            proc = subprocess.Popen(
                ["qinglang", "run", "--config", str(cfg), "--dns", f"127.0.0.1:{dns_port}",
                 "--listen-host", "127.0.0.1", "--listen-port", str(free_port()),
                 "--set", f"confdir={tmp_path / 'ca'}", "--set", "qinglang_workers=0",
                 "--set", "qinglang_dashboard=off"],
                stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            eventually(
                lambda: (
                    "filtering proxy listening" in log.read_text("utf-8", "replace")
                    or proc.poll() is not None
                ),
                "the start",
                40,
            )
            assert proc.poll() is None, log.read_text("utf-8", "replace")
            r = ask(dns_port, "news.example")
            assert addresses(r) == [address_of("news.example")]
            assert "news.example" in zone.asked  # over TCP, from the second upstream
            # A blocked name gets the block page's address; AAAA has none configured.
            assert addresses(ask(dns_port, "www.pornhub.com")) == ["192.0.2.80"]
            assert addresses(ask(dns_port, "www.pornhub.com", "AAAA")) == []
            assert cnames(ask(dns_port, "www.bing.com")) == ["strict.bing.com"]
        finally:
            stop_group(proc)
        text = log.read_text("utf-8", "replace")
        assert "Traceback" not in text, text[-3000:]


def _raw(port: int, wire: bytes, source: str = CHILD) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(3)
        s.sendto(wire, ("127.0.0.1", port))
        try:
            return s.recv(4096)
        except TimeoutError:
            return None


def test_hostile_queries_are_answered_not_resolved(home: Home) -> None:
    """Names no resolver would write, two questions at once, an empty question: never
    passed upstream unchecked for a child, never a crash (the fixture reads the log)."""
    header = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    tail = b"\x00" + struct.pack("!HH", 1, 1)
    odd_name = b"\x04\xff\xfe\x00\x01\x07pornhub\x03com"
    answer = _raw(home.dns_port, header + odd_name + tail)
    assert answer is None or answer[:2] == b"\x42\x42"
    if answer is not None:
        # Not the upstream's address: refused, or the rules' answer for it.
        upstream = ipaddress.ip_address(address_of("\ufffd\ufffd\x00\x01.pornhub.com"))
        assert upstream.packed not in answer and answer[3] & 0x0F in (0, 3, 5), answer
    two = struct.pack("!HHHHHH", 0x4343, 0x0100, 2, 0, 0, 0)
    q = b"\x04news\x07example\x00" + struct.pack("!HH", 1, 1)
    answer = _raw(home.dns_port, two + q + q)
    assert answer is not None and answer[:2] == b"\x43\x43"
    assert answer[3] & 0x0F != 0  # an error code, not an answer
    # Case and a trailing dot change nothing (resolvers ignore both).
    assert addresses(ask(home.dns_port, "WWW.PornHub.COM.")) == ["0.0.0.0"]
    # A normal query still works afterwards.
    assert addresses(ask(home.dns_port, "news.example")) == [address_of("news.example")]
