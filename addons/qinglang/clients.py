"""Who is asking: the profile of a connection, and the hosts a profile never intercepts.

A profile comes from the connection itself, never from a request header (a child can
forge a header): the peer's IP address, or the user name of mitmproxy's proxy
authentication where it is switched on. The config's ``clients`` rules are tried in
order, the first match wins, and everyone else gets ``default_profile``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import Config

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def peer_ip(peername: Any) -> IPAddress | None:
    """The client's address from a socket peername; IPv4-mapped IPv6 is unwrapped."""
    if not peername:
        return None
    try:
        ip = ipaddress.ip_address(str(peername[0]).split("%", 1)[0])
    except (ValueError, IndexError, TypeError):
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def proxy_user(metadata: Mapping[str, Any]) -> str | None:
    """The user name mitmproxy's proxyauth addon stored for this flow (never the password)."""
    auth = metadata.get("proxyauth")
    if isinstance(auth, tuple | list) and auth and isinstance(auth[0], str) and auth[0]:
        return auth[0]
    return None


@dataclass(frozen=True, slots=True)
class _Rule:
    network: IPNetwork | None
    user: str | None
    profile: str


class ClientMap:
    """The config's client rules, parsed once."""

    def __init__(self, cfg: Config) -> None:
        self.default = cfg.default_profile
        self.rules = tuple(_Rule(r.network(), r.user, r.profile) for r in cfg.clients)

    def profile_for(self, ip: IPAddress | None, user: str | None = None) -> str:
        for rule in self.rules:
            if rule.user is not None:
                if user is not None and user == rule.user:
                    return rule.profile
            elif ip is not None and rule.network is not None and ip in rule.network:
                return rule.profile
        return self.default


def normalize_host(host: str) -> str:
    """Lower case, no trailing dot, no port, no IPv6 brackets."""
    h = host.strip().lower().rstrip(".")
    if h.startswith("["):
        return h[1:].split("]", 1)[0]
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h


def host_matches(host: str | None, patterns: Iterable[str]) -> bool:
    """``example.com`` matches itself and every subdomain; ``*.example.com`` only subdomains."""
    if not host:
        return False
    h = normalize_host(host)
    for p in patterns:
        p = normalize_host(p)
        if p.startswith("*."):
            if h.endswith(p[1:]):
                return True
        elif h == p or h.endswith("." + p):
            return True
    return False
