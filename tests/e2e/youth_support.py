"""Helpers for the youth-mode end-to-end tests: an upstream that records what reached it,
a mitmdump whose clock the test moves, and the requests a browser or an app sends.

The proxy is the real one (``conftest.Proxy``: a mitmdump subprocess with the qinglang
addon). Two test-only additions, both passed on its command line:

- ``--set qinglang_clock=FILE``: the time rules read "now" from ``FILE``, which the test
  rewrites (``TestClock.set``);
- ``-s route_to_upstream.py``: host names do not resolve here, so every connection the
  proxy makes goes to the recording upstream on 127.0.0.1 (see that file). The rules still
  see the names the client asked for.
"""

from __future__ import annotations

import socket
import sqlite3
import ssl
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .conftest import Proxy
from .upstream import make_cert

ROUTE = Path(__file__).resolve().parent / "route_to_upstream.py"
UPSTREAM_PAGE = b"<!DOCTYPE html><html><body><p>upstream page</p></body></html>"

# What a browser sends for a page load, an API call (fetch/XHR) and an image.
PAGE = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}
ZH = {**PAGE, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
EN = {**PAGE, "Accept-Language": "en-GB,en;q=0.9"}
API = {"Accept": "application/json", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
IMAGE = {
    "Accept": "image/avif,image/webp,*/*",
    "Sec-Fetch-Mode": "no-cors",
    "Sec-Fetch-Dest": "image",
}
FRAME = {**PAGE, "Sec-Fetch-Dest": "iframe"}
PREFETCH = {**PAGE, "Sec-Purpose": "prefetch"}


@dataclass(frozen=True)
class Seen:
    """One request as it reached the upstream."""

    method: str
    host: str  # the Host header: the name the client asked for
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names

    @property
    def query(self) -> dict[str, list[str]]:
        from urllib.parse import parse_qs

        return parse_qs(self.path.partition("?")[2], keep_blank_values=True)


class RecordingUpstream:
    """HTTP and HTTPS on 127.0.0.1 that answer every request with a small page and keep
    the request (full path, headers) for the test to inspect."""

    def __init__(self, tmp: Path) -> None:
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        cert, key = make_cert(tmp)
        self._servers: list[ThreadingHTTPServer] = []
        self.http_port = self._serve(None)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.https_port = self._serve(ctx)

    def _serve(self, ctx: ssl.SSLContext | None) -> int:
        up = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                if n:
                    self.rfile.read(n)
                seen = Seen(
                    self.command,
                    self.headers.get("host", ""),
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                )
                with up._lock:
                    up.seen.append(seen)
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(UPSTREAM_PAGE)))
                self.end_headers()
                self.wfile.write(UPSTREAM_PAGE)

            do_GET = do_POST = _any

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if ctx is not None:
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        ).start()
        self._servers.append(server)
        return int(server.server_address[1])

    def last(self, host: str, path_prefix: str = "/") -> Seen:
        """The latest request that reached the upstream for ``host``."""
        with self._lock:
            for s in reversed(self.seen):
                if s.host.split(":")[0] == host and s.path.startswith(path_prefix):
                    return s
        raise AssertionError(f"no request for {host}{path_prefix} reached the upstream")

    def count(self, host: str) -> int:
        with self._lock:
            return sum(1 for s in self.seen if s.host.split(":")[0] == host)

    def close(self) -> None:
        for s in self._servers:
            s.shutdown()
            s.server_close()


class TestClock:
    """The proxy's clock: a file holding an ISO 8601 moment, read on every request."""

    __test__ = False  # not a test class

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, moment: str) -> None:
        # Written whole and renamed, so the proxy never reads half a moment.
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(moment, encoding="utf-8")
        tmp.replace(self.path)


@dataclass
class World:
    """A started mitmdump, its clock and the upstream it sends everything to."""

    proxy: Proxy
    clock: TestClock
    upstream: RecordingUpstream

    def restart(self) -> None:
        """Stop mitmdump and start it again with the same files (and port)."""
        self.proxy.stop()
        self.proxy.assert_no_errors()  # the log is started anew by the next start
        self.proxy._served_log = None
        self.proxy.start()


@contextmanager
def youth_world(
    home: Path, config: str, domains: dict[str, list[str]] | None = None
) -> Iterator[World]:
    """A recording upstream and a mitmdump with ``config``, the test keyword lists of
    conftest, the domain lists ``domains`` (category -> names), a test clock and the route
    to the upstream. Everything is stopped on the way out, also when a test failed; a
    traceback in mitmdump's log fails the tests."""
    upstream = RecordingUpstream(home)
    clock = TestClock(home / "clock.txt")
    proxy = Proxy(
        home / "proxy",
        extra=[
            "-s",
            str(ROUTE),
            "--set",
            f"test_upstream_http={upstream.http_port}",
            "--set",
            f"test_upstream_https={upstream.https_port}",
            "--set",
            f"qinglang_clock={clock.path}",
            "--set",
            "qinglang_workers=1",
        ],
    )
    proxy.config.write_text(textwrap.dedent(config), encoding="utf-8")
    folder = proxy.lists / "domains"
    folder.mkdir(exist_ok=True)
    for category, names in (domains or {}).items():
        (folder / f"{category}.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    try:
        proxy.start()
        yield World(proxy, clock, upstream)
    finally:
        proxy.stop()
        upstream.close()
    proxy.assert_no_errors()


def connect_status(proxy: Proxy, source: str, host: str, port: int = 443) -> int:
    """The status code the proxy answers a ``CONNECT host:port`` from ``source`` with."""
    with socket.create_connection(("127.0.0.1", proxy.port), 20, (source, 0)) as s:
        s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        reply = b""
        while b"\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    return int(reply.split(b" ", 2)[1])


def eventually(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.2)


def events(proxy: Proxy, **match: str) -> list[dict[str, Any]]:
    """Rows of the proxy's event log whose columns equal ``match``."""
    if not proxy.events_db.exists():
        return []
    db = sqlite3.connect(f"file:{proxy.events_db}?mode=ro", uri=True, timeout=5)
    db.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in db.execute("SELECT * FROM events ORDER BY ts")]
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        db.close()
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def quota_minutes(proxy: Proxy, client: str, db: str = "qinglang-quota.sqlite") -> int:
    """Active minutes the proxy counted for ``client`` (all days), from the quota database
    ``db`` (relative to the config file; the default is next to the event log)."""
    path = proxy.home / db
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        (n,) = db.execute(
            "SELECT COUNT(*) FROM quota_minutes WHERE client = ?", (client,)
        ).fetchone()
    finally:
        db.close()
    return int(n)
