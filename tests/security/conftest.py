"""Fixtures for the security tests: a real mitmdump with the qinglang addon and a child
profile, attacked with real clients, in front of hostile upstreams on 127.0.0.1.

Reused from the end-to-end tests: ``e2e.conftest.Proxy`` (the mitmdump process, its files,
its log and clients bound to a source address: ``CHILD``, ``ADULT``, ``TEEN``),
``e2e.youth_support`` (the test clock, the route that sends every name the proxy dials to
the upstream on 127.0.0.1, the event log reader). Here: ``HostileUpstream``
(``hostile.py``), ``faults.py`` (a script that breaks one stage of qinglang inside the
proxy), raw-socket helpers for requests no well-behaved client sends, and ``start``:
a started proxy with a config (the default ``CONFIG`` has a child, an adult that is not
filtered and a teen whose profile passes what it cannot check).

Other attack classes put their tests in ``test_*.py`` here, with their own support modules.
"""

from __future__ import annotations

import socket
import ssl
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e.conftest import ADULT, CHILD, TEEN, Proxy, free_port
from e2e.youth_support import ROUTE, TestClock, eventually
from e2e.youth_support import events as read_events

from .hostile import MARKER, HostileUpstream

__all__ = ["ADULT", "CHILD", "MARKER", "TEEN", "Attacked", "eventually"]

FAULTS = Path(__file__).resolve().parent / "faults.py"

CONFIG = """
    lists: [lists]
    profiles:
      child:
        deny_domains: [evil.test]
        daily_minutes: 600
      adult:
        filter: false
      teen:
        on_error: pass
        daily_minutes: 600
    clients:
      - {match: 127.0.0.2, profile: adult}
      - {match: 127.0.0.3, profile: teen}
    default_profile: child
    events: {db: events.sqlite, retention_days: 30}
"""

# A weekday at noon, Beijing time: no curfew or schedule in the way.
NOON = "2026-03-04T12:00:00+08:00"

PAGE_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}


@dataclass
class Attacked:
    """A started mitmdump with qinglang, its clock, and the hostile upstream behind it."""

    proxy: Proxy
    upstream: HostileUpstream
    clock: TestClock
    fault_file: Path
    _clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, source: str = CHILD) -> httpx.Client:
        if source not in self._clients:
            self._clients[source] = self.proxy.client(source, timeout=15.0)
        return self._clients[source]

    def get(
        self, url: str, source: str = CHILD, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """A GET through the proxy (a page load unless ``headers`` say otherwise)."""
        return self.client(source).get(url, headers=headers or PAGE_HEADERS)

    def raw(self, data: bytes, source: str = CHILD, timeout: float = 10.0) -> bytes:
        """Send ``data`` as it is to the proxy port; the first response's bytes back."""
        return raw_exchange(self.proxy.port, data, source, timeout)

    def tunnel(self, connect: str, data: bytes, sni: str | None, source: str = CHILD) -> bytes:
        """``CONNECT connect``, TLS with server name ``sni`` (trusting the proxy's CA), then
        ``data`` as it is inside the tunnel; the first response's bytes back."""
        with socket.create_connection(("127.0.0.1", self.proxy.port), 15, (source, 0)) as s:
            s.sendall(f"CONNECT {connect} HTTP/1.1\r\nHost: {connect}\r\n\r\n".encode())
            head = _read_head(s)
            if not head.startswith(b"HTTP/1.1 200"):
                return head
            ctx = ssl.create_default_context(cafile=str(self.proxy.ca))
            ctx.check_hostname = False  # the name is the attacker's choice here
            with ctx.wrap_socket(s, server_hostname=sni) as t:
                t.sendall(data)
                return _read_response(t)

    def inject(self, stage: str) -> None:
        """Break ``stage`` (a name in faults.STAGES) from the next call on; "" heals."""
        tmp = self.fault_file.with_suffix(".tmp")
        tmp.write_text(stage, encoding="utf-8")
        tmp.replace(self.fault_file)

    def events(self, **match: str) -> list[dict[str, Any]]:
        return read_events(self.proxy, **match)

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()


def raw_exchange(port: int, data: bytes, source: str = CHILD, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout, (source, 0)) as s:
        s.sendall(data)
        return _read_response(s)


def _read_head(s: socket.socket) -> bytes:
    out = b""
    while b"\r\n\r\n" not in out:
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    return out


def _read_response(s: socket.socket) -> bytes:
    """One response: its head, then Content-Length bytes of body (or until the peer
    closes, or the timeout)."""
    out = _read_head(s)
    head, _, body = out.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or b"0")
    try:
        while length is None or len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    except (TimeoutError, ssl.SSLError, OSError):
        pass
    return head + b"\r\n\r\n" + body


def status_of(reply: bytes) -> int:
    parts = reply.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def start_proxy(home: Path, upstream: HostileUpstream, config: str = CONFIG,
                extra: list[str] | None = None) -> Attacked:  # fmt: skip
    """A started mitmdump with qinglang, ``config``, the test lists, the test clock at
    ``NOON``, every dialled name routed to ``upstream`` and ``faults.py`` loaded (no fault
    until ``Attacked.inject``). The caller stops it (``stop``)."""
    home.mkdir(parents=True, exist_ok=True)
    clock = TestClock(home / "clock.txt")
    clock.set(NOON)
    fault_file = home / "fault.txt"
    proxy = Proxy(
        home / "proxy",
        extra=[
            "-s", str(ROUTE),
            "--set", f"test_upstream_http={upstream.http_port}",
            "--set", f"test_upstream_https={upstream.https_port}",
            "-s", str(FAULTS),
            "--set", f"test_fault_file={fault_file}",
            "--set", f"qinglang_clock={clock.path}",
            "--set", "qinglang_workers=1",
            "--set", f"qinglang_dashboard=127.0.0.1:{free_port()}",
            *(extra or []),
        ],
    )  # fmt: skip
    proxy.config.write_text(textwrap.dedent(config), encoding="utf-8")
    proxy.start()
    return Attacked(proxy, upstream, clock, fault_file)


def stop(attacked: Attacked, *, errors_expected: bool = False) -> None:
    """Stop the proxy; unless ``errors_expected``, a traceback in its log fails the test."""
    attacked.close()
    attacked.proxy.stop()
    if not errors_expected:
        attacked.proxy.assert_no_errors()


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileUpstream]:
    up = HostileUpstream(tmp_path_factory.mktemp("hostile"))
    yield up
    up.close()


@pytest.fixture(scope="module")
def child_proxy(
    tmp_path_factory: pytest.TempPathFactory, hostile: HostileUpstream
) -> Iterator[Attacked]:
    """One proxy with ``CONFIG`` per test module; a clean log is required at the end."""
    a = start_proxy(tmp_path_factory.mktemp("security"), hostile)
    try:
        yield a
    finally:
        stop(a)


@pytest.fixture
def make_proxy(tmp_path: Path, hostile: HostileUpstream) -> Iterator[Callable[..., Attacked]]:
    """``make_proxy(config=CONFIG, extra=[...], errors_expected=False)``: a proxy of the
    test's own, stopped at the end."""
    started: list[tuple[Attacked, bool]] = []

    def make(config: str = CONFIG, extra: list[str] | None = None,
             errors_expected: bool = False) -> Attacked:  # fmt: skip
        a = start_proxy(tmp_path / f"p{len(started)}", hostile, config, extra)
        started.append((a, errors_expected))
        return a

    yield make
    for a, errors in started:
        stop(a, errors_expected=errors)
