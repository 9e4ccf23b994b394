"""Hostile upstreams for the tunnel tests, all on 127.0.0.1: a raw TCP echo server, a
server that speaks first like sshd, one that does the same inside TLS, and an HTTP server
that answers every request with ``101 Switching Protocols`` and then raw bytes. Each counts
the connections it accepted and keeps every byte a client managed to send it."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

BANNER = b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"
RAW_AFTER_101 = b"\x00\x01raw-bytes-after-upgrade\xff"


class RawServer:
    """Accepts connections on 127.0.0.1 and runs one of the behaviours below on each."""

    def __init__(self, kind: str, tls: ssl.SSLContext | None = None) -> None:
        self.kind = kind
        self.tls = tls
        self.accepted = 0
        self.received = b""
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _keep(self, data: bytes) -> None:
        with self._lock:
            self.received += data

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            if self.kind == "banner":
                conn.sendall(BANNER)
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                self._keep(data)
                if self.kind in ("echo", "banner"):
                    conn.sendall(data)
                elif self.kind == "upgrade" and b"\r\n\r\n" in self.received:
                    conn.sendall(
                        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: vpn\r\n"
                        b"Connection: Upgrade\r\n\r\n" + RAW_AFTER_101
                    )
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


def tls_server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def connect(
    proxy_port: int, source: str, host: str, port: int, timeout: float = 10.0
) -> tuple[socket.socket, int, bytes]:
    """A CONNECT from ``source``: the open socket, the status and whatever came after the
    proxy's answer in the same read."""
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout, (source, 0))
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    head, _, rest = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return s, status, rest


def read_all(s: socket.socket, timeout: float = 5.0) -> tuple[bytes, bool]:
    """Everything the peer sends, and whether it closed the connection (False: it was
    still open after ``timeout`` of silence)."""
    s.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got, True
            got += chunk
    except ConnectionResetError:
        return got, True
    except TimeoutError:
        return got, False
