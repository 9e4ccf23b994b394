"""A real DNS-over-HTTPS server (RFC 8484) on 127.0.0.1 for DNS mode's DoH tests.

http.server over TLS with a self-signed certificate (``upstream.make_cert``, for
127.0.0.1 and localhost); POST ``application/dns-message`` is answered from a
``dns_support.Zone``. ``behaviour`` makes it misbehave on purpose: a slow server
(answers after ``slow`` seconds), or one that answers HTML.
"""

from __future__ import annotations

import ssl
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import dns.flags
import dns.message

from .dns_support import Zone
from .upstream import make_cert

MEDIA = "application/dns-message"


@dataclass
class DohServer:
    port: int
    zone: Zone
    cert: str
    behaviour: str = "ok"  # "ok", "slow", "html" or "big"
    slow: float = 5.0
    requests: list[str] = field(default_factory=list)  # "POST /dns-query localhost", ...


def _huge_answer(wire: bytes) -> bytes:
    """The answer to ``wire`` with 5,000 A records, written by hand: dnspython will not
    render a message over 65,535 bytes, but it reads one."""
    q = dns.message.from_wire(wire)
    flags = q.flags | dns.flags.QR | dns.flags.RA
    head = struct.pack("!HHHHHH", q.id, flags, 1, 5000, 0, 0)
    record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4)  # the question's name, A, IN
    answers = b"".join(record + bytes([198, 19, i // 250, i % 250 + 1]) for i in range(5000))
    return head + wire[12:] + answers


@contextmanager
def doh_server(tmp: Path) -> Iterator[DohServer]:
    tmp.mkdir(parents=True, exist_ok=True)
    cert, key = make_cert(tmp)
    server = DohServer(0, Zone(), cert)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            n = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(min(n, 65535))
            if self.headers.get("content-type") != MEDIA:
                self._send(415, "text/plain", b"not a DNS message")
                return
            self._answer(body)

        def _answer(self, wire: bytes) -> None:
            host = self.headers.get("host", "")
            server.requests.append(f"{self.command} {urlsplit(self.path).path} {host}")
            if server.behaviour == "slow":
                time.sleep(server.slow)
            if server.behaviour == "html":
                self._send(200, "text/html", b"<html>captive portal</html>")
                return
            if server.behaviour == "big":
                self.send_response(200)
                self.send_header("content-type", MEDIA)
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(_huge_answer(wire))
                self.close_connection = True
                return
            self._send(200, MEDIA, server.zone.answer(wire))

        def _send(self, status: int, media: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", media)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    server.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
