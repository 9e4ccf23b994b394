"""Who may open the dashboard: a client whose profile is not filtered, or one on the
admin networks (by default the machine itself). Decided from the connection's peer
address, never from a header."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qinglang.policy.clients import ClientMap, IPNetwork, peer_ip
from qinglang.policy.config import Config


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    ip: str
    profile: str


def networks(cidrs: Sequence[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in cidrs)


def check(
    cfg: Config,
    clients: ClientMap,
    peer: Any,
    admin_networks: Sequence[IPNetwork],
    listener: int | None = None,
) -> Verdict:
    """``listener``: the proxy listener a proxied connection came in on (None for a device
    that addresses the dashboard directly)."""
    ip = peer_ip(peer)
    if ip is None:
        return Verdict(False, "", cfg.default_profile)
    name = clients.profile_for(ip, None, listener)
    if any(ip in net for net in admin_networks):
        return Verdict(True, str(ip), name)
    profile = cfg.profiles.get(name) or cfg.profile(None)
    return Verdict(not profile.filter, str(ip), name)
