"""Where this proxy can be reached and keeps its data, as the running mitmproxy's options
say: the data directory, the explicit proxy's port, and the address devices reach this
machine at (for the PAC file, the set-up page and WireGuard configurations)."""

from __future__ import annotations

import contextlib
import ipaddress
from pathlib import Path

from mitmproxy import ctx
from mitmproxy.net import local_ip
from mitmproxy.proxy import mode_specs


def data_dir() -> Path:
    given = str(getattr(ctx.options, "qinglang_data_dir", "") or "")
    return Path(given or ctx.options.confdir).expanduser()


def regular_port() -> int:
    """The port of the explicit proxy listener (what a PAC file points at)."""
    default = ctx.options.listen_port
    for spec in ctx.options.mode:
        try:
            mode = mode_specs.ProxyMode.parse(spec)
        except ValueError:
            continue
        if isinstance(mode, mode_specs.RegularMode):
            return int(mode.listen_port(default) or 8080)
    return int(default or 8080)


def lan_host(seen: str | None = None) -> str:
    """The configured LAN address, else ``seen`` (the local address a device reached),
    else the one address the proxy listens on (``--listen-host``), else this machine's
    outgoing address. A loopback ``seen`` (a parent at the machine itself) is no address
    for another device; a proxy bound to one address is reachable at that one only."""
    options = getattr(ctx, "options", None)  # None outside a running mitmproxy
    given = str(getattr(options, "qinglang_lan_host", "") or "").strip()
    if given:
        return given
    if seen:
        try:
            ip = ipaddress.ip_address(seen.split("%", 1)[0])
        except ValueError:
            ip = None
        if ip is not None and not ip.is_unspecified and not ip.is_loopback:
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ip)
    bound = str(getattr(options, "listen_host", "") or "").strip()
    with contextlib.suppress(ValueError):
        if not ipaddress.ip_address(bound).is_unspecified:
            return bound
    return local_ip.get_local_ip() or "127.0.0.1"
