"""The names parents gave their devices (``devices:`` in the config), for every page:
a page shows "Mei's tablet", not 192.168.1.23 (docs/dashboard.md)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from qinglang.deploy.neighbors import Neighbors
from qinglang.policy.clients import ClientMap
from qinglang.policy.config import Config


def namer(cfg: Config) -> Callable[..., str]:
    """``device(client, user=None)`` -> the device's name, else the client id as it is."""
    clients = ClientMap(cfg)
    neighbors = Neighbors() if clients.uses_mac else None

    def device(client: object, user: object = None) -> str:
        text = str(client) if client is not None else ""
        mac = None
        if neighbors is not None:
            try:
                mac = neighbors.mac_of(ipaddress.ip_address(text))
            except ValueError:
                mac = None
        found = clients.device_name(text, str(user) if user else None, mac)
        return found if found is not None else text

    return device
