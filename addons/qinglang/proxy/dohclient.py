"""DNS over HTTPS (RFC 8484) for DNS mode's upstreams (``dnsupstream``).

dnspython 2.9 does DoH only through the ``httpx2`` package, which cannot be installed
here; httpx (which dnspython used before) does the HTTPS and dnspython the wire format.
A query is POSTed as ``application/dns-message`` to the upstream's address with the
``#NAME`` as TLS server name and Host, certificate checked: against the machine's CAs,
or only against mitmproxy's ``ssl_verify_upstream_trusted_ca`` when that is set (the
proxy's one setting for trusting an upstream's private CA). ``ssl_insecure`` is not
honoured: an unchecked resolver could hand a child any address.
"""

from __future__ import annotations

import asyncio
import ssl

import dns.exception
import dns.message
import httpx

from qinglang.policy.dnsconfig import Upstream

MEDIA_TYPE = "application/dns-message"
# A DNS message is at most 65535 bytes (RFC 8484 §6 carries it whole): more is not DNS.
MAX_ANSWER = 65535


class DohError(dns.exception.DNSException):
    """A DoH upstream gave no usable answer (HTTP status, media type, size, mismatch)."""


def tls_context(cafile: str | None) -> ssl.SSLContext:
    """Certificates checked, against ``cafile`` alone when given (as mitmproxy does with
    ``ssl_verify_upstream_trusted_ca``), else the machine's CAs."""
    context = ssl.create_default_context(cafile=cafile or None)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def client(cafile: str | None) -> httpx.AsyncClient:
    """A client for one DoH upstream (it keeps the upstream's connections open)."""
    return httpx.AsyncClient(
        verify=tls_context(cafile),
        http2=True,
        follow_redirects=False,  # a resolver that redirects is not one to follow
        trust_env=False,  # no proxy from the environment: qinglang may be that proxy
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=4),
    )


class DohClients:
    """One client per (address, port, name). httpx pools connections by address and
    port alone: a connection checked for one upstream's name would otherwise carry the
    queries of another upstream on the same address under a name never checked."""

    MAX = 16  # more upstreams than this are not written; past it the pool starts again

    def __init__(self, cafile: str | None) -> None:
        self.cafile = cafile
        self._clients: dict[tuple[str, int, str | None], httpx.AsyncClient] = {}
        self._retired: list[httpx.AsyncClient] = []

    def for_upstream(self, u: Upstream) -> httpx.AsyncClient:
        key = (u.address, u.port, u.server_name)
        found = self._clients.get(key)
        if found is None:
            if len(self._clients) >= self.MAX:
                self._retired.extend(self._clients.values())
                self._clients.clear()
            found = self._clients[key] = client(self.cafile)
        return found

    async def aclose(self) -> None:
        for c in [*self._clients.values(), *self._retired]:
            await c.aclose()
        self._clients.clear()
        self._retired.clear()


async def ask(
    clients: DohClients, q: dns.message.Message, u: Upstream, timeout: float
) -> dns.message.Message:
    """``q`` asked of the DoH upstream ``u``; DNSException/httpx.HTTPError/OSError when
    it gives no matching answer within ``timeout`` seconds in all."""
    headers = {"accept": MEDIA_TYPE, "content-type": MEDIA_TYPE}
    extensions: dict[str, str] = {}
    if u.server_name:
        headers["host"] = u.server_name if u.port == 443 else f"{u.server_name}:{u.port}"
        extensions["sni_hostname"] = u.server_name
    body = q.to_wire()
    try:
        # The whole exchange is bounded, not each read (a server dripping bytes).
        async with asyncio.timeout(timeout):
            http = clients.for_upstream(u)
            request = http.build_request(
                "POST",
                u.url,
                content=body,
                headers=headers,
                extensions=extensions,
                timeout=httpx.Timeout(timeout),
            )
            response = await http.send(request, stream=True)
            try:
                wire = await _read(response)
            finally:
                await response.aclose()
    except TimeoutError:
        raise dns.exception.Timeout(timeout=timeout) from None
    answer = dns.message.from_wire(wire)
    if not q.is_response(answer):
        raise DohError(f"{u}: the answer is not for this query")
    return answer


async def _read(response: httpx.Response) -> bytes:
    if response.status_code != 200:
        raise DohError(f"HTTP {response.status_code}")
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != MEDIA_TYPE:
        raise DohError(f"media type {media!r}")
    length = response.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_ANSWER):
        raise DohError("answer too large")
    wire = bytearray()
    async for chunk in response.aiter_bytes():
        wire += chunk
        if len(wire) > MAX_ANSWER:
            raise DohError("answer too large")
    return bytes(wire)
