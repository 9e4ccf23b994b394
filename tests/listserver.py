"""A real HTTP server on 127.0.0.1 that publishes list files, for the subscription tests:
ETag and Last-Modified with 304 answers, a slow path, and a record of what was asked."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Published:
    files: dict[str, bytes] = field(default_factory=dict)
    slow: set[str] = field(default_factory=set)  # paths that answer after 3 s
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def list_server() -> Iterator[Published]:
    pub = Published()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            pub.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if self.path in pub.slow:
                time.sleep(3)
            body = pub.files.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", "Mon, 10 Mar 2025 10:00:00 GMT")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    pub.port = server.server_address[1]
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield pub
    finally:
        server.shutdown()
        server.server_close()
