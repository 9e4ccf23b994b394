"""A real DNS-over-HTTPS server (RFC 8484) on 127.0.0.1 for DNS mode's DoH tests.

http.server over TLS with a self-signed certificate (``upstream.make_cert``, for
127.0.0.1 and localhost); POST ``application/dns-message`` is answered from a
``dns_support.Zone``. ``behaviour`` makes it misbehave on purpose: a slow server
(answers after ``slow`` seconds), or one that answers HTML.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from .dns_support import Zone
from .upstream import make_cert

MEDIA = "application/dns-message"


@dataclass
class DohServer:
    port: int
    zone: Zone
    cert: str
    behaviour: str = "ok"  # "ok", "slow" or "html"
    slow: float = 5.0
    requests: list[str] = field(default_factory=list)  # "POST /dns-query localhost", ...


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
