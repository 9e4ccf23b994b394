"""Host names, read and compared one way everywhere.

``canonical`` is the form every rule stores and looks up a host in: lower case, no
trailing dot, no IPv6 brackets, IP addresses compressed, and international names in
punycode as browsers make it (UTS #46, IDNA 2008: ``straße.de`` keeps its ß). Domain
lists, ``deny_domains``, pass-through hosts, overrides and the request rules all use it,
so a name listed in one spelling matches a request in another.

``request_host`` is the host a request is for, read the way mitmproxy's
``Request.pretty_host`` reads it (the Host header's or HTTP/2 authority's host, else the
host the request was sent to), parsed once per distinct header: the addons read it six or
seven times per request, and a parse is about 20 us. This module does not import
mitmproxy; ``tests/test_hosts.py`` checks the parse against mitmproxy's own.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import idna

from qinglang.policy import ipliteral
from qinglang.policy.ipliteral import IPAddress

# The name the proxy answers itself (the report entry, the device set-up page, the child's
# "ask for access" page), as mitmproxy answers mitm.it. A name under home.arpa (RFC 8375)
# is never delegated on the Internet: a link followed without the proxy goes nowhere
# instead of telling a stranger which page was reported.
PROXY_HOST = "qinglang.home.arpa"

# What a listed domain may look like once canonical. Lenient on purpose: real lists hold
# underscores and long labels; the resolver, not a list file, judges what exists.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
NAME_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")

# host[:port] of a Host header or an authority (RFC 9110): a bracketed IPv6 literal, or
# anything without a colon; then an optional numeric port.
_AUTHORITY = re.compile(r"^(?P<host>\[.+\]|[^:]+)(?::(?P<port>\d+))?$")
# A DNS label as a Host header may carry it (mitmproxy also accepts underscores).
_WIRE_LABEL = re.compile(rb"^[A-Za-z0-9_-]{1,63}$")


def to_ascii(host: str) -> str | None:
    """Punycode for an international name: UTS #46 (IDNA 2008) as browsers do it, else
    Python's IDNA 2003 codec (for names UTS #46 refuses that older software still sends);
    None when neither can encode it."""
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        pass
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


@lru_cache(maxsize=8192)
def canonical(host: str) -> str | None:
    """The canonical form of a host name or IP address; None for an empty name or one
    that cannot be encoded. Any other text is returned as it is after folding: a request
    may name a host no list could hold, and it must still meet every rule."""
    h = host.strip().rstrip(".").lower()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    if not h:
        return None
    if not h.isascii():
        ascii_ = to_ascii(h)
        if ascii_ is None:
            return None
        h = ascii_
    # An address in any notation the dial reads (0x7f.1, 2130706433) is one address to
    # every rule, never a name (see ipliteral).
    ip = ipliteral.parse(h)
    return h if ip is None else ip.compressed


def canonical_name(host: str) -> str | None:
    """``canonical`` for a name written in a list file: None unless it is a plausible DNS
    name (``NAME_RE``, at most 253 characters) or an IP address."""
    h = canonical(host)
    if h is None:
        return None
    if NAME_RE.match(h) and len(h) <= 253:
        return h
    return h if parse_ip(h) is not None else None


def parse_ip(host: str) -> IPAddress | None:
    """The IP address a host names literally, in any notation ``getaddrinfo`` or a browser
    reads as one (``[::1]``, ``2130706433``, ``0x7f.1``, ``::ffff:127.0.0.1`` included;
    see ``ipliteral``), else None."""
    h = host.strip().strip("[]")
    if h.endswith("."):
        h = h[:-1]
    if not h or not (h[0].isdigit() or ":" in h):  # cheap: most hosts are names
        return None
    return ipliteral.parse(h)


def host_matches(host: str | None, patterns: Iterable[str]) -> bool:
    """``example.com`` matches itself and every name under it; ``*.example.com`` only
    the names under it. Both sides are compared in canonical form, and a port on either
    is ignored."""
    if not host:
        return False
    h = canonical(_without_port(host))
    if h is None:
        return False
    # An address matches only itself: ``0.1`` does not cover ``10.0.0.1``.
    exact = h[-1].isdigit() and parse_ip(h) is not None
    for pattern in patterns:
        wild = pattern.strip().startswith("*.")
        p = canonical(_without_port(pattern.strip()[2:] if wild else pattern))
        if p is None:
            continue
        if (h == p and not wild) or (not exact and h.endswith("." + p)):
            return True
    return False


def _without_port(host: str) -> str:
    h = host.strip()
    if h.startswith("["):
        return h[1:].split("]", 1)[0]
    if h.count(":") == 1:
        return h.split(":", 1)[0]
    return h


def _valid_wire_host(host: str) -> bool:
    """A Host header's host that is a DNS name or an IP address."""
    try:
        wire = host.encode("idna")
        wire.decode("idna")
    except (UnicodeError, ValueError):
        return False
    if len(wire) > 255:
        return False
    name = wire[:-1] if wire.endswith(b".") else wire
    if all(_WIRE_LABEL.match(label) for label in name.split(b".")):
        return True
    try:
        ipaddress.ip_address(name.decode("ascii"))
    except ValueError:
        return False
    return True


