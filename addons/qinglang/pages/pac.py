"""The proxy auto-config file (PAC; the same file is WPAD's ``wpad.dat``).

Everything goes to the proxy except names and addresses of the home network (plain host
names, ``.local``, ``.lan``, ``.home.arpa``, private, loopback and link-local addresses),
which a device reaches directly: the router, the printer, the NAS, and this machine's
dashboard. ``qinglang.home.arpa`` itself is answered by the proxy, so it goes to it.

Fail-closed: a filtered device gets ``PROXY host:port`` with no ``DIRECT`` fallback, so
when the proxy is down its browser shows an error instead of silently browsing
unfiltered. A device whose profile is not filtered (a parent's) gets ``; DIRECT`` after
it, and keeps browsing while the proxy is down.

Local addresses are recognised only when the URL names them literally: resolving every
name (``dnsResolve``) would stall each request on a DNS lookup.
"""

from __future__ import annotations

import ipaddress
import json
import re

from qinglang.policy.hosts import PROXY_HOST

CONTENT_TYPE = "application/x-ns-proxy-autoconfig"
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")
LOCAL_SUFFIXES = (".local", ".lan", ".home.arpa", ".localdomain")
PRIVATE_V4 = (
    ("10.0.0.0", "255.0.0.0"),
    ("172.16.0.0", "255.240.0.0"),
    ("192.168.0.0", "255.255.0.0"),
    ("127.0.0.0", "255.0.0.0"),
    ("169.254.0.0", "255.255.0.0"),
)
PRIVATE_V6_PREFIXES = ("::1", "fe80:", "fc", "fd")


def proxy_entry(host: str, port: int) -> str:
    """``host:port`` for a PAC ``PROXY`` entry; ValueError for anything that is neither an
    IP address nor a host name (the value ends up in a script)."""
    if not 0 < port < 65536:
        raise ValueError(f"not a port: {port}")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not _HOSTNAME.match(host) or len(host) > 253:
            raise ValueError(f"not a host name or IP address: {host!r}") from None
        return f"{host}:{port}"
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def render(host: str, port: int, *, fallback_direct: bool = False) -> str:
    proxy = f"PROXY {proxy_entry(host, port)}" + ("; DIRECT" if fallback_direct else "")
    v4 = " ||\n      ".join(
        f"isInNet(h, {json.dumps(net)}, {json.dumps(mask)})" for net, mask in PRIVATE_V4
    )
    suffixes = " ||\n      ".join(f"dnsDomainIs(h, {json.dumps(s)})" for s in LOCAL_SUFFIXES)
    v6 = " || ".join(f"h.indexOf({json.dumps(p)}) === 0" for p in PRIVATE_V6_PREFIXES)
    policy = (
        "a parent's device: DIRECT when the proxy is down"
        if fallback_direct
        else "fail-closed: no DIRECT fallback, nothing goes unfiltered when the proxy is down"
    )
    return f"""// qinglang proxy auto-config ({policy})
function FindProxyForURL(url, host) {{
  var proxy = {json.dumps(proxy)};
  var h = host.toLowerCase().replace(/^\\[|\\]$/g, "");
  if (h === {json.dumps(PROXY_HOST)}) return proxy;
  if (isPlainHostName(h) || h === "localhost" ||
      {suffixes})
    return "DIRECT";
  if (/^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$/.test(h) && (
      {v4}))
    return "DIRECT";
  if (h.indexOf(":") >= 0 && ({v6}))
    return "DIRECT";
  return proxy;
}}
"""
