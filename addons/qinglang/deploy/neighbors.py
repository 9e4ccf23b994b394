"""MAC addresses of the devices on this machine's own network, from the kernel's
neighbour (ARP) table, for ``devices:`` entries written by MAC (docs/configuration.md).

Only IPv4 neighbours on the same link are known (``/proc/net/arp``, Linux); a device
behind a router, or seen only over IPv6, has no MAC here and is matched by its other
rules. The table is read again at most every ``max_age`` seconds.
"""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

ARP_TABLE = Path("/proc/net/arp")
_INCOMPLETE = "00:00:00:00:00:00"


def parse_arp(text: str) -> dict[str, str]:
    """``/proc/net/arp`` -> {IPv4 address: mac}; incomplete entries left out."""
    out: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 4:
            continue
        ip, mac = parts[0], parts[3].lower()
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            continue
        if mac != _INCOMPLETE and len(mac) == 17:
            out[ip] = mac
    return out


class Neighbors:
    """IP -> MAC, cached. One per process; used only when a device is written by MAC."""

    def __init__(self, path: Path = ARP_TABLE, max_age: float = 30.0) -> None:
        self.path = path
        self.max_age = max_age
        self._table: dict[str, str] = {}
        self._read_at = float("-inf")

    def mac_of(self, ip: object) -> str | None:
        if ip is None:
            return None
        key = str(ip)
        found = self._table.get(key)
        now = time.monotonic()
        if (found is None and now - self._read_at > min(self.max_age, 2.0)) or (
            now - self._read_at > self.max_age
        ):
            self._read_at = now
            try:
                self._table = parse_arp(self.path.read_text(encoding="ascii", errors="replace"))
            except OSError:
                self._table = {}
            found = self._table.get(key)
        return found
