"""Serving the dashboard inside the proxy process, and the mitmproxy addon that does it.

``serve`` runs uvicorn as a task on the running event loop (mitmproxy's), on its own
listener; uvicorn's signal handling is left out, as mitmproxy owns the signals.

``DashboardAddon`` is the whole integration as one mitmproxy addon:

- ``running``: starts the dashboard on the config's ``dashboard.listen`` (or the
  ``qinglang_dashboard`` option: ``host:port``, ``off``);
- serves the device set-up page (``setuppage.py``: ``/setup``, the CA certificate,
  ``/proxy.pac``, ``/wpad.dat``) on its listener without sign-in, for devices not yet
  set up; everything else there still needs a signed-in parent;
- ``request``: answers the child's "ask for access" page at
  ``http://qinglang.home.arpa/ask`` (childpages.py); load it before ``ReportEntry``,
  which answers the rest of that host, and before ``Qinglang``, whose rules must not stop
  a child asking for access;
- ``server_connect``: refuses to connect a filtered device, through the proxy, to the
  dashboard's port on this machine (by any name or address that resolves here), so the
  dashboard sees no proxied request from a child; the dashboard's own gate refuses
  filtered devices that address it directly;
- ``done``: stops the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import sqlite3
from collections.abc import Awaitable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from mitmproxy import ctx, http
from mitmproxy.addonmanager import Loader
from mitmproxy.addons import asgiapp
from mitmproxy.proxy import server_hooks
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from qinglang.dashboard import access, childpages, slowclients
from qinglang.dashboard.app import create_app
from qinglang.dashboard.settings import settings_for
from qinglang.deploy.where import data_dir, lan_host, regular_port
from qinglang.pages import setuppage
from qinglang.policy.clients import LISTENER_SCOPE, listener_port, peer_ip, proxy_user
from qinglang.policy.config import default_config, load_config, parse_listen
from qinglang.policy.hosts import PROXY_HOST, asks_for
from qinglang.store.backends import STATE_SCHEMES, STORE_SCHEMES, parse

log = logging.getLogger(__name__)
START_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # mitmproxy handles SIGINT/SIGTERM for the whole process.
        yield


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _limits() -> dict[str, Any]:
    """The proxy's own limits for slow and greedy clients, where they are set (the
    connection-limits addon's options), for the dashboard's listener too."""
    out: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        timeout = ctx.options.qinglang_header_timeout
        out["header_timeout"] = float(timeout) if timeout > 0 else 0.0
    with contextlib.suppress(Exception):
        conns = ctx.options.qinglang_max_client_conns
        out["max_conns"] = min(conns, slowclients.MAX_CONNS_PER_CLIENT) if conns > 0 else 0
    return out


async def serve(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    header_timeout: float = slowclients.HEADER_TIMEOUT,
    max_conns: int = slowclients.MAX_CONNS_PER_CLIENT,
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """Start serving ``app``; returns when it listens (OSError if the port is taken).
    ``header_timeout`` and ``max_conns``: see ``slowclients``."""
    sock = bind(host, port)
    config = uvicorn.Config(
        app,
        http=slowclients.guarded(header_timeout, max_conns),
        log_config=None,  # leave mitmproxy's logging as it is
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=False,  # the peer address decides access: never a forwarded header
        server_header=False,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
    )
    server = _Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    for _ in range(int(START_TIMEOUT / 0.02)):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    if task.done():
        task.result()  # raises what stopped it
        raise OSError(f"the dashboard on {host}:{port} stopped at once")
    return server, task


_local_cache: dict[str, bool] = {}


def is_local_address(ip: str) -> bool:
    """Whether ``ip`` belongs to this machine: binding to it only works if it does."""
    if ip in _local_cache:
        return _local_cache[ip]
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if addr.is_loopback or addr.is_unspecified:
        result = True
    else:
        family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            try:
                s.bind((str(addr), 0))
                result = True
            except OSError:
                result = False
    _local_cache[ip] = result
    return result


async def resolves_here(host: str, port: int) -> bool:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return any(is_local_address(str(info[4][0])) for info in infos)


class WithSetup:
    """The dashboard's listener: the set-up paths go to the set-up app (no sign-in),
    everything else to the dashboard (behind its access gate and sign-in)."""

    def __init__(self, dashboard: ASGIApp, setup: ASGIApp) -> None:
        self.dashboard = dashboard
        self.setup = setup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and setuppage.is_setup_path(scope.get("path", "")):
            await self.setup(scope, receive, send)
        else:
            await self.dashboard(scope, receive, send)


def _device_address(flow: http.HTTPFlow) -> None:
    """Behind HAProxy in HTTP mode (qinglang_trusted_proxies, forwarded.py) the ask page
    sees the device's address, as the proxy's rules do, not the balancer's."""
    text = str(getattr(ctx.options, "qinglang_trusted_proxies", "") or "")
    if not text.strip():
        return
    from qinglang.policy.forwarded import Forwarded, parse_networks

    with contextlib.suppress(ValueError):  # the proxy addon reports a bad option
        conn = flow.client_conn
        ip = Forwarded(parse_networks(text)).client(
            conn.id, peer_ip(conn.peername), flow.request.headers
        )
        if ip is not None and conn.peername:
            conn.peername = (str(ip), conn.peername[1])


