"""Who is asking behind a balancer: the device's address from ``X-Forwarded-For``, believed
only from the balancers named in ``qinglang_trusted_proxies``.

HAProxy in HTTP mode (``option forwardfor``) appends the address it accepted the connection
from to ``X-Forwarded-For``, also on a ``CONNECT``. Only the last entry is HAProxy's own
word: anything before it is what the device sent, and a child can forge that. A ``CONNECT``
carries the header once, for the whole tunnel, so the address is remembered per client
connection for the requests inside it. The header is taken off before a request goes on
(a pupil's school address is nobody else's business). Once balancers are named, a
connection from anywhere else is the device itself: its header is ignored and removed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import MutableMapping

from qinglang.policy.clients import IPAddress, IPNetwork, peer_ip

HEADER = "x-forwarded-for"


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"10.0.0.5, 10.1.0.0/24"`` -> networks; ``ValueError`` names the bad entry."""
    out = []
    for part in text.replace(";", ",").split(","):
        p = part.strip()
        if not p:
            continue
        try:
            out.append(ipaddress.ip_network(p, strict=False))
        except ValueError:
            raise ValueError(
                f"qinglang_trusted_proxies: {p!r} is not an IP address or CIDR"
            ) from None
    return tuple(out)


class Forwarded:
    """Balancers whose ``X-Forwarded-For`` is believed, and what their CONNECTs said."""

    def __init__(self, trusted: tuple[IPNetwork, ...] = ()) -> None:
        self.trusted = trusted
        self._tunnels: dict[str, IPAddress] = {}  # client connection id -> device address

    def trusts(self, ip: IPAddress | None) -> bool:
        return ip is not None and any(ip in n for n in self.trusted)

    def client(
        self, conn_id: str, peer: IPAddress | None, headers: MutableMapping[str, str]
    ) -> IPAddress | None:
        """The device's address for a request arriving from ``peer`` with ``headers``; the
        header is removed. Without a trusted balancer: ``peer``."""
        if not self.trusted:  # no balancer named: headers are left as they are
            return peer
        sent = headers.get(HEADER)
        if sent is not None:
            del headers[HEADER]
        if not self.trusts(peer):
            return peer
        if sent:
            found = peer_ip((sent.rsplit(",", 1)[-1].strip(),))
            if found is not None:
                self._tunnels[conn_id] = found  # a CONNECT: for the requests inside it
                return found
        return self._tunnels.get(conn_id, peer)

    def tunnel(self, conn_id: str, peer: IPAddress | None) -> IPAddress | None:
        """The device's address for a TLS handshake on connection ``conn_id``."""
        if not self.trusts(peer):
            return peer
        return self._tunnels.get(conn_id, peer)

    def forget(self, conn_id: str) -> None:
        self._tunnels.pop(conn_id, None)
