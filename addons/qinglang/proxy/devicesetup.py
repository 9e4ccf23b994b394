"""The proxy's side of device set-up: it answers ``http://qinglang.home.arpa/setup`` (and
``/proxy.pac``, ``/wpad.dat`` on that name) itself, as mitmproxy answers ``mitm.it``.

``DeviceSetup`` is a mitmproxy addon; list it before ``ReportEntry`` (which answers the
rest of that name) and ``Qinglang`` (whose rules must not stop a device setting up). It
also:

- adds the options ``qinglang_data_dir`` (where the WireGuard key files live; default:
  mitmproxy's confdir) and ``qinglang_lan_host`` (the address devices reach this machine
  at, for the PAC file and WireGuard configurations; default: the address each device
  used, else this machine's outgoing address);
- answers DNS queries for ``qinglang.home.arpa`` in the modes where mitmproxy sees DNS
  (WireGuard, DNS), so a phone on WireGuard reaches the block page's links;
- keeps the WireGuard client's private key out of mitmproxy's log (mitmproxy prints the
  client configuration when a WireGuard listener starts).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, MutableMapping
from pathlib import Path
from typing import Any

from mitmproxy import ctx, dns, http
from mitmproxy.addonmanager import Loader
from mitmproxy.addons import asgiapp
from mitmproxy.proxy import mode_specs

from qinglang.deploy.where import lan_host, regular_port
from qinglang.pages.setuppage import Where, create_setup_app, is_setup_path
from qinglang.policy.clients import IPAddress, peer_ip, proxy_user
from qinglang.policy.hosts import PROXY_HOST, asks_for
from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.identity import listener

log = logging.getLogger(__name__)
WHERE_SCOPE = "qinglang.where"


class _NoPrivateKeys(logging.Filter):
    """Drops log records that carry a WireGuard private key."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return "PrivateKey" not in record.getMessage()
        except Exception:
            return True


_KEY_FILTER = _NoPrivateKeys()


def hide_private_keys() -> None:
    logger = logging.getLogger("mitmproxy.proxy.mode_servers")
    if _KEY_FILTER not in logger.filters:
        logger.addFilter(_KEY_FILTER)


def is_filtered(
    main: Qinglang | None, ip: IPAddress | None, user: str | None, listener: int | None
) -> bool:
    """Whether the device's profile filters; True when unknown (fail closed)."""
    if main is None or main.live is None:
        return True
    cfg = main.live.config
    name = main.live.rules.clients.profile_for(ip, user, listener)
    profile = cfg.profiles.get(name) or cfg.profile(None)
    return profile.filter


def dashboard_url(dash: object | None, host: str) -> str | None:
    """The dashboard's address on ``host``, when it runs in this process (``dash``: the
    dashboard's addon, whose ``port`` is set while it listens)."""
    port = getattr(dash, "port", None)
    if not port:
        return None
    scheme = getattr(dash, "scheme", "http")
    h = f"[{host}]" if ":" in host else host
    return f"{scheme}://{h}:{port}"


def where_from_scope(scope: MutableMapping[str, Any]) -> Where:
    """The ``Where`` the proxy put in the scope of a flow it serves."""
    where = (scope.get("extensions") or {}).get(WHERE_SCOPE)
    if isinstance(where, Where):
        return where
    # Not through DeviceSetup: say what is safe.
    return Where(lan_host(), regular_port(), None, True, False)


class DeviceSetup:
    def __init__(self, main: Qinglang | None = None, dashboard: object | None = None) -> None:
        self._main = main
        self._dashboard = dashboard  # its port and scheme, for the PAC file's address
        self.app = create_setup_app(lambda: Path(ctx.options.confdir).expanduser(),
                                    where_from_scope)  # fmt: skip

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "qinglang_data_dir",
            str,
            "",
            "Where qinglang keeps its data (WireGuard key files); empty: mitmproxy's confdir.",
        )
        loader.add_option(
            "qinglang_lan_host",
            str,
            "",
            "The address devices reach this machine at, for the PAC file and WireGuard "
            "configurations; empty: the address each device used.",
        )
        hide_private_keys()

    def where(self, flow: http.HTTPFlow) -> Where:
        conn = flow.client_conn
        mode = conn.proxy_mode
        arrived = listener(conn)
        if isinstance(mode, mode_specs.RegularMode) and arrived is not None:
            host, port = lan_host(str(conn.sockname[0]) if conn.sockname else None), arrived
        else:  # WireGuard or transparent: the socket's address is inside the tunnel
            host, port = lan_host(), regular_port()
        dash = dashboard_url(self._dashboard, host)
        filtered = is_filtered(
            self._main, peer_ip(conn.peername), proxy_user(flow.metadata),
            arrived,
        )  # fmt: skip
        return Where(host, port, dash + "/proxy.pac" if dash else None, filtered, True)

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        # Sync for every request but the set-up pages' (a coroutine per request costs
        # more than the check; mitmproxy awaits what a hook returns).
        if flow.response or flow.error or not flow.live:
            return None
        req = flow.request
        if not asks_for(req, PROXY_HOST) or not is_setup_path(req.path):
            return None
        return self._serve(flow)

    async def _serve(self, flow: http.HTTPFlow) -> None:
        where = self.where(flow)
        app = self.app

        async def with_where(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[WHERE_SCOPE] = where
            await app(scope, receive, send)

        await asgiapp.serve(with_where, flow)

    def dns_request(self, flow: dns.DNSFlow) -> None:
        # mitmproxy's own resolver runs first and answers "no such name": replaced here.
        if not flow.request.questions:
            return
        q = flow.request.questions[0]
        if q.name.lower().rstrip(".") != PROXY_HOST:
            return
        try:
            ip = ipaddress.ip_address(lan_host())
        except ValueError:
            return
        if q.type == dns.types.A and isinstance(ip, ipaddress.IPv4Address):
            flow.response = flow.request.succeed([dns.ResourceRecord.A(q.name, ip)])
        elif q.type == dns.types.AAAA and isinstance(ip, ipaddress.IPv6Address):
            flow.response = flow.request.succeed([dns.ResourceRecord.AAAA(q.name, ip)])
        else:
            flow.response = flow.request.succeed([])