def _proxy_user(flow: http.HTTPFlow) -> str | None:
    """The proxy log-in of the flow (mitmproxy's proxyauth keeps it per connection after a
    CONNECT): a pupil's ask is theirs, not their address's (several pupils can share one)."""
    user = proxy_user(flow.metadata)
    if user is None:
        with contextlib.suppress(Exception):
            auth = ctx.master.addons.get("proxyauth")
            if auth is not None:
                user = proxy_user({"proxyauth": auth.authenticated.get(flow.client_conn)})
    return user


class DashboardAddon:
    def __init__(self) -> None:
        self.app: Starlette | None = None
        self.child: Starlette | None = None
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None
        self.port: int | None = None
        self.scheme = "http"

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "qinglang_dashboard",
            str,
            "",
            "Address of the parents' dashboard, host:port (e.g. 0.0.0.0:8081); "
            "empty: the config's dashboard section; off: no dashboard.",
        )

    async def running(self) -> None:
        config_path = getattr(ctx.options, "qinglang_config", "") or None
        confdir = Path(ctx.options.confdir).expanduser()
        try:
            cfg = load_config(config_path) if config_path else default_config()
        except ValueError as e:  # the proxy addon reports it and stops
            log.warning("qinglang: no dashboard: %s", e)
            return
        dash_cfg = cfg.dashboard
        listen = ctx.options.qinglang_dashboard or (dash_cfg.listen if dash_cfg.enabled else "")
        listens = bool(listen) and listen.strip().lower() != "off"
        state = str(getattr(ctx.options, "qinglang_state", "") or "").strip()
        # A worker without a dashboard of its own, with the shared state (scale-out), still
        # serves the child's ask page (in the dashboard database on its machine) so its
        # block pages carry the same links as the others'.
        if not listens and not state:
            return
        host, port = "", 0
        if listens:
            try:
                host, port = parse_listen(listen)
            except ValueError as e:
                log.warning("qinglang: no dashboard: %s", e)
                return
        from qinglang.store.paths import quota_db_path

        events_db = cfg.events.db or str(confdir / "qinglang-events.sqlite")
        settings = settings_for(
            dash_cfg,
            config_path=config_path,
            confdir=confdir,
            events_db=events_db,
            # Where the proxy keeps the minutes (the config's quota.db, else next to the log).
            quota_db=quota_db_path(cfg, confdir),
            data_dir=data_dir(),
            wireguard_endpoint=lan_host,
        )
        try:
            app = create_app(settings)
        except (OSError, ValueError, sqlite3.Error) as e:  # e.g. an unreadable key file
            log.warning("qinglang: no dashboard: %s", e)
            return
        self.app = app
        dash = app.state.dash
        if state:  # scale-out: a parent's answers reach every worker (redisstate.py)
            with contextlib.suppress(ValueError):  # the proxy addon reports a bad URL
                dash.shared = parse(state, STATE_SCHEMES, "qinglang_state")
        store = str(getattr(ctx.options, "qinglang_store", "") or "").strip()
        if store:  # scale-out: events are in PostgreSQL (pgevents.py)
            with contextlib.suppress(ValueError):
                dash.store = parse(store, STORE_SCHEMES, "qinglang_store")

        def open_events() -> Any:
            from qinglang.store.pgevents import ReadOnlyEvents

            assert dash.store is not None
            return ReadOnlyEvents(dash.store)

        def profile_for(ip: str, listener: int | None, user: str | None = None) -> str:
            dash.config.get()
            return dash.config.clients.profile_for(ipaddress.ip_address(ip), user, listener)

        def where(scope: MutableMapping[str, Any]) -> setuppage.Where:
            # A device that addresses the dashboard directly: the address it used is this
            # machine's address on its network; its profile comes from its address.
            server = scope.get("server") or ("", 0)
            lan = lan_host(str(server[0]) if server[0] else None)
            cfg = dash.config.get()
            name = dash.config.clients.profile_for(peer_ip(scope.get("client")), None, None)
            profile = cfg.profiles.get(name) or cfg.profile(None)
            pac = f"{self.scheme}://{setuppage.url_host(lan)}:{server[1]}/proxy.pac"
            return setuppage.Where(lan, regular_port(), pac, profile.filter, False)

        setup = setuppage.create_setup_app(lambda: confdir, where)

        def client_id(ip: str, listener: int | None) -> str:
            dash.config.get()
            return dash.config.clients.client_id(ipaddress.ip_address(ip), listener)

        self.child = childpages.create_child_app(
            settings.state_db,
            settings.events_db,
            dash.key,
            profile_for,
            client_id=client_id,
            open_events=open_events if dash.store is not None else None,
        )
        if not listens:
            log.info("qinglang: no dashboard on this worker; the ask page is served here")
            return
        try:
            self.scheme = "https" if dash_cfg.tls_cert else "http"
            self.server, self.task = await serve(
                WithSetup(self.app, setup), host, port,
                tls_cert=dash_cfg.tls_cert, tls_key=dash_cfg.tls_key,
                **_limits(),
            )  # fmt: skip
        except OSError as e:
            # A warning, not an error: mitmdump exits on an error logged at start-up, and
            # the proxy keeps filtering without its dashboard.
            log.warning(
                "qinglang: the dashboard cannot listen on %s (%s); the proxy runs without it. "
                "Another port: qinglang run --set qinglang_dashboard=%s:PORT",
                listen, e, f"[{host}]" if ":" in host else host,
            )  # fmt: skip
            return
        self.port = port
        scheme = "https" if dash_cfg.tls_cert else "http"
        log.info("qinglang: dashboard on %s://%s:%d/", scheme, host, port)

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        # Sync for every request but those to the ask page and the dashboard's port (a
        # coroutine per request costs more than the checks; mitmproxy awaits what a hook
        # returns).
        if (
            self.child is not None
            and asks_for(flow.request, PROXY_HOST)
            and flow.request.path.split("?", 1)[0].rstrip("/") == childpages.ASK_PATH
            and flow.live
            and not flow.response
            and not flow.error
        ):
            return self._serve_ask(flow, self.child)
        if self._is_dashboard(flow):
            return self._at_dashboard(flow)
        return None

    async def _serve_ask(self, flow: http.HTTPFlow, child: Any) -> None:
        _device_address(flow)
        listener = listener_port(flow.client_conn, ctx.options.listen_port)
        user = _proxy_user(flow)

        async def with_listener(scope: Any, receive: Any, send: Any) -> None:
            ext = scope.setdefault("extensions", {})
            ext[LISTENER_SCOPE] = listener
            ext[childpages.USER_SCOPE] = user
            await child(scope, receive, send)

        await asgiapp.serve(with_listener, flow)

    async def _at_dashboard(self, flow: http.HTTPFlow) -> None:
        if await resolves_here(flow.request.host, flow.request.port):
            self._for_parents(flow)

    def _is_dashboard(self, flow: http.HTTPFlow) -> bool:
        return (
            self.port is not None
            and self.app is not None
            and flow.request.port == self.port
            and flow.live
            and not flow.response
            and not flow.error
        )

    def _for_parents(self, flow: http.HTTPFlow) -> None:
        """A filtered device that opens the dashboard through the proxy gets a page saying
        it is for parents (server_connect would refuse the connection with a bare 502)."""
        from qinglang.pages.forparents import render_for_parents
        from qinglang.pages.i18n import choose_lang

        assert self.app is not None
        dash = self.app.state.dash
        _device_address(flow)
        verdict = access.check(
            dash.config.get(), dash.config.clients, flow.client_conn.peername,
            dash.admin_networks, listener_port(flow.client_conn, ctx.options.listen_port),
        )  # fmt: skip
        if verdict.allowed:
            return
        lang = choose_lang(flow.request.headers.get("accept-language"))
        flow.response = http.Response.make(
            403,
            render_for_parents(lang),
            {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"},
        )
        log.info("qinglang: refused %s (profile %s) the dashboard", verdict.ip, verdict.profile)

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> Awaitable[None] | None:
        # Sync for every connection but those to the dashboard's port (a coroutine per
        # server connection costs more than the check).
        if self.port is None or self.app is None or data.server.address is None:
            return None
        host, port = data.server.address
        if port != self.port:
            return None
        return self._to_dashboard(data, str(host), int(port))

    async def _to_dashboard(
        self, data: server_hooks.ServerConnectionHookData, host: str, port: int
    ) -> None:
        if self.app is None or not await resolves_here(host, port):
            return
        dash = self.app.state.dash
        cfg = dash.config.get()
        verdict = access.check(
            cfg, dash.config.clients, data.client.peername, dash.admin_networks,
            listener_port(data.client, ctx.options.listen_port),
        )  # fmt: skip
        if not verdict.allowed:
            data.server.error = "qinglang: the dashboard is closed to filtered devices"
            log.info("qinglang: refused %s (profile %s) the dashboard", verdict.ip, verdict.profile)

    async def done(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.task, 5)
        self.server = self.task = None
        self.port = None
