"""A hostile upstream for the security tests: HTTP and HTTPS on 127.0.0.1.

Every answer carries ``MARKER``, bytes only the upstream sends: a response that holds them
came from the upstream. A path or query with ``clean`` in it answers a harmless page; any
other a page the child profile blocks (test list terms scoring 130). Each request is kept
(method, Host header, path, headers) for the test to inspect.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from e2e.upstream import BLOCK_TERMS, CLEAN_TEXT, html, make_cert

MARKER = "HOSTILE-UPSTREAM-7f3a"
HARMFUL_PAGE = html(f"{MARKER} {BLOCK_TERMS} {BLOCK_TERMS}").encode("utf-8")
CLEAN_PAGE = html(f"{MARKER} {CLEAN_TEXT}").encode("utf-8")


@dataclass(frozen=True)
class Seen:
    method: str
    host: str  # the Host header as the upstream read it
    path: str  # with the query
    headers: dict[str, str]


class HostileUpstream:
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
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                if n:
                    self.rfile.read(min(n, 1 << 20))
                with up._lock:
                    up.seen.append(
                        Seen(
                            self.command,
                            self.headers.get("host", ""),
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                        )
                    )
                path = self.path.split("://", 1)[-1]
                clean = "clean" in path
                body = CLEAN_PAGE if clean else HARMFUL_PAGE
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PUT = _any

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.request_queue_size = 64
        if ctx is not None:
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        ).start()
        self._servers.append(server)
        return int(server.server_address[1])

    def requests_for(self, host: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.host.split(":")[0] == host]

    def close(self) -> None:
        for s in self._servers:
            s.shutdown()
            s.server_close()
