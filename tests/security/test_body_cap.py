"""Bodies of unknown length (issue 19, item 7), through a real mitmdump: a hostile server
that sends an endless chunked or close-delimited page, or a device that sends an endless
chunked upload, cannot make the proxy hold more than the profile's ``max_scan_bytes`` of
it. The child's limit is 64 KiB here (default 10 MiB); the hostile server stops by itself
after 200 MB or 20 seconds so that a proxy without the cap fails the test instead of
hanging it."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest
from e2e.conftest import ADULT, CHILD, CONFIG, TEEN, Proxy
from e2e.test_proxy_events import wait_for_event
from e2e.upstream import CLEAN_TEXT, MASK_TERM, make_cert

from qinglang.engine.verdict import Reason

OVERSIZE = Reason.OVERSIZE.value

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CAP = 64 * 1024
ENDLESS_LIMIT = 200 * 1024 * 1024  # what the hostile server sends at most
ENDLESS_SECONDS = 20.0
CHUNK = (f"<p>{CLEAN_TEXT}</p>\n" * 800).encode()  # about 50 KB of harmless text
BOUNDED = b"<!doctype html><title>long</title>" + CHUNK * 40  # about 2 MB, over the cap
SMALL = f"<!doctype html><title>t</title><p>{CLEAN_TEXT} 这里有{MASK_TERM}的广告。</p>".encode()


class Hostile:
    """An HTTP/1.1 server on loopback that sends what the path says and counts what it
    sent (``sent[path]``) and received (``received[path]``)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sent: dict[str, int] = {}
        self.received: dict[str, int] = {}
        self.done: dict[str, threading.Event] = {}
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._stop = True
        self.sock.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
        with conn, contextlib.suppress(OSError):
            conn.settimeout(30)
            f = conn.makefile("rb")
            line = f.readline().decode("latin-1")
            _, path, _ = line.split(" ", 2)
            headers: dict[str, str] = {}
            while (h := f.readline()) not in (b"\r\n", b"\n", b""):
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            self.done.setdefault(path, threading.Event())
            try:
                self._answer(conn, f, path, headers)
            finally:
                self.done[path].set()

    def _answer(
        self, conn: socket.socket, f: socket.SocketIO, path: str, headers: dict[str, str]
    ) -> None:
        html = b"content-type: text/html; charset=utf-8\r\n"
        if path == "/upload":
            n = 0
            if "chunked" in headers.get("transfer-encoding", ""):
                while size := int(f.readline().split(b";")[0], 16):
                    n += len(f.read(size + 2)) - 2
                    self.received[path] = n
                f.readline()
            body = f"got {n}".encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            return
        if path in ("/small-chunked.html", "/bounded-chunked.html"):
            body = SMALL if path.startswith("/small") else BOUNDED
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + html + b"transfer-encoding: chunked\r\n\r\n")
            for i in range(0, len(body), 8192):
                part = body[i : i + 8192]
                conn.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            conn.sendall(b"0\r\n\r\n")
            return
        if path == "/bounded-close.html":
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + html + b"connection: close\r\n\r\n" + BOUNDED)
            return
        chunked = path == "/endless.html"
        conn.sendall(
            b"HTTP/1.1 200 OK\r\n"
            + html
            + (b"transfer-encoding: chunked\r\n" if chunked else b"connection: close\r\n")
            + b"\r\n"
        )
        frame = b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK) if chunked else CHUNK
        sent, until = 0, time.monotonic() + ENDLESS_SECONDS
        while sent < ENDLESS_LIMIT and time.monotonic() < until:
            conn.sendall(frame)  # raises once the proxy has closed the connection
            sent += len(CHUNK)
            self.sent[path] = sent


class H2Hostile(Hostile):
    """The same over HTTP/2 (TLS, ALPN h2; mitmproxy then speaks HTTP/2 to the client
    too): ``/endless.html`` has no length and never ends, ``/small-chunked.html`` has no
    length and ends."""

    def _serve(self, conn: socket.socket) -> None:
        assert self.tls is not None
        with contextlib.suppress(OSError, h2.exceptions.ProtocolError):
            conn = self.tls.wrap_socket(conn, server_side=True)
            h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            h2c.initiate_connection()
            conn.sendall(h2c.data_to_send())
            endless: dict[int, str] = {}
            until = time.monotonic() + ENDLESS_SECONDS
            with conn:
                while True:
                    # Frames from the proxy (a reset) are read between the server's frames.
                    wait = 0.01 if endless else 10.0
                    if conn.pending() or select.select([conn], [], [], wait)[0]:
                        data = conn.recv(65536)
                        if not data:
                            break
                        for ev in h2c.receive_data(data):
                            self._event(h2c, ev, endless)
                    for sid, path in list(endless.items()):
                        if self.sent.get(path, 0) >= ENDLESS_LIMIT or time.monotonic() > until:
                            continue
                        n = min(h2c.local_flow_control_window(sid), h2c.max_outbound_frame_size)
                        if n > 0:
                            h2c.send_data(sid, CHUNK[:n])
                            self.sent[path] = self.sent.get(path, 0) + n
                    conn.sendall(h2c.data_to_send())
            for path in endless.values():
                self.done[path].set()

    def _event(self, h2c: h2.connection.H2Connection, ev: object, endless: dict[int, str]) -> None:
        if isinstance(ev, h2.events.RequestReceived):
            path = dict(ev.headers)[b":path"].decode()
            self.done.setdefault(path, threading.Event())
            fields = [(":status", "200"), ("content-type", "text/html; charset=utf-8")]
            h2c.send_headers(ev.stream_id, fields)
            if path == "/small-chunked.html":
                h2c.send_data(ev.stream_id, SMALL, end_stream=True)
                self.done[path].set()
            else:
                endless[ev.stream_id] = path
        elif isinstance(ev, h2.events.StreamReset) and ev.stream_id in endless:
            self.done[endless.pop(ev.stream_id)].set()


