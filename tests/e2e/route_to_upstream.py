"""Test-only mitmproxy script: every outgoing connection goes to the test upstream.

The youth-mode tests ask for real host names (www.google.com, dns.google, a games site)
because the rules judge names, but names do not resolve in the test sandbox and nothing
may leave 127.0.0.1. So this script, loaded with an extra ``-s`` after the qinglang addon,
changes only the address mitmproxy dials, in ``server_connect``: that hook runs after
every qinglang decision (a refused CONNECT or an answered request never dials at all), and
the request itself (Host header, TLS server name, the rules' view) keeps the name the
client asked for. Port 80 goes to the upstream's HTTP port, any other port to its HTTPS
port; loopback addresses are left alone.

Once connected (``server_connected``), the connection's address is set back to the name
that was asked for, so the addon sees what it sees in production: the CONNECT host as the
host being dialled (mitmproxy refuses to change the address of an open connection, hence
the write to the dataclass's ``__dict__``). Never load this outside the tests.
"""

from __future__ import annotations

import ipaddress
import weakref
from typing import Any

from mitmproxy import ctx
from mitmproxy.proxy import server_hooks


class RouteToUpstream:
    def __init__(self) -> None:
        self._asked: weakref.WeakKeyDictionary[Any, tuple[str, int]] = weakref.WeakKeyDictionary()

    def load(self, loader: Any) -> None:
        loader.add_option("test_upstream_http", int, 0, "Port of the test upstream (HTTP).")
        loader.add_option("test_upstream_https", int, 0, "Port of the test upstream (HTTPS).")

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if data.server.address is None or data.server.error:
            return  # refused by an addon before: never dialled, nothing to reroute
        host, port = data.server.address
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            if host == "localhost":
                return
        target = ctx.options.test_upstream_http if port == 80 else ctx.options.test_upstream_https
        self._asked[data.server] = (host, port)
        data.server.address = ("127.0.0.1", target)

    def server_connected(self, data: server_hooks.ServerConnectionHookData) -> None:
        asked = self._asked.pop(data.server, None)
        if asked is not None:
            data.server.__dict__["address"] = asked


addons = [RouteToUpstream()]
