"""Tunnels carry only what can be filtered: TLS that is intercepted, or HTTP.

For a profile that filters, a connection through the proxy (a ``CONNECT`` tunnel, a SOCKS
connection, a transparent or WireGuard connection) may carry only what qinglang then reads
and filters: TLS it intercepts (or a profile's pass-through host, decided in
``Qinglang.tls_clienthello``), plain HTTP, and DNS where mitmproxy answers it. Everything
else (ssh, shadowsocks, OpenVPN over TCP, any raw TCP or UDP, QUIC) is refused with an
event before one byte of it is relayed either way:

- ``http_connect``: a port other than 80 and 443 needs the profile's ``allow_ports``.
  (Time rules reach a tunnel through what it may carry: TLS that is intercepted, so each
  request inside gets the time-up page, or a pass-through host, whose rules
  ``Qinglang.tls_clienthello`` applies; nothing else passes at any time.)
- ``next_layer``: mitmproxy's own ``NextLayer`` addon has looked at the first bytes and
  chosen what comes next; anything but TLS, HTTP or DNS (and a port the profile does not
  allow, in transparent and WireGuard modes) is replaced by a layer that closes the
  connection.
- ``responseheaders``: an HTTP ``101 Switching Protocols`` to anything but WebSocket would
  turn the connection into a raw relay (mitmproxy's ``rawtcp``): the flow is killed.
- ``tcp_message`` / ``udp_message``: a raw relay that got past all of the above (none
  should) has its messages dropped.
- ``tls_failed_client``: a device that refuses the proxy's certificate (an app that pins
  its own) gets nothing; recorded once a minute per device and host.

Profiles with ``filter: false`` are not touched.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from mitmproxy import ctx, http, tcp, tls, udp
from mitmproxy.connection import Client
from mitmproxy.proxy import commands, events, layer, layers

from qinglang.engine.verdict import Action, Decision, Reason
from qinglang.policy.clients import peer_ip
from qinglang.policy.config import Profile
from qinglang.proxy import answers
from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.identity import conn_user, listener, meta_of, profile_of
from qinglang.store.events import Event

log = logging.getLogger(__name__)

# Layers a filtering profile's connection may be handed to: what qinglang reads (HTTP),
# what it intercepts to read (TLS), DNS that mitmproxy answers, and a decision still to come.
_READABLE = (
    layers.HttpLayer,
    layers.ClientTLSLayer,
    layers.ServerTLSLayer,
    layers.DNSLayer,
    layer.NextLayer,
)
# One event per device, host and reason in this many seconds: an app retrying a refused
# tunnel every second would otherwise fill the log.
_EVENT_EVERY = 60.0
_EVENT_KEYS = 4096


@dataclass(frozen=True, slots=True)
class Conn:
    """Who a connection belongs to, when the profile filters."""

    profile: str
    settings: Profile
    client: str
    user: str | None


class Refused(layer.Layer):
    """Closes the client's connection (and with it the server's) and relays nothing."""

    def _handle_event(self, event: events.Event) -> layer.CommandGenerator[None]:
        if isinstance(event, events.Start):
            yield commands.CloseConnection(self.context.client)


def _layer_chain(first: layer.Layer | None) -> Iterator[layer.Layer]:
    seen = 0
    node = first
    while node is not None and seen < 16:
        yield node
        node = getattr(node, "child_layer", None)
        seen += 1


def what_it_is(chosen: layer.Layer) -> str | None:
    """Why a layer chosen for a filtering profile's connection cannot be filtered, or None
    when it can (never page content: only the kind of traffic)."""
    for node in _layer_chain(chosen):
        if node.context.client.transport_protocol == "udp" and not isinstance(
            node, layers.DNSLayer
        ):
            if isinstance(node, (layers.ServerQuicLayer, layers.ClientQuicLayer)):
                return "QUIC (HTTP/3): browsers fall back to TCP"
            return "UDP that is not DNS"
        if isinstance(node, layers.TCPLayer):
            return "raw TCP: neither TLS nor HTTP"
        if not isinstance(node, _READABLE):
            return f"{type(node).__name__}: neither TLS nor HTTP"
    return None


def _websocket(flow: http.HTTPFlow) -> bool:
    """Whether mitmproxy will treat this 101 as WebSocket (its own test, in
    ``HttpStream.send_response``); any other upgrade becomes a raw TCP relay."""
    assert flow.response is not None
    return (
        flow.response.headers.get("upgrade", "").lower() == "websocket"
        and flow.request.headers.get("sec-websocket-version", "") == "13"
        and bool(getattr(ctx.options, "websocket", True))
    )


def _text(host: str) -> str:
    # A host as the client wrote it may hold lone surrogates; the event log takes text.
    return host.encode("utf-8", "replace").decode("utf-8")


class Tunnels:
    """The tunnel gate; list it after ``Qinglang`` (whose CONNECT checks run first)."""

    def __init__(self, main: Qinglang) -> None:
        self.main = main
        self._recent: dict[tuple[str, str, str], float] = {}

    # --- who -----------------------------------------------------------------------

    def _conn(self, client: Client) -> Conn | None:
        """Who the connection belongs to when their profile filters; None when it does not.
        Before the rules are loaded everyone is treated as filtered (fail-closed)."""
        live = self.main.live
        ip = self.main.forwarded.tunnel(client.id, peer_ip(client.peername))
        user = conn_user(client)
        port = listener(client)
        if live is None:
            return Conn("", Profile(), str(ip or ""), user)
        name, prof = live.profile(ip, user, port)
        if not prof.filter:
            return None
        return Conn(name, prof, live.rules.clients.client_id(ip, port), user)

    def _filters(self, flow: http.HTTPFlow) -> bool:
        """Whether ``flow`` belongs to a profile that filters (also when that is not known:
        no rules yet, or a flow no request hook saw)."""
        live = self.main.live
        meta = meta_of(flow)
        if live is None or meta is None or "profile" not in meta:
            return True
        return profile_of(live.config, meta).filter

    def _record(self, who: Conn, host: str, port: int | None, reason: Reason, detail: str) -> None:
        events_ = self.main.events
        host = _text(host)
        key = (who.client, host, str(reason))
        now = time.monotonic()
        last = self._recent.get(key)
        if last is not None and now - last < _EVENT_EVERY:
            return
        if len(self._recent) >= _EVENT_KEYS:
            self._recent.clear()
        self._recent[key] = now
        log.info("qinglang: refused a tunnel from %s to %s:%s (%s)", who.client, host, port, detail)
        if events_ is not None:
            events_.record(
                Event(
                    client=who.client,
                    user=who.user,
                    profile=who.profile,
                    host=host,
                    path="/",
                    action=Action.BLOCK,
                    reason=reason,
                    detail=detail if port is None else f"{detail} (port {port})",
                )
            )

    # --- hooks ---------------------------------------------------------------------

    def http_connect(self, flow: http.HTTPFlow) -> None:
        main = self.main
        live = main.live
        if live is None or flow.response or flow.error:
            return  # refused by Qinglang.http_connect, or not ready (it answers that)
        meta = meta_of(flow)
        if meta is None or "profile" not in meta:
            return
        prof = profile_of(live.config, meta)
        if not prof.filter:
            return
        req = flow.request
        if not prof.port_allowed(req.port):
            answers.refuse(
                flow,
                main.events,
                Decision(Action.BLOCK, Reason.PORT, rule=f"port {req.port}"),
                asks=main.overrides is not None,
            )

    def next_layer(self, nextlayer: layer.NextLayer) -> None:
        try:
            self._next_layer(nextlayer)
        except Exception:
            # An error here must not leave a raw relay in place: the connection is closed.
            log.exception("qinglang: deciding what a connection carries failed; refused")
            self._refuse(nextlayer)

    def _refuse(self, nextlayer: layer.NextLayer) -> None:
        context = nextlayer.context
        chosen = nextlayer.layer
        # The chosen layers put themselves on the stack: take them off again.
        stack = context.layers
        if chosen is not None and chosen in stack:
            del stack[stack.index(chosen) :]
        nextlayer.layer = Refused(context)

    def _next_layer(self, nextlayer: layer.NextLayer) -> None:
        if nextlayer.layer is None:
            # Script addons run before mitmproxy's NextLayer: let it choose first, from the
            # same bytes, and judge its choice (it leaves a choice already made alone).
            with contextlib.suppress(Exception):
                builtin = ctx.master.addons.get("nextlayer")
                if builtin is not None:
                    builtin.next_layer(nextlayer)
        chosen = nextlayer.layer
        if chosen is None or isinstance(chosen, Refused):
            return  # mitmproxy's NextLayer needs more bytes, or already refused
        context = nextlayer.context
        why = what_it_is(chosen)
        address = context.server.address
        port = int(address[1]) if address else None
        port_refused = (
            why is None
            and port is not None
            and not any(isinstance(n, layers.DNSLayer) for n in _layer_chain(chosen))
        )
        if why is None and not port_refused:
            return
        who = self._conn(context.client)
        if who is None:
            return
        if why is None:
            assert port is not None
            if who.settings.port_allowed(port):
                return
            reason, detail = Reason.PORT, f"port {port} is not in allow_ports"
        else:
            reason, detail = Reason.TUNNEL, why
        host = context.client.sni or (str(address[0]) if address else "")
        self._record(who, host, port, reason, detail)
        self._refuse(nextlayer)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        resp = flow.response
        if resp is None or resp.status_code != 101 or _websocket(flow):
            return
        if not self._filters(flow):
            return
        main = self.main
        # Anything but WebSocket after a 101 is relayed raw by mitmproxy, never filtered.
        # Killed here, before mitmproxy pipes the connection (a block page in its place would
        # leave the server's raw bytes arriving for a finished stream).
        upgrade = resp.headers.get("upgrade", "")
        answers.record(
            flow,
            main.events,
            Action.BLOCK,
            Reason.TUNNEL,
            detail=f"upgrade to {_text(upgrade[:40])!r}: neither TLS nor HTTP",
        )
        flow.kill()

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        self._raw_start(flow, "raw TCP: neither TLS nor HTTP")

    def tcp_message(self, flow: tcp.TCPFlow) -> None:
        self._raw_message(flow)

    def udp_start(self, flow: udp.UDPFlow) -> None:
        self._raw_start(flow, "UDP that is not DNS")

    def udp_message(self, flow: udp.UDPFlow) -> None:
        self._raw_message(flow)

    def _raw_start(self, flow: tcp.TCPFlow | udp.UDPFlow, detail: str) -> None:
        who = self._conn(flow.client_conn)
        if who is not None:
            address = flow.server_conn.address
            self._record(
                who,
                str(address[0]) if address else "",
                int(address[1]) if address else None,
                Reason.TUNNEL,
                detail,
            )

    def _raw_message(self, flow: tcp.TCPFlow | udp.UDPFlow) -> None:
        if flow.messages and self._drops(flow.client_conn):
            flow.messages[-1].content = b""  # nothing of it goes either way

    def _drops(self, client: Client) -> bool:
        try:
            return self._conn(client) is not None
        except Exception:
            log.exception("qinglang: whose relay this is could not be told; dropped")
            return True

    def tls_failed_client(self, data: tls.TlsData) -> None:
        client = data.context.client
        who = self._conn(client)
        if who is None:
            return
        address = data.context.server.address
        self._record(
            who,
            client.sni or (str(address[0]) if address else ""),
            int(address[1]) if address else None,
            Reason.TUNNEL,
            "TLS handshake failed: the device does not accept the proxy's certificate "
            "(not installed, or an app that pins its own)",
        )
