"""Connections a device may hold, and how long a half-sent request may keep one.

One device must not starve the others: a child's device that opens thousands of idle
sockets, or sends its request headers a byte a minute (slowloris), would otherwise use up
the proxy's file descriptors and leave the parents' devices and the dashboard unreachable.

- ``qinglang_max_client_conns``: open connections per device (its address, and its
  listener: every WireGuard device has its own); the next one is closed at once. A
  worker behind a balancer (``qinglang_trusted_proxies``, or a scale-out worker:
  ``qinglang_state`` or ``qinglang_store`` set) counts nothing: in TCP mode every
  connection comes from the balancer, which carries a whole school, and the balancer
  caps each device itself (docs/scaling-out.md).
- ``qinglang_header_timeout``: a connection must complete its first request's headers (a
  ``CONNECT``, a request, a TLS ClientHello in transparent mode) within these seconds,
  and so must the first request inside a tunnel.
- ``qinglang_idle_timeout``: between requests (none in flight) a connection may stay idle
  this long; mitmproxy's own limit is ten minutes.

mitmproxy 11 has neither: a connection is closed from here as its own inactivity timeout
closes it (``ConnectionHandler.on_timeout``). A connection that becomes a raw relay a
profile allows (a parent's tunnel, a pass-through host, a WebSocket) is left to
mitmproxy's own timeout: no request will be seen on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from mitmproxy import ctx, http, tcp, tls, udp
from mitmproxy.addonmanager import Loader
from mitmproxy.connection import Client

from qinglang.policy.clients import IPAddress, peer_ip
from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.identity import listener

log = logging.getLogger(__name__)

HEADER_TIMEOUT = 10  # seconds (the options' defaults)
IDLE_TIMEOUT = 60
_WARN_EVERY = 60.0  # seconds between log lines about one device's refused connections


class ConnectionLimits:
    def __init__(self, main: Qinglang) -> None:
        self.main = main
        self._open: dict[str, int] = {}  # device -> open connections
        self._device: dict[str, str] = {}  # connection id -> device it counts against
        # One timer at most per connection, and a deadline it checks when it fires: a
        # request and its answer only move the deadline (a timer armed and cancelled per
        # request cost about 10 us of mitmdump's time a request, measured).
        self._timers: dict[str, asyncio.TimerHandle] = {}
        # connection id -> (loop time, the limit in seconds); none: a request is under way
        self._deadline: dict[str, tuple[float, int]] = {}
        self._header_timeout = HEADER_TIMEOUT
        self._idle_timeout = IDLE_TIMEOUT
        self._in_flight: dict[str, int] = {}  # connection id -> requests without an answer
        self._exempt: set[str] = set()  # connection ids that became raw relays
        self._warned: dict[str, float] = {}

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "qinglang_max_client_conns",
            int,
            256,
            "Open connections one device may hold through the proxy; 0: no limit.",
        )
        loader.add_option(
            "qinglang_header_timeout",
            int,
            HEADER_TIMEOUT,
            "Seconds a new connection (or tunnel) has to complete its first request's "
            "headers; 0: no limit.",
        )
        loader.add_option(
            "qinglang_idle_timeout",
            int,
            IDLE_TIMEOUT,
            "Seconds a connection may stay idle between requests; 0: mitmproxy's own.",
        )

    def configure(self, updated: set[str]) -> None:
        # Read once here: an option read through ctx.options costs a lookup per request.
        self._header_timeout = ctx.options.qinglang_header_timeout
        self._idle_timeout = ctx.options.qinglang_idle_timeout

    # --- counting ------------------------------------------------------------------

    def client_connected(self, client: Client) -> None:
        ip = peer_ip(client.peername)
        cap = ctx.options.qinglang_max_client_conns
        if cap > 0 and not self._behind_balancer(ip):
            device = f"{ip}@{listener(client)}"
            n = self._open.get(device, 0)
            if n >= cap:
                client.error = "qinglang: too many connections from this device"
                now = time.monotonic()
                if now - self._warned.get(device, -_WARN_EVERY) >= _WARN_EVERY:
                    self._warned[device] = now
                    log.warning(
                        "qinglang: %s holds %d connections (qinglang_max_client_conns); "
                        "closing new ones",
                        ip,
                        n,
                    )
                return
            self._open[device] = n + 1
            self._device[client.id] = device
        self._arm(client, self._header_timeout)

    def _behind_balancer(self, ip: IPAddress | None) -> bool:
        if ip is not None and self.main.forwarded.trusts(ip):
            return True
        return bool(
            str(getattr(ctx.options, "qinglang_state", "") or "").strip()
            or str(getattr(ctx.options, "qinglang_store", "") or "").strip()
        )

    def client_disconnected(self, client: Client) -> None:
        self._forget(client.id)
        self._in_flight.pop(client.id, None)
        self._exempt.discard(client.id)
        device = self._device.pop(client.id, None)
        if device is not None:
            n = self._open.get(device, 1) - 1
            if n > 0:
                self._open[device] = n
            else:
                self._open.pop(device, None)
                self._warned.pop(device, None)

    # --- timing --------------------------------------------------------------------

    def _arm(self, client: Client, seconds: int) -> None:
        """The connection must see its next request's headers within ``seconds``."""
        cid = client.id
        # UDP "connections" (DNS, QUIC) end on mitmproxy's own 20 s timeout.
        if seconds <= 0 or cid in self._exempt or client.transport_protocol == "udp":
            self._deadline.pop(cid, None)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        self._deadline[cid] = (deadline, seconds)
        timer = self._timers.get(cid)
        if timer is not None and timer.when() <= deadline:
            return  # it fires first, and sees the new deadline
        if timer is not None:
            timer.cancel()
        self._timers[cid] = loop.call_at(deadline, self._check, client)

    def _disarm(self, conn_id: str) -> None:
        """No deadline while a request is under way (its timer finds none and ends)."""
        self._deadline.pop(conn_id, None)

    def _forget(self, conn_id: str) -> None:
        self._deadline.pop(conn_id, None)
        timer = self._timers.pop(conn_id, None)
        if timer is not None:
            timer.cancel()

    def _check(self, client: Client) -> None:
        cid = client.id
        self._timers.pop(cid, None)
        if cid not in self._deadline:
            return
        deadline, seconds = self._deadline[cid]
        loop = asyncio.get_running_loop()
        if loop.time() < deadline:  # moved on by requests since: wait for the rest
            self._timers[cid] = loop.call_at(deadline, self._check, client)
            return
        self._deadline.pop(cid, None)
        self._expire(client, seconds)

    def _expire(self, client: Client, seconds: int) -> None:
        with contextlib.suppress(Exception):
            handler = ctx.master.addons.get("proxyserver").connections.get(client.id)
            if handler is not None:
                log.info(
                    "qinglang: closing %s: no complete request in %d s",
                    peer_ip(client.peername),
                    seconds,
                )
                asyncio.get_running_loop().create_task(handler.on_timeout())

    def _exempt_conn(self, client: Client) -> None:
        self._exempt.add(client.id)
        self._forget(client.id)

    # --- hooks that say a request is under way or done ------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        cid = flow.client_conn.id
        self._in_flight[cid] = self._in_flight.get(cid, 0) + 1
        self._disarm(cid)

    def _answered(self, flow: http.HTTPFlow) -> None:
        cid = flow.client_conn.id
        if flow.websocket is not None:
            self._exempt_conn(flow.client_conn)
            return
        n = self._in_flight.get(cid, 0) - 1
        if n > 0:
            self._in_flight[cid] = n
            return
        self._in_flight.pop(cid, None)
        self._arm(flow.client_conn, self._idle_timeout)

    def response(self, flow: http.HTTPFlow) -> None:
        self._answered(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._answered(flow)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow.client_conn.id)

    def http_connected(self, flow: http.HTTPFlow) -> None:
        # The tunnel is open: its first request has the same time as the connection's.
        self._arm(flow.client_conn, self._header_timeout)

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        if data.ignore_connection:  # a pass-through host: no request will be seen
            self._exempt_conn(data.context.client)

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        self._exempt_conn(flow.client_conn)

    def udp_start(self, flow: udp.UDPFlow) -> None:
        self._exempt_conn(flow.client_conn)
