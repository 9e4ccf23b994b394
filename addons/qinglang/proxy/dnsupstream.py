"""Asking the upstream resolvers, for DNS mode (``dnsfilter``).

dnspython does the wire work (UDP with a TCP retry when the answer is truncated, TCP,
DNS over TLS; DNS over HTTPS goes through ``dohclient``) and checks that an answer
matches its query (id and question), so a forged UDP answer is dropped. mitmproxy's own
resolver is not used: it only takes bare addresses on port 53, no DoT, and resolves
before any addon has looked at the name.
"""

from __future__ import annotations

import ipaddress
import logging

import dns.asyncquery
import dns.exception
import dns.message
import dns.rdatatype
import httpx

from qinglang.policy.dnsconfig import Upstream, parse_upstream
from qinglang.proxy import dohclient

log = logging.getLogger(__name__)


class UpstreamError(Exception):
    """No upstream answered."""


def system_upstreams() -> list[Upstream]:
    """The machine's own resolvers, less loopback ones (qinglang may be that resolver)."""
    try:
        import mitmproxy_rs

        servers: list[str] = list(mitmproxy_rs.dns.get_system_dns_servers())
    except Exception:  # no resolver configuration readable: the config must name one
        return []
    out: list[Upstream] = []
    for s in servers:
        try:
            u = parse_upstream(s)
        except ValueError:
            continue
        if not ipaddress.ip_address(u.address).is_loopback:
            out.append(u)
    return out


async def _ask_one(
    q: dns.message.Message, u: Upstream, timeout: float, doh: dohclient.DohClients | None
) -> dns.message.Message:
    if u.protocol == "https":
        if doh is None:
            raise dohclient.DohError("no DoH client")
        return await dohclient.ask(doh, q, u, timeout)
    if u.protocol == "udp":
        answer, _tcp = await dns.asyncquery.udp_with_fallback(q, u.address, timeout, u.port)
        return answer
    if u.protocol == "tcp":
        return await dns.asyncquery.tcp(q, u.address, timeout, u.port)
    return await dns.asyncquery.tls(q, u.address, timeout, u.port, server_hostname=u.server_name)


async def ask(
    q: dns.message.Message,
    upstreams: list[Upstream],
    timeout: float,
    doh: dohclient.DohClients | None = None,
) -> bytes:
    """The first answer any upstream gives to ``q``, tried in order, as wire bytes.
    ``doh`` asks the https:// upstreams."""
    problem = "no upstream resolver configured"
    for u in upstreams:
        try:
            answer = await _ask_one(q, u, timeout, doh)
        except (dns.exception.DNSException, httpx.HTTPError, OSError, EOFError) as e:
            problem = f"{u}: {type(e).__name__}"
            continue
        return answer.to_wire()
    raise UpstreamError(problem)


def query_for(name: str, qtype: int) -> dns.message.Message:
    """A query of our own (the safe-search host's addresses)."""
    return dns.message.make_query(name, dns.rdatatype.RdataType.make(qtype))


def parse_query(wire: bytes) -> dns.message.Message:
    """The client's query as dnspython reads it; ``dns.exception.DNSException`` if bad."""
    return dns.message.from_wire(wire)
