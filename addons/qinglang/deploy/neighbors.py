"""MAC addresses of the devices on this machine's own network, from the kernel's
neighbour tables, for ``devices:`` entries written by MAC (docs/configuration.md).

IPv4 neighbours come from ``/proc/net/arp``. The kernel has no such file for IPv6
(``/proc/net/ipv6_neigh`` does not exist): IPv6 neighbours come from ``ip -6 neigh
show`` (iproute2, present wherever a Linux router is set up), read as text, which every
iproute2 and BusyBox version prints the same way. Only devices on the same link are
known; one behind a router has no MAC here and is matched by its other rules. Each
table is read again at most every ``max_age`` seconds (every 2 s while an address is
not in it), and only when an address of its family is asked for.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ARP_TABLE = Path("/proc/net/arp")
_INCOMPLETE = "00:00:00:00:00:00"
_MISS_AGE = 2.0
# Where iproute2's `ip` lives when the proxy's PATH lacks the sbin directories.
_IP_PLACES = ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")
# States whose link-layer address is not (or no longer) known to be the neighbour's.
_NOT_REACHED = frozenset({"FAILED", "INCOMPLETE", "NONE"})


def _mac(text: str) -> str | None:
    mac = text.lower()
    parts = mac.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts) or mac == _INCOMPLETE:
        return None
    try:
        bytes.fromhex("".join(parts))
    except ValueError:
        return None
    return mac


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


def parse_ip_neigh(text: str) -> dict[str, str]:
    """``ip -6 neigh show`` -> {IPv6 address: mac}.

    A line is ``ADDR [dev IF] [lladdr MAC] [router] [proxy] STATE``. Lines without a
    ``lladdr`` (FAILED, INCOMPLETE) or of another family are left out; a link-local
    address's ``%scope`` is dropped, as ``policy.clients.peer_ip`` drops it, and the
    first interface's entry wins.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or "lladdr" not in words[1:-1]:
            continue
        if words[-1].upper() in _NOT_REACHED:
            continue
        try:
            ip = ipaddress.IPv6Address(words[0].split("%", 1)[0])
        except ValueError:
            continue
        mac = _mac(words[words.index("lladdr", 1) + 1])
        if mac is not None and ip.ipv4_mapped is None:
            out.setdefault(ip.compressed, mac)
    return out


def ip6_neigh_command() -> list[str] | None:
    """The command that prints the IPv6 neighbour table, or None without iproute2."""
    found = shutil.which("ip") or next((p for p in _IP_PLACES if Path(p).is_file()), None)
    return [found, "-6", "neigh", "show"] if found else None


def run_command(argv: Sequence[str]) -> str:
    """Its standard output; OSError when it cannot run, fails or takes over a second."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, timeout=1.0, check=True, stdin=subprocess.DEVNULL
        )
    except (subprocess.SubprocessError, ValueError) as e:
        raise OSError(str(e)) from e
    return done.stdout.decode("ascii", "replace")


class _Table:
    """One family's table, cached: ``read`` gives its text, ``parse`` its entries."""

    def __init__(
        self, read: Callable[[], str], parse: Callable[[str], dict[str, str]], max_age: float
    ) -> None:
        self.read, self.parse, self.max_age = read, parse, max_age
        self.entries: dict[str, str] = {}
        self.read_at = float("-inf")

    def get(self, key: str) -> str | None:
        found = self.entries.get(key)
        age = time.monotonic() - self.read_at
        if (found is None and age > min(self.max_age, _MISS_AGE)) or age > self.max_age:
            self.read_at = time.monotonic()
            try:
                self.entries = self.parse(self.read())
            except OSError:
                self.entries = {}
            found = self.entries.get(key)
        return found


class Neighbors:
    """IP -> MAC, cached. One per process; used only when a device is written by MAC.

    ``ip6_command`` prints the IPv6 table (``ip -6 neigh show``; found on first use when
    not given, an empty list for none)."""

    def __init__(
        self,
        path: Path = ARP_TABLE,
        max_age: float = 30.0,
        ip6_command: Sequence[str] | None = None,
    ) -> None:
        self.path = path
        self.max_age = max_age
        self._v4 = _Table(self._read_arp, parse_arp, max_age)
        self._ip6_command = None if ip6_command is None else list(ip6_command)
        self._v6 = _Table(self._read_ip6, parse_ip_neigh, max_age)

    def _read_arp(self) -> str:
        return self.path.read_text(encoding="ascii", errors="replace")

    def _read_ip6(self) -> str:
        if self._ip6_command is None:
            self._ip6_command = ip6_neigh_command() or []
        if not self._ip6_command:
            raise OSError("no ip command")
        return run_command(self._ip6_command)

    def mac_of(self, ip: object) -> str | None:
        if ip is None:
            return None
        try:
            addr = ipaddress.ip_address(str(ip).split("%", 1)[0])
        except ValueError:
            return None
        if isinstance(addr, ipaddress.IPv6Address):
            if addr.ipv4_mapped is not None:
                return self._v4.get(str(addr.ipv4_mapped))
            return self._v6.get(addr.compressed)
        return self._v4.get(str(addr))
