"""Addresses and paths as the server reads them, through a real mitmdump.

A curious child writes 8.8.8.8 as ``134744072``, ``0x08080808`` or ``010.010.010.010`` to
slip past the bare-IP rule and past a deny rule written for the dotted quad, and a
denied path as ``/x/../games``, ``/%2e%2e/games`` or ``//games``. Every connection goes
to the recording upstream (route_to_upstream.py), so a request that got through shows
up there: each test checks both the answer and what reached the upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.youth_support import World, connect_status, events, eventually, youth_world

from .rawhttp import get, get_tls, send

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CHILD, ADULT, SCHOOL = "127.0.0.1", "127.0.0.2", "127.0.0.3"

CONFIG = """
    lists: [lists]
    profiles:
      child:
        deny_urls: [games.example/games]
      adult:
        filter: false
      school:
        # Bare addresses allowed here, so the deny rules written for them are what holds.
        bypass: {block_bare_ip: false}
        deny_domains: [93.184.216.34]
        deny_urls: [8.8.4.4/secret]
    clients:
      - {match: 127.0.0.2, profile: adult}
      - {match: 127.0.0.3, profile: school}
    default_profile: child
    events: {db: events.sqlite}
"""

# 8.8.8.8 in every notation getaddrinfo and browsers read as an address.
EIGHTS = [
    "134744072",
    "0x08080808",
    "0X8080808",
    "010.010.010.010",
    "8.8.2056",
    "8.526344",
    "0x8.0x8.0x8.0x8",
    "0x8.010.2056",
    "0010.0x00008.8.8",
]


def recorded(world: World, host: str, reason: str) -> None:
    """The refusal is in the event log, under the host as the child wrote it."""
    eventually(
        lambda: [e for e in events(world.proxy, host=host) if e["reason"] == reason],
        f"a {reason} event for {host}",
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with youth_world(tmp_path_factory.mktemp("addresses"), CONFIG) as w:
        yield w


@pytest.mark.parametrize("host", EIGHTS)
def test_every_notation_of_an_address_is_a_bare_address(world: World, host: str) -> None:
    before = world.upstream.count(host)
    status, body = get(world.proxy, CHILD, host, "/")
    assert status == 403, body[:300]
    assert world.upstream.count(host) == before  # nothing reached the server
    recorded(world, host, "bare_ip")


@pytest.mark.parametrize("host", ["134744072", "0x08080808", "8.8.8.8"])
def test_a_forged_host_header_does_not_hide_the_address(world: World, host: str) -> None:
    """The address written in the request line is the one dialled, whatever Host says."""
    req = f"GET http://{host}/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
    assert send(world.proxy, CHILD, req.encode())[0] == 403
    assert not [s for s in world.upstream.seen if s.host == "example.com"]


def test_the_same_hosts_reach_the_server_for_a_profile_that_allows_them(world: World) -> None:
    """The refusals above are the rule's, not a host the proxy could not dial."""
    status, _ = get(world.proxy, ADULT, "134744072", "/")
    assert status == 200 and world.upstream.count("134744072") >= 1


@pytest.mark.parametrize("host", ["134744072", "0x08080808", "010.010.010.010", "8.8.2056"])
def test_connect_to_an_address_in_any_notation_is_refused(world: World, host: str) -> None:
    assert connect_status(world.proxy, CHILD, host) == 403


@pytest.mark.parametrize("host", ["1572395042", "0x5db8d822", "0135.0270.0330.042", "93.184.55330"])
def test_deny_domains_holds_for_an_address_in_any_notation(world: World, host: str) -> None:
    status, _ = get(world.proxy, SCHOOL, host, "/")
    assert status == 403
    assert world.upstream.count(host) == 0
    recorded(world, host, "deny_domains")


@pytest.mark.parametrize("host", ["134743044", "0x08080404", "8.8.1028", "[::ffff:8.8.4.4]"])
def test_deny_urls_holds_for_an_address_in_any_notation(world: World, host: str) -> None:
    assert get(world.proxy, SCHOOL, host, "/secret")[0] == 403
    assert get(world.proxy, SCHOOL, host, "/%73ecret/../secret")[0] == 403
    # The rest of the site is not denied: only the listed path is.
    assert get(world.proxy, SCHOOL, host, "/public")[0] == 200


@pytest.mark.parametrize(
    "target",
    [
        "/games",
        "/x/../games",
        "/x/%2e%2e/games",
        "/%2E%2E/games/2",
        "//games",
        "/./games",
        "/%67ames",
        "/g%61mes?level=1",
        "/games;jsessionid=1",
        "/x%2f..%2fgames",
        "/x\\..\\games",
    ],
)
def test_every_spelling_of_a_denied_path_is_denied(world: World, target: str) -> None:
    status, body = get(world.proxy, CHILD, "games.example", target)
    assert status == 403, (target, body[:300])
    assert not [s for s in world.upstream.seen if s.host == "games.example" and "game" in s.path]


def test_a_denied_path_inside_a_tls_tunnel(world: World) -> None:
    assert get_tls(world.proxy, CHILD, "games.example", "/x/../games")[0] == 403
    assert get_tls(world.proxy, CHILD, "games.example", "/%2e%2e/games")[0] == 403
    assert get_tls(world.proxy, CHILD, "games.example", "/homework")[0] == 200


def test_other_paths_on_the_site_pass(world: World) -> None:
    for target in ("/gamesx", "/x/../gamesx", "/homework/games-review"):
        status, _ = get(world.proxy, CHILD, "games.example", target)
        assert status == 200, target
    assert world.upstream.last("games.example", "/homework/").path == "/homework/games-review"


def test_the_proxy_keeps_serving(world: World, tmp_path: Path) -> None:
    assert get(world.proxy, ADULT, "example.org", "/")[0] == 200
