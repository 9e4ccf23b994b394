"""Where a request goes: one answer from every place that names a host.

A request names its destination in several places, and each is read by someone:

- the ``Host`` header (the rules' main name; a server picks its site by it),
- the request line's authority: the dialled host in regular mode (``GET http://h/``),
  and inside a tunnel an absolute-form target that a server prefers to the ``Host``
  header (RFC 9112, section 3.2.2); HTTP/2's ``:authority``,
- the TLS server name (a CDN picks its site by it),
- the ``CONNECT`` target and the address the proxy dials.

``where_to`` reads them all. A request a server could read otherwise than the rules do is
refused (``Target.problem``, a 400): more than one ``Host`` header, a ``Host`` or
authority with an empty or non-numeric port, a host that is not valid UTF-8 or IDNA.
Otherwise every name other than the ``Host`` header's is in ``Target.others`` and the
rules judge each (``decide.decide``); the strictest verdict holds. Addresses are left out:
in transparent and WireGuard modes the dialled host is the server's IP address, and the
names say more (bare IP addresses are the ``CONNECT`` check's business).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from qinglang.policy.hosts import canonical, parse_ip, strict_authority, valid_host


@dataclass(frozen=True, slots=True)
class Target:
    problem: str | None = None  # why the request is refused with a 400
    others: tuple[str, ...] = ()  # canonical names other than the Host header's
    # The TLS name, when it is in ``others`` and nothing else names it: an HTTP/2 browser
    # may send the request on a connection opened for another site (connection
    # coalescing), and a 421 sends it to a connection of its own (RFC 9110, 15.5.20).
    tls_only: str | None = None


def where_to(
    *,
    host_headers: Sequence[str],
    authority: str = "",
    request_host: str = "",
    sni: str | None = None,
    dialed: str | None = None,
    shown: str = "",
) -> Target:
    """``host_headers``: every ``Host`` field as received; ``authority``: the request
    line's (or HTTP/2's) authority, "" when none; ``request_host``: the host mitmproxy
    will connect to (the absolute URL's, the ``CONNECT`` target, or the server address);
    ``sni``: the TLS server name; ``dialed``: the server connection's address when it is
    already known; ``shown``: the name the rules read first (``hosts.request_host``)."""
    # Cached: a page's requests repeat the same names (measured: 13 -> 1 us a request).
    return _where_to(tuple(host_headers), authority, request_host, sni, dialed, shown)


@lru_cache(maxsize=4096)
def _where_to(
    host_headers: tuple[str, ...],
    authority: str,
    request_host: str,
    sni: str | None,
    dialed: str | None,
    shown: str,
) -> Target:
    if len(host_headers) > 1:
        return Target(f"{len(host_headers)} Host headers")
    names: list[tuple[str, str]] = []  # (where, name)
    for what, value in (("Host header", host_headers[0] if host_headers else ""),
                        ("authority", authority)):  # fmt: skip
        if not value:
            continue
        parsed = strict_authority(value)
        if parsed is None:
            return Target(f"the {what} is not a valid host[:port]")
        names.append((what, parsed[0]))
    hosts: list[tuple[str, str | None]] = [
        ("request host", request_host),
        ("TLS server name", sni),
        ("dialled host", dialed),
    ]
    for what, host in hosts:
        if not host:
            continue
        if not valid_host(host):
            return Target(f"the {what} is not a valid host name")
        names.append((what, host))
    first = canonical(shown) if shown else None
    others: dict[str, set[str]] = {}  # name -> where it was named
    for what, n in names:
        if parse_ip(n) is not None:
            continue
        c = canonical(n)
        if c is not None and c != first:
            others.setdefault(c, set()).add(what)
    tls_only = next((n for n, where in others.items() if where == {"TLS server name"}), None)
    return Target(None, tuple(others), tls_only)
