"""Resources (issue 19, item 7), through a real mitmdump and its dashboard: a device that
holds hundreds of idle sockets, or sends its request a byte at a time, cannot starve the
others. The limits are set low here (100 connections, 2 seconds) to keep the test short;
the defaults are 256 and 10."""

from __future__ import annotations

import contextlib
import socket
import textwrap
import time
from collections.abc import Iterator

import pytest
from e2e.conftest import CONFIG, Proxy, free_port
from e2e.upstream import CLEAN_TEXT, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CHILD, PARENT = "127.0.0.1", "127.0.0.2"
CAP, TIMEOUT = 100, 2


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proxy, Upstream, int]]:
    home = tmp_path_factory.mktemp("resources")
    upstream = Upstream(home)
    dash = free_port()
    proxy = Proxy(
        home / "proxy",
        extra=[
            "--set", f"qinglang_max_client_conns={CAP}",
            "--set", f"qinglang_header_timeout={TIMEOUT}",
            "--set", "qinglang_idle_timeout=30",
        ],
    )  # fmt: skip
    proxy.config.write_text(
        textwrap.dedent(CONFIG) + f"dashboard: {{listen: '127.0.0.1:{dash}'}}\n", "utf-8"
    )
    try:
        yield proxy.start(), upstream, dash
    finally:
        proxy.stop()
        upstream.close()
    proxy.assert_no_errors()


def _open(port: int, source: str, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), 5, (source, 0))
        socks.append(s)
    return socks


def _closed_by_peer(s: socket.socket, within: float) -> bool:
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_device_holding_hundreds_of_sockets_does_not_starve_the_others(
    world: tuple[Proxy, Upstream, int],
) -> None:
    proxy, upstream, _ = world
    socks = _open(proxy.port, CHILD, 3 * CAP)
    try:
        # The parent's device is served at once, while the child holds them all.
        with proxy.client(PARENT, timeout=5) as c:
            r = c.get(upstream.url("/clean.html"))
        assert r.status_code == 200 and CLEAN_TEXT in r.text
        # Everything past the cap was closed straight away...
        late = socks[CAP + 10 :]
        assert all(_closed_by_peer(s, 2) for s in late)
        # ... and the rest once they had sent no request in the header timeout.
        t0 = time.monotonic()
        assert all(_closed_by_peer(s, TIMEOUT + 3) for s in socks[:CAP])
        assert time.monotonic() - t0 < TIMEOUT + 5
    finally:
        for s in socks:
            s.close()
    # The child's device works again once its sockets are gone.
    time.sleep(0.3)
    with proxy.client(CHILD, timeout=5) as c:
        assert c.get(upstream.url("/clean.html")).status_code == 200


def test_a_half_sent_request_times_out(world: tuple[Proxy, Upstream, int]) -> None:
    proxy, upstream, dash = world
    url = upstream.url("/clean.html")
    for port, head in (
        (proxy.port, f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
        (dash, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
    ):
        with socket.create_connection(("127.0.0.1", port), 5, (CHILD, 0)) as s:
            t0 = time.monotonic()
            for ch in head:  # a byte at a time, never the blank line that ends the head
                s.sendall(ch.encode())
                with contextlib.suppress(TimeoutError):
                    s.settimeout(0.05)
                    if s.recv(1) == b"":
                        break
            assert _closed_by_peer(s, TIMEOUT + 5), port
            assert time.monotonic() - t0 < TIMEOUT + 5, port


def test_the_dashboard_stays_reachable_while_a_device_holds_sockets(
    world: tuple[Proxy, Upstream, int],
) -> None:
    _, _, dash = world
    socks = _open(dash, CHILD, 2 * CAP)
    try:
        with socket.create_connection(("127.0.0.1", dash), 5, (PARENT, 0)) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            s.settimeout(5)
            head = s.recv(200)
        assert head.startswith(b"HTTP/1.1 ")  # answered (a sign-in redirect or a page)
        assert all(_closed_by_peer(s, TIMEOUT + 3) for s in socks)
    finally:
        for s in socks:
            s.close()
