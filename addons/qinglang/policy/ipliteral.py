"""IP address literals in every notation a resolver or a browser reads as an address.

``getaddrinfo`` (glibc's ``inet_aton``, which the proxy's own dial goes through) and the
WHATWG URL parser both read an IPv4 address written in one to four parts, each decimal,
octal (a leading ``0``) or hexadecimal (``0x``): ``134744072``, ``0x08080808``,
``010.010.010.010``, ``8.8.2056`` and ``0x8.0x8.2056`` are all 8.8.8.8. The last part
fills the bytes the earlier parts leave. ``ipaddress`` reads only the dotted quad, so a
rule that trusted it would take any of the others for a name.

This parser accepts what either of them accepts (a WHATWG-only ``0x`` with no digits is 0;
a trailing dot is dropped by the caller), so a host that any consumer would dial as an
address is an address to the rules. ``tests/test_ipliteral.py`` holds it to
``socket.inet_aton`` and ``getaddrinfo(..., AI_NUMERICHOST)``.

IPv6 literals are read by ``ipaddress`` (what ``inet_pton`` accepts, and a ``%zone``); an
IPv4-mapped address (``::ffff:8.8.8.8``) is the IPv4 address it reaches over a dual-stack
socket, so rules see that one.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEC = frozenset("0123456789")
_OCT = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")
# A part longer than this is more than 32 bits whatever its leading zeros: refused before
# int() sees a string of any length.
_MAX_PART = 64


def _part(text: str) -> int | None:
    """One part's value (decimal, 0-octal or 0x-hex), else None."""
    if not text or len(text) > _MAX_PART + 2:
        return None
    if text[:2] in ("0x", "0X"):
        digits = text[2:]
        if not set(digits) <= _HEX:
            return None
        return int(digits, 16) if digits else 0
    if len(text) > 1 and text[0] == "0":
        return int(text, 8) if set(text) <= _OCT else None
    return int(text) if set(text) <= _DEC else None


def parse_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address ``text`` names in any inet_aton/WHATWG notation, else None."""
    parts = text.split(".")
    if len(parts) > 4:
        return None
    nums: list[int] = []
    for p in parts:
        n = _part(p)
        if n is None:
            return None
        nums.append(n)
    *head, last = nums
    if any(n > 0xFF for n in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    value = last
    for i, n in enumerate(head):
        value |= n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


# Cached: a page's requests repeat the same hosts, and an address host is parsed several
# times a request (the rules, the destination check, the bare-IP check).
@lru_cache(maxsize=4096)
def parse(text: str) -> IPAddress | None:
    """The address a host names literally (no brackets, no port), in canonical form: IPv4
    in any notation, IPv6 without its zone, an IPv4-mapped IPv6 address as its IPv4
    address. None for anything else."""
    if not text or not text.isascii():
        return None
    if ":" not in text:
        return parse_ipv4(text) if text[0] in _DEC else None
    try:
        ip = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ipaddress.IPv6Address(ip.packed) if ip.scope_id else ip
