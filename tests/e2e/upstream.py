"""A real upstream web server for the end-to-end tests: HTTP and HTTPS on 127.0.0.1.

It serves the pages the proxy has to deal with (compressed, GBK, JSON, binaries, large and
broken bodies) from a table of routes; HTTPS uses a self-signed certificate made here.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import socket
import ssl
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import zstandard
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MASK_TERM = "网络赌场"  # weight 40 in the test lists: masked, not blocked
BLOCK_TERMS = "网络赌场 裸聊 casino"  # 40 + 60 + 30 = 130: blocked for the child
CLEAN_TEXT = "今天天气很好，我们去公园散步。The weather is nice today."


def html(body: str, title: str = "page", charset: str = "utf-8") -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}</title></head>'
        f"<body><p>{body}</p></body></html>"
    )


# A PNG-like binary: the real signature, then bytes of every value.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
VIDEO = b"\x00\x00\x00\x20ftypisom" + bytes((i * 7) % 256 for i in range(3_000_000))


@dataclass
class Page:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    chunked: bool = False  # no Content-Length: chunked transfer
    ranges: bool = False  # answers Range requests with 206


def _pages() -> dict[str, Page]:
    mask_html = html(f"{CLEAN_TEXT} 这里有{MASK_TERM}的广告。").encode()
    text_html = {"content-type": "text/html; charset=utf-8"}
    big_para = ("<p>" + CLEAN_TEXT + "</p>\n") * 40_000  # about 2.6 MB
    gbk = html(f"{CLEAN_TEXT} 这里有{MASK_TERM}的广告。", charset="gbk").encode("gbk")
    pages = {
        "/clean.html": Page(html(CLEAN_TEXT).encode(), dict(text_html, etag='"v1"')),
        "/mask.html": Page(mask_html, text_html),
        "/mask-chunked.html": Page(mask_html, text_html, chunked=True),
        "/block.html": Page(html(f"{CLEAN_TEXT} {BLOCK_TERMS}").encode(), text_html),
        "/gbk.html": Page(gbk, {"content-type": "text/html; charset=gbk"}),
        "/gbk-meta.html": Page(gbk, {"content-type": "text/html"}),
        "/undeclared-utf8.html": Page(
            f"<html><body><p>{CLEAN_TEXT}{MASK_TERM}</p></body></html>".encode(),
            {"content-type": "text/html"},
        ),
        "/gzip.html": Page(
            gzip.compress(mask_html), dict(text_html, **{"content-encoding": "gzip"})
        ),
        "/gzip-clean.html": Page(
            gzip.compress(html(CLEAN_TEXT).encode()),
            dict(text_html, **{"content-encoding": "gzip"}),
        ),
        "/deflate.html": Page(
            zlib.compress(mask_html), dict(text_html, **{"content-encoding": "deflate"})
        ),
        "/br.html": Page(brotli.compress(mask_html), dict(text_html, **{"content-encoding": "br"})),
        "/zstd.html": Page(
            zstandard.ZstdCompressor().compress(mask_html),
            dict(text_html, **{"content-encoding": "zstd"}),
        ),
        "/api.json": Page(
            f'{{"items": [{{"title": "{MASK_TERM}", "id": 1}}, {{"title": "ok"}}]}}'.encode(),
            {"content-type": "application/json"},
        ),
        "/api-block.json": Page(
            f'{{"title": "{BLOCK_TERMS}"}}'.encode(), {"content-type": "application/json"}
        ),
        "/api.js": Page(f'{{"msg": "{MASK_TERM}"}}'.encode(), {"content-type": "text/javascript"}),
        "/app.js": Page(
            f'var s = "{MASK_TERM}"; function f() {{ return s; }}'.encode(),
            {"content-type": "application/javascript"},
        ),
        "/style.css": Page(
            f"/* {MASK_TERM} */ body {{ color: red; }}".encode(), {"content-type": "text/css"}
        ),
        "/image.png": Page(PNG, {"content-type": "image/png"}),
        "/lying.png": Page(
            html(f"{CLEAN_TEXT} {BLOCK_TERMS}").encode(), {"content-type": "image/png"}
        ),
        "/unlabelled": Page(html(f"{CLEAN_TEXT} {MASK_TERM}").encode(), {}),
        "/plain.txt": Page(f"{CLEAN_TEXT} {MASK_TERM}".encode(), {"content-type": "text/plain"}),
        "/large.html": Page(html(big_para + MASK_TERM).encode(), text_html),
        "/large-chunked.html": Page(html(big_para + MASK_TERM).encode(), text_html, chunked=True),
        "/video.mp4": Page(VIDEO, {"content-type": "video/mp4"}),
        "/video-lie.mp4": Page(
            html(big_para + BLOCK_TERMS).encode(), {"content-type": "video/mp4"}, chunked=True
        ),
        "/truncated-gzip.html": Page(
            gzip.compress(mask_html)[:-20], dict(text_html, **{"content-encoding": "gzip"})
        ),
        "/gzip-bomb.html": Page(
            gzip.compress(b"<html><body>" + b" " * 50_000_000),
            dict(text_html, **{"content-encoding": "gzip"}),
        ),
        "/bad-bytes-clean.html": Page(
            ("<html><body><p>" + CLEAN_TEXT + "</p>").encode("gbk")
            + b"\xff\xfe"
            + b"</body></html>",
            {"content-type": "text/html; charset=gbk"},
        ),
        "/bad-bytes.html": Page(_bad_bytes(), {"content-type": "text/html; charset=gbk"}),
        "/range.txt": Page(
            f"{CLEAN_TEXT} {MASK_TERM} {CLEAN_TEXT}".encode(),
            {"content-type": "text/plain"},
            ranges=True,
        ),
        "/range-clean.txt": Page(
            (CLEAN_TEXT * 20).encode(), {"content-type": "text/plain"}, ranges=True
        ),
        "/events": Page(b"data: hello\n\n", {"content-type": "text/event-stream"}, chunked=True),
        "/nothing": Page(b"", {}, status=204),
    }
    return pages


# The bad-bytes page above: GBK text with one 0xFF byte inside the term 网络赌场.
def _bad_bytes() -> bytes:
    return (
        html("这里有网络").encode("gbk").replace(b"</p></body></html>", b"")
        + b"\xff"
        + ("赌场的广告</p></body></html>".encode("gbk"))
    )


class Upstream:
    """Serves ``pages`` (and any added later) over HTTP and HTTPS on 127.0.0.1."""

    def __init__(self, tmp: Path) -> None:
        self.pages = _pages()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.cert, self.key = make_cert(tmp)
        self._servers: list[ThreadingHTTPServer] = []
        self.http_port = self._serve(None)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        self.https_port = self._serve(ctx)
        self.h2_port = _H2Server(self).port

    def url(self, path: str, tls: bool = False, h2: bool = False) -> str:
        if h2:
            return f"https://127.0.0.1:{self.h2_port}{path}"
        if tls:
            return f"https://127.0.0.1:{self.https_port}{path}"
        return f"http://127.0.0.1:{self.http_port}{path}"

    def _serve(self, ctx: ssl.SSLContext | None) -> int:
        handler = _make_handler(self)
        server = _Server(("127.0.0.1", 0), handler)
        if ctx is not None:
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        ).start()
        self._servers.append(server)
        return server.server_address[1]

    def close(self) -> None:
        for s in self._servers:
            s.shutdown()
            s.server_close()


class _Server(ThreadingHTTPServer):
    # mitmproxy opens many upstream connections at once: a backlog of 5 made the
    # rest wait a second for a retransmission.
    request_queue_size = 128
    daemon_threads = True


def _make_handler(up: Upstream) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this each small response on
        # a kept-alive connection waits for a delayed ACK (40 ms).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._respond(head=True)

        def do_GET(self) -> None:
            self._respond(head=False)

        def _respond(self, head: bool) -> None:
            path = self.path.split("?", 1)[0]
            up.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
            page = up.pages.get(path)
            if page is None:
                page = Page(b"not found", {"content-type": "text/plain"}, status=404)
            status, body, extra = page.status, page.body, {}
            rng = self.headers.get("range")
            if page.ranges:
                extra["accept-ranges"] = "bytes"
            if page.ranges and rng and rng.startswith("bytes="):
                first, _, last = rng[6:].partition("-")
                a = int(first)
                b = min(int(last) if last else len(body) - 1, len(body) - 1)
                extra["content-range"] = f"bytes {a}-{b}/{len(body)}"
                status, body = 206, body[a : b + 1]
            self.send_response(status)
            for k, v in {**page.headers, **extra}.items():
                self.send_header(k, v)
            if status in (204, 304):
                self.end_headers()
                return
            if page.chunked:
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                if head:
                    return
                for i in range(0, len(body), 16384):
                    part = body[i : i + 16384]
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

    return Handler


class _H2Server:
    """The same pages over HTTP/2 (TLS with ALPN h2), as most real sites serve them.

    http.server speaks HTTP/1.1 only, and mitmproxy mirrors the server's protocol to the
    client; this small server built on the ``h2`` library (a mitmproxy dependency) lets the
    tests see HTTP/2 on both sides of the proxy.
    """

    def __init__(self, up: Upstream) -> None:
        self.up = up
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(up.cert, up.key)
        self.ctx.set_alpn_protocols(["h2"])
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            sock = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        h2c.initiate_connection()
        sock.sendall(h2c.data_to_send())
        pending: dict[int, bytes] = {}
        try:
            while data := sock.recv(65536):
                for ev in h2c.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        hdrs = {k.decode(): v.decode() for k, v in ev.headers}
                        path = hdrs.get(":path", "/").split("?", 1)[0]
                        self.up.requests.append((path, hdrs))
                        page = self.up.pages.get(path) or Page(b"not found", {}, status=404)
                        fields = [(":status", str(page.status)), *page.headers.items()]
                        fields.append(("content-length", str(len(page.body))))
                        h2c.send_headers(ev.stream_id, fields)
                        pending[ev.stream_id] = page.body
                for sid in list(pending):
                    body = pending[sid]
                    n = min(
                        len(body), h2c.local_flow_control_window(sid), h2c.max_outbound_frame_size
                    )
                    while body and n > 0:
                        h2c.send_data(sid, body[:n])
                        body = body[n:]
                        n = min(
                            len(body),
                            h2c.local_flow_control_window(sid),
                            h2c.max_outbound_frame_size,
                        )
                    if body:
                        pending[sid] = body
                    else:
                        h2c.end_stream(sid)
                        del pending[sid]
                sock.sendall(h2c.data_to_send())
        except (OSError, h2.exceptions.ProtocolError):
            pass
        finally:
            sock.close()


def make_cert(tmp: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "qinglang test upstream")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "upstream-cert.pem", tmp / "upstream-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)