# host[:port] as a server must read it: the port, when there is a colon, is one to five
# ASCII digits (``\\d`` would take other scripts' digits, which no server reads as a port).
_STRICT_AUTHORITY = re.compile(r"(?P<host>\[[^\[\]]*\]|[^:\[\]]*)(?::(?P<port>[0-9]{1,5}))?")


@lru_cache(maxsize=4096)
def strict_authority(authority: str) -> tuple[str, int | None] | None:
    """(host, port) of a Host header or an HTTP/2 ``:authority``, read strictly; None when
    a server could read it otherwise than the rules would: an empty or non-numeric port
    (``evil.test:``, ``evil.test:\\xff``), a port out of range, a host that is not a DNS
    name or IP literal in UTF-8 and IDNA (bytes that were not UTF-8 arrive here as lone
    surrogates), an unbracketed IPv6 address. The host keeps its case, without brackets."""
    m = _STRICT_AUTHORITY.fullmatch(authority)
    if m is None:
        return None
    host = m.group("host")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
        host = host[1:-1]
    elif not valid_host(host):
        return None
    port = m.group("port")
    if port is None:
        return host, None
    n = int(port)
    return (host, n) if 0 < n <= 65535 else None


@lru_cache(maxsize=4096)
def valid_host(host: str) -> bool:
    """A host name a server and a resolver read as the rules do: a DNS name in UTF-8 and
    IDNA (or an IP literal, with or without brackets: mitmproxy gives the request's and
    the server's IPv6 addresses without them), not an empty one."""
    if not host or host in (".",):
        return False
    if parse_ip(host) is not None:
        return True
    return _valid_wire_host(host)


@lru_cache(maxsize=4096)
def authority_host(authority: str) -> str:
    """The host of ``host[:port]`` as sent (case kept, IPv6 brackets dropped); the whole
    text when it is not a valid authority, as mitmproxy's ``pretty_host`` does."""
    m = _AUTHORITY.match(authority)
    if m is None:
        return authority
    host = m.group("host")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not _valid_wire_host(host):
        return authority
    port = m.group("port")
    if port is not None and not 0 <= int(port) <= 65535:
        return authority
    return host


def request_host(request: Any) -> str:
    """The host a ``mitmproxy.http.Request`` is for: its Host header's (or HTTP/2
    authority's) host, else the host it was sent to."""
    authority = request.host_header
    return authority_host(authority) if authority else request.host


def asks_for(request: Any, name: str) -> bool:
    """Whether ``request`` is for ``name`` (lower case, no trailing dot): one of the names
    the proxy answers itself."""
    return request_host(request).lower().rstrip(".") == name


def page_url(scheme: str, host: str, port: int, path: str) -> str:
    """``scheme://host[:port]/path`` without the query or fragment (they can carry
    searches, tokens and personal data)."""
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = f"[{host}]" if ":" in host else host
    if port and port != default:
        netloc = f"{netloc}:{port}"
    p = path.split("?", 1)[0].split("#", 1)[0] or "/"
    return f"{scheme}://{netloc}{p}"
