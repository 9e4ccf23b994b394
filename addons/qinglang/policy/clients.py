"""Who is asking: the profile of a connection, and the hosts a profile never intercepts.

A profile comes from the connection itself, never from a request header (a child can
forge a header): the peer's IP address, the user name of mitmproxy's proxy
authentication where it is switched on, or the port of the listener the connection came
in on (``listener``; over WireGuard every device appears as the same address, so each
device gets a listener of its own). The ``devices`` entries are tried first (a device's
listener says more than an address that every WireGuard device shares), then the
``clients`` rules in order; the first match wins, and everyone else gets
``default_profile``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qinglang.policy.config import Config, Device, NamedDevice

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


# The ASGI scope extension where the proxy puts the listener of a flow it serves to one of
# its own apps (mitmproxy's asgiapp passes the peer address but not the listener).
LISTENER_SCOPE = "qinglang.listener"


def scope_listener(scope: Mapping[str, Any]) -> int | None:
    value = (scope.get("extensions") or {}).get(LISTENER_SCOPE)
    return value if isinstance(value, int) else None


def listener_port(conn: Any, listen_port: int | None = None) -> int | None:
    """The port of the proxy listener a mitmproxy client connection came in on.

    Read from the connection's ``proxy_mode`` (the ``--mode`` spec it was accepted by),
    not from its socket: in WireGuard mode the socket's address is the destination inside
    the tunnel, not the UDP port the device's tunnel arrived at. ``listen_port``: the
    proxy's ``listen_port`` option, for a mode spec that names no port."""
    mode = getattr(conn, "proxy_mode", None)
    if mode is None:
        return None
    port = getattr(mode, "custom_listen_port", None)
    if port is None:  # e.g. plain `regular`: the listen_port option, else the mode's default
        port = mode.listen_port(listen_port)
    return int(port) if port is not None else None


@dataclass(frozen=True, slots=True)
class _Rule:
    network: IPNetwork | None
    user: str | None
    listener: int | None
    profile: str
    mac: str | None = None


def _device_rule(d: Device | NamedDevice) -> _Rule:
    if isinstance(d, Device):
        return _Rule(None, None, d.wireguard_port, d.profile)
    network = ipaddress.ip_network(d.ip) if d.ip else None
    return _Rule(network, d.user, None, d.profile, d.mac)


class ClientMap:
    """The config's device and client rules, parsed once."""

    def __init__(self, cfg: Config) -> None:
        self.default = cfg.default_profile
        devices = tuple(_device_rule(d) for d in cfg.devices)
        rules = (_Rule(r.network(), r.user, r.listener, r.profile) for r in cfg.clients)
        self.rules = (*devices, *rules)
        self.device_names = {d.wireguard_port: d.name for d in cfg.wireguard_devices}
        # What pages show for a device the parent named: by client id, MAC or log-in.
        self._shown: dict[str, str] = {}
        self._shown_mac: dict[str, str] = {}
        self._shown_user: dict[str, str] = {}
        for d in cfg.devices:
            if isinstance(d, Device):
                self._shown[f"wg:{d.name}"] = d.shown
            elif d.ip:
                self._shown[d.ip] = d.shown
            elif d.mac:
                self._shown_mac[d.mac] = d.shown
            elif d.user:
                self._shown_user[d.user] = d.shown
        self.uses_mac = any(r.mac for r in devices)

    def device_name(
        self, client: str, user: str | None = None, mac: str | None = None
    ) -> str | None:
        """The name the parent gave the device ``client`` (a client id), if any."""
        found = self._shown.get(client)
        if found is None and mac is not None:
            found = self._shown_mac.get(mac)
        if found is None and user is not None:
            found = self._shown_user.get(user)
        return found

    def is_known(
        self, ip: IPAddress | None, user: str | None = None, mac: str | None = None
    ) -> bool:
        """Whether a device or client rule (not the default profile) covers this client."""
        return self._rule_for(ip, user, None, mac) is not None

    def client_id(self, ip: IPAddress | None, listener: int | None = None) -> str:
        """Who a device is in the event log, the quota minutes and a parent's grants: its
        address, or ``wg:NAME`` for a device on its own WireGuard listener (every such
        device has the same address inside its tunnel)."""
        if listener is not None and listener in self.device_names:
            return f"wg:{self.device_names[listener]}"
        return str(ip) if ip is not None else ""

    def profile_for(
        self,
        ip: IPAddress | None,
        user: str | None = None,
        listener: int | None = None,
        mac: str | None = None,
    ) -> str:
        rule = self._rule_for(ip, user, listener, mac)
        return rule.profile if rule is not None else self.default

    def _rule_for(
        self, ip: IPAddress | None, user: str | None, listener: int | None, mac: str | None
    ) -> _Rule | None:
        for rule in self.rules:
            if rule.listener is not None:
                if listener is not None and listener == rule.listener:
                    return rule
            elif rule.user is not None:
                if user is not None and user == rule.user:
                    return rule
            elif rule.mac is not None:
                if mac is not None and mac == rule.mac:
                    return rule
            elif ip is not None and rule.network is not None and ip in rule.network:
                return rule
        return None
