"""A real upstream DNS server on 127.0.0.1 for DNS mode's tests (the network reaches
nothing else), and a client that asks from a chosen loopback address.

The server answers over UDP and TCP from a fixed zone: every name gets an A and an AAAA
record derived from the name (so a test can tell the upstream's answer from a block
address), the engines' safe-search hosts get their published addresses, and
``CNAME_TO`` names answer with a CNAME. It remembers every name it was asked.
"""

from __future__ import annotations

import hashlib
import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.rrset

SAFE = {
    "forcesafesearch.google.com": "216.239.38.120",
    "restrict.youtube.com": "216.239.38.119",
    "strict.bing.com": "204.79.197.220",
    "safe.duckduckgo.com": "52.142.124.215",
}
CNAME_TO = {"cloaked.example": "www.pornhub.com"}


def address_of(name: str) -> str:
    """The A record the upstream gives ``name``: 198.18.x.y from a hash of the name."""
    h = hashlib.sha256(name.rstrip(".").lower().encode()).digest()
    return f"198.18.{h[0]}.{max(h[1], 1)}"


class Zone:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def answer(self, wire: bytes) -> bytes:
        q = dns.message.from_wire(wire)
        r = dns.message.make_response(q)
        r.flags |= dns.flags.RA
        question = q.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        with self._lock:
            self.asked.append(name)
        owner = question.name
        if name in CNAME_TO:
            target = dns.name.from_text(CNAME_TO[name])
            r.answer.append(dns.rrset.from_text(owner, 60, "IN", "CNAME", target.to_text()))
            owner, name = target, CNAME_TO[name]
        if question.rdtype == dns.rdatatype.A:
            r.answer.append(
                dns.rrset.from_text(owner, 60, "IN", "A", SAFE.get(name) or address_of(name))
            )
        elif question.rdtype == dns.rdatatype.AAAA:
            r.answer.append(dns.rrset.from_text(owner, 60, "IN", "AAAA", "2001:db8::53"))
        return r.to_wire()


@contextmanager
def dns_upstream() -> Iterator[tuple[int, Zone]]:
    """A UDP and TCP DNS server on 127.0.0.1 (one port for both); yields (port, zone)."""
    zone = Zone()

    class Udp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            sock.sendto(zone.answer(data), self.client_address)

    class Tcp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            head = self.request.recv(2)
            (n,) = struct.unpack("!H", head)
            data = b""
            while len(data) < n:
                chunk = self.request.recv(n - len(data))
                if not chunk:
                    return
                data += chunk
            out = zone.answer(data)
            self.request.sendall(struct.pack("!H", len(out)) + out)

    for _ in range(20):  # a port free for both protocols
        port = udp_port_free()
        try:
            udp = socketserver.ThreadingUDPServer(("127.0.0.1", port), Udp)
        except OSError:
            continue
        try:
            tcp = socketserver.ThreadingTCPServer(("127.0.0.1", port), Tcp)
        except OSError:
            udp.server_close()
            continue
        break
    else:
        raise RuntimeError("no port free for UDP and TCP")
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (udp, tcp)]
    for t in threads:
        t.start()
    try:
        yield port, zone
    finally:
        for s in (udp, tcp):
            s.shutdown()
            s.server_close()


def ask(
    port: int, name: str, rdtype: str = "A", source: str = "127.0.0.1", timeout: float = 5.0
) -> dns.message.Message:
    """One query to qinglang's DNS listener on 127.0.0.1:``port`` from ``source``."""
    q = dns.message.make_query(name, rdtype)
    return dns.query.udp(q, "127.0.0.1", timeout=timeout, port=port, source=source)


def addresses(r: dns.message.Message) -> list[str]:
    return [rd.to_text() for rrset in r.answer for rd in rrset if rrset.rdtype in (1, 28)]


def cnames(r: dns.message.Message) -> list[str]:
    return [
        rd.to_text().rstrip(".")
        for rrset in r.answer
        for rd in rrset
        if rrset.rdtype == dns.rdatatype.CNAME
    ]


def udp_port_free() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port = int(t.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


__all__ = ["SAFE", "Zone", "address_of", "addresses", "ask", "cnames", "dns_upstream"]
