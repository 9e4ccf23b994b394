"""Fetch a reported page again for the corpus export: plain HTTP(S), a size cap, decoded
by the same content-encoding rules as the proxy (urllib asks for identity encoding).

The addresses come from reports a child's device sent, so they are untrusted: a report of
``http://192.168.1.1/admin`` or of a name that resolves to the router must not make the
dashboard fetch from the home network. Every connection (redirects included) is checked
after the name is resolved, against the address actually dialled, so a name that resolves
once to a public address and then to a private one gains nothing. No proxy from the
environment is used. Each fetch ends by a deadline (the whole page, not each read), so a
server that drips one byte a second cannot hold the export.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

MAX_BYTES = 5 * 1024 * 1024
TIMEOUT = 15.0  # one page, from the first connection to the last byte
READ_TIMEOUT = 5.0  # one connect or one read
EXPORT_SECONDS = 120.0  # the whole export; what is left stays open for the next one
_CHUNK = 64 * 1024


class NotPublic(ValueError):
    """The address is not a public one."""


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global unicast address (not loopback, private, link-local, shared, reserved,
    multicast), read through an IPv4-mapped IPv6 address to the IPv4 one."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _connector(allowed: Callable[[IPAddress], bool]) -> Callable[..., socket.socket]:
    def connect(
        address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        """``socket.create_connection`` to the first allowed address the name has."""
        host, port = address
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        refused: list[str] = []
        err: OSError | None = None
        for family, kind, proto, _name, sockaddr in infos:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if not allowed(ip):
                refused.append(str(ip))
                continue
            sock = socket.socket(family, kind, proto)
            try:
                if isinstance(timeout, int | float):
                    sock.settimeout(timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as e:
                sock.close()
                err = e
        if err is not None:
            raise err
        raise NotPublic(f"not a public address: {host} ({', '.join(refused) or 'unresolved'})")

    return connect


def _opener(allowed: Callable[[IPAddress], bool]) -> urllib.request.OpenerDirector:
    """urllib with no proxy and every connection (redirects too) through ``_connector``."""
    dial = _connector(allowed)

    # http.client sets _create_connection in __init__; HTTPS wraps the socket it returns.
    class PlainConn(http.client.HTTPConnection):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self._create_connection = dial

    class TlsConn(http.client.HTTPSConnection):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self._create_connection = dial

    plain, tls = PlainConn, TlsConn

    class Plain(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(plain, req)

    class Tls(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(tls, req)

    return urllib.request.build_opener(urllib.request.ProxyHandler({}), Plain(), Tls())


def fetch_page(
    url: str,
    *,
    until: float | None = None,
    allowed: Callable[[IPAddress], bool] = is_public,
) -> tuple[bytes, str | None]:
    """The body and Content-Type at ``url``; ``until`` (a ``time.monotonic()`` moment)
    ends it sooner than the page's own ``TIMEOUT``; ``allowed``: which addresses may be
    dialled. ValueError for an address that is not http(s) or not allowed, a page too
    large, or a deadline passed; OSError for the rest."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) address: {url}")
    end = time.monotonic() + TIMEOUT
    if until is not None:
        end = min(end, until)

    def left() -> float:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise ValueError("took too long")
        return remaining

    req = urllib.request.Request(
        url, headers={"User-Agent": "qinglang-report-export", "Accept-Encoding": "identity"}
    )
    # Each wait (connect, one read) is at most READ_TIMEOUT and the clock is checked after
    # each, so a page ends within READ_TIMEOUT of its deadline however the server drips.
    with _opener(allowed).open(req, timeout=min(left(), READ_TIMEOUT)) as resp:
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = resp.read1(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BYTES:
                raise ValueError(f"larger than {MAX_BYTES} bytes")
            chunks.append(chunk)
            left()
        return b"".join(chunks), resp.headers.get("content-type")