World = tuple[Proxy, Hostile, Hostile, H2Hostile]  # the proxy; HTTP, TLS and HTTP/2


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home: Path = tmp_path_factory.mktemp("bodycap")
    hostile = Hostile()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*make_cert(home))
    hostile_tls = Hostile(ctx)
    ctx2 = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx2.load_cert_chain(*make_cert(home))
    ctx2.set_alpn_protocols(["h2"])
    hostile_h2 = H2Hostile(ctx2)
    proxy = Proxy(home / "proxy")
    config = textwrap.dedent(CONFIG).replace("max_scan_bytes: 1048576", f"max_scan_bytes: {CAP}")
    assert f"max_scan_bytes: {CAP}" in config
    proxy.config.write_text(config, "utf-8")
    try:
        yield proxy.start(), hostile, hostile_tls, hostile_h2
    finally:
        proxy.stop()
        for server in (hostile, hostile_tls, hostile_h2):
            server.close()
    proxy.assert_no_errors()


def rss(proxy: Proxy) -> int:
    assert proxy.proc is not None
    for line in Path(f"/proc/{proxy.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


PAGE = {"accept": "text/html", "sec-fetch-dest": "document", "accept-language": "en"}


@pytest.mark.parametrize("path", ["/endless.html", "/endless-close.html"])
def test_endless_page_is_blocked_for_a_child_in_bounded_memory(world: World, path: str) -> None:
    proxy, hostile, _, _ = world
    before = rss(proxy)
    with proxy.client(CHILD) as c:
        r = c.get(hostile.url(path), headers=PAGE)
    after = rss(proxy)
    assert r.status_code == 403
    assert "too large to be checked" in r.text and CLEAN_TEXT not in r.text
    # The server connection was closed: it could send little more than the cap and what
    # the sockets buffer, not its 200 MB.
    assert hostile.done[path].wait(10)
    assert hostile.sent[path] < 16 * 1024 * 1024
    assert after - before < 40 * 1024 * 1024
    ev = wait_for_event(proxy, "path = ? AND action = 'block'", (path,))
    assert ev["reason"] == OVERSIZE and ev["profile"] == "child"
    assert f"unknown length, over {CAP} bytes" in ev["detail"]
    with proxy.client(CHILD) as c:  # and the proxy goes on serving
        r = c.get(hostile.url("/small-chunked.html"))
    assert r.status_code == 200


def test_endless_page_for_a_program_gets_the_json_refusal(world: World) -> None:
    proxy, hostile, _, _ = world
    with proxy.client(CHILD) as c:
        r = c.get(hostile.url("/endless.html"), headers={"accept": "application/json"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/json")
    assert CLEAN_TEXT not in r.text


def test_chunked_page_under_the_cap_is_still_scanned(world: World) -> None:
    proxy, hostile, _, _ = world
    with proxy.client(CHILD) as c:
        r = c.get(hostile.url("/small-chunked.html"), headers=PAGE)
    assert r.status_code == 200
    assert CLEAN_TEXT in r.text and MASK_TERM not in r.text  # masked as before


@pytest.mark.parametrize("path", ["/bounded-chunked.html", "/bounded-close.html"])
def test_on_oversize_pass_streams_the_rest_unscanned(world: World, path: str) -> None:
    proxy, hostile, _, _ = world
    with proxy.client(TEEN) as c, c.stream("GET", hostile.url(path)) as r:
        body = b"".join(r.iter_raw())
    assert r.status_code == 200 and body == BOUNDED
    ev = wait_for_event(proxy, "path = ? AND profile = 'teen'", (path,))
    assert ev["action"] == "pass" and ev["reason"] == OVERSIZE
    assert "passed unscanned" in ev["detail"]


@pytest.mark.parametrize("path", ["/bounded-chunked.html", "/bounded-close.html"])
def test_parent_gets_the_whole_body_of_unknown_length(world: World, path: str) -> None:
    proxy, hostile, _, _ = world
    with proxy.client(ADULT) as c, c.stream("GET", hostile.url(path)) as r:
        body = b"".join(r.iter_raw())
    assert r.status_code == 200 and body == BOUNDED


def _upload(proxy: Proxy, source: str, url: str, total: int) -> tuple[bytes, int]:
    """POST a chunked body of ``total`` bytes from ``source``, reading the answer while it
    is sent (a proxy that refuses it closes the connection before the body ends); returns
    the answer and the bytes sent."""
    s = socket.create_connection(("127.0.0.1", proxy.port), 10, (source, 0))
    got = bytearray()

    def read() -> None:
        with contextlib.suppress(OSError):
            while data := s.recv(65536):
                got.extend(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    with s:
        s.sendall(
            f"POST {url} HTTP/1.1\r\nhost: {url.split('/')[2]}\r\n"
            "connection: close\r\ncontent-type: application/octet-stream\r\n"
            "transfer-encoding: chunked\r\n\r\n".encode()
        )
        with contextlib.suppress(OSError):
            while sent < total:
                s.sendall(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
                sent += len(CHUNK)
            s.sendall(b"0\r\n\r\n")
        reader.join(15)
    return bytes(got), sent


def test_endless_chunked_upload_is_refused_for_a_child(world: World) -> None:
    proxy, hostile, _, _ = world
    before = rss(proxy)
    answer, sent = _upload(proxy, CHILD, hostile.url("/upload"), ENDLESS_LIMIT)
    after = rss(proxy)
    assert answer.startswith(b"HTTP/1.1 413")
    assert sent < ENDLESS_LIMIT  # the proxy stopped reading
    assert after - before < 40 * 1024 * 1024
    ev = wait_for_event(proxy, "path = ? AND reason = ?", ("/upload", OVERSIZE))
    assert ev["action"] == "block" and ev["profile"] == "child"
    assert "/upload" not in hostile.done  # nothing reached the server
    # A chunked upload under the cap goes through, and a parent's is not capped.
    answer, _ = _upload(proxy, CHILD, hostile.url("/upload"), len(CHUNK))
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"got %d" % len(CHUNK))
    answer, sent = _upload(proxy, ADULT, hostile.url("/upload"), 20 * len(CHUNK))
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"got %d" % sent)


def test_endless_page_over_tls(world: World) -> None:
    proxy, _, hostile, _ = world
    with proxy.client(CHILD) as c:
        r = c.get(hostile.url("/endless.html"), headers=PAGE)
        assert r.status_code == 403 and "too large to be checked" in r.text
        # The tunnel goes on: the next request in it is scanned and masked.
        r = c.get(hostile.url("/small-chunked.html"), headers=PAGE)
        assert r.status_code == 200 and CLEAN_TEXT in r.text and MASK_TERM not in r.text
    assert hostile.done["/endless.html"].wait(10)
    assert hostile.sent["/endless.html"] < 16 * 1024 * 1024


def test_endless_page_over_http2(world: World) -> None:
    proxy, _, _, hostile = world
    before = rss(proxy)
    with proxy.client(CHILD, http2=True) as c:
        r = c.get(hostile.url("/endless.html"), headers=PAGE)
        assert r.http_version == "HTTP/2"
        assert r.status_code == 403 and "too large to be checked" in r.text
        # The same connection goes on: the next request on it is scanned and masked.
        r = c.get(hostile.url("/small-chunked.html"), headers=PAGE)
        assert r.status_code == 200 and CLEAN_TEXT in r.text and MASK_TERM not in r.text
    assert hostile.done["/endless.html"].wait(10)  # the stream was reset
    assert hostile.sent["/endless.html"] < 16 * 1024 * 1024
    assert rss(proxy) - before < 40 * 1024 * 1024


FAULT = """
from qinglang.proxy import bodycap


class _Broken:
    def __getattr__(self, name):
        raise RuntimeError("injected fault")


bodycap.answers = _Broken()  # the block page and the event store fail
"""


def test_a_failing_handler_still_refuses_the_page(tmp_path: Path) -> None:
    hostile = Hostile()
    fault = tmp_path / "fault.py"
    fault.write_text(FAULT, "utf-8")
    proxy = Proxy(tmp_path / "proxy", extra=["-s", str(fault)])
    proxy.config.write_text(
        textwrap.dedent(CONFIG).replace("max_scan_bytes: 1048576", f"max_scan_bytes: {CAP}"),
        "utf-8",
    )
    proxy.expect_errors = True  # the injected fault is logged as an addon error
    try:
        proxy.start()
        with proxy.client(CHILD) as c:
            r = c.get(hostile.url("/endless.html"), headers=PAGE)
            # The guard (proxy/guard.py) answers for the failed hook: the block page.
            assert r.status_code == 403 and CLEAN_TEXT not in r.text
            assert "ran into an error" in r.text
            assert hostile.done["/endless.html"].wait(10)
            assert hostile.sent["/endless.html"] < 16 * 1024 * 1024
            r = c.get(hostile.url("/small-chunked.html"), headers=PAGE)
            assert r.status_code == 200 and MASK_TERM not in r.text
        assert "injected fault" in proxy.log()
    finally:
        proxy.stop()
        hostile.close()
