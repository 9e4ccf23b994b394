"""Requests written byte for byte, as a curious child's own client sends them: no client
library tidies the host or resolves the path first."""

from __future__ import annotations

import socket
import ssl

from e2e.conftest import Proxy


def _read_all(s: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def _status(reply: bytes) -> tuple[int, bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def send(proxy: Proxy, source: str, request: bytes) -> tuple[int, bytes]:
    """One request through the proxy from ``source``: (status, body)."""
    with socket.create_connection(("127.0.0.1", proxy.port), 20, (source, 0)) as s:
        s.sendall(request)
        return _status(_read_all(s))


def get(proxy: Proxy, source: str, host: str, target: str, extra: str = "") -> tuple[int, bytes]:
    """``GET http://host/target`` in absolute form, exactly as written."""
    req = (
        f"GET http://{host}{target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        f"Accept: text/html\r\nSec-Fetch-Mode: navigate\r\n{extra}\r\n"
    )
    return send(proxy, source, req.encode("latin-1"))


def post(
    proxy: Proxy, source: str, host: str, target: str, body: bytes, ctype: str
) -> tuple[int, bytes]:
    head = (
        f"POST http://{host}{target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return send(proxy, source, head.encode("latin-1") + body)


def get_tls(proxy: Proxy, source: str, host: str, target: str) -> tuple[int, bytes]:
    """``GET target`` inside a ``CONNECT host:443`` tunnel, the path exactly as written."""
    with socket.create_connection(("127.0.0.1", proxy.port), 20, (source, 0)) as raw:
        raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = raw.recv(4096)
            if not chunk:
                break
            reply += chunk
        status, _ = _status(reply)
        if status != 200:
            return status, b""
        ctx = ssl.create_default_context(cafile=str(proxy.ca))
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            req = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
            s.sendall((req + "Accept: text/html\r\nSec-Fetch-Mode: navigate\r\n\r\n").encode())
            return _status(_read_all(s))
