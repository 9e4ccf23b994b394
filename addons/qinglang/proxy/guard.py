"""One guard around every hook of qinglang's addons: an error never lets a flow through.

mitmproxy catches an exception in a hook, logs "Addon error" and carries on with the flow
as it was: the request goes upstream and the response reaches the child unchecked. So
``addon.chain`` puts every addon in one ``hookchain.AddonChain``, which calls each flow
hook (sync and async alike; lifecycle hooks such as ``configure`` are left alone, since
their errors must stop start-up) and hands its errors to ``Guard.fail``. When a hook
raises:

- for a flow of a profile that filters, or one whose profile cannot be told, the flow is
  stopped: a request or response gets the block page (JSON for programs; plain text with a
  502 if even the page cannot be built), a response whose body is already streaming is
  cut off, a TLS connection is intercepted rather than passed through, a server connection
  is not made, and any other flow (TCP, UDP, DNS) is killed; an event records it
  (reason ``internal error``);
- for a profile with ``filter: false`` the flow goes on as it is: nothing of it was going
  to be filtered, and a parent's browsing should not break on a bug in a child's rules.
  The event is recorded all the same.

The traceback is logged the first time an error is seen at one place in the code, and a
one-line note each time after. The guard never raises itself.

Another addon gets the same guard by being listed in ``addon.chain``.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from typing import TYPE_CHECKING, Any

import mitmproxy.proxy.layers
import mitmproxy.proxy.server_hooks  # noqa: F401
from mitmproxy import flow as mflow
from mitmproxy import hooks, http, tls
from mitmproxy.connection import Client
from mitmproxy.proxy.server_hooks import ServerConnectionHookData

from qinglang.engine.verdict import Action, Decision, Reason
from qinglang.pages import blockpage
from qinglang.policy.clients import peer_ip
from qinglang.proxy.answers import BlockStream
from qinglang.proxy.identity import META, conn_user, listener, who
from qinglang.store.events import Event, clean_text, path_only

if TYPE_CHECKING:
    from qinglang.proxy.filtering import Qinglang

log = logging.getLogger(__name__)

# Hooks whose errors must reach mitmproxy: a wrong option stops start-up (OptionsError),
# and nothing flows through these.
LIFECYCLE = frozenset({"load", "configure", "running", "done", "update", "add_log"})

# Sent when even the block page cannot be built.
PLAIN_BODY = b"qinglang: the filter ran into an error, so this request was blocked.\n"
PLAIN_HEADERS = {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}
INTERNAL = Decision(Action.BLOCK, Reason.INTERNAL)


def flow_hooks() -> frozenset[str]:
    """The names of mitmproxy's hooks that carry a flow or a connection."""
    return frozenset(hooks.all_hooks) - LIFECYCLE


class Guard:
    """Stops what a failed hook was handling; holds what it has logged (no state outside an
    addon object)."""

    def __init__(self, main: Qinglang | None) -> None:
        self.main = main
        self._seen: dict[tuple[str, str, tuple[tuple[str, int], ...]], int] = {}

    # --- failing closed -----------------------------------------------------------

    def fail(self, where: str, hook: str, args: tuple[Any, ...], exc: Exception) -> None:
        """Stop what the hook was handling (see the module's docstring). Never raises."""
        try:
            self._log(where, exc)
            subject = args[0] if args else None
            if isinstance(subject, http.HTTPFlow):
                self._http(subject, where, hook, exc)
            elif isinstance(subject, tls.ClientHelloData):
                subject.ignore_connection = False  # intercepted: the request hooks decide
            elif isinstance(subject, ServerConnectionHookData):
                if hook == "server_connect":
                    subject.server.error = "qinglang: internal error"
            elif isinstance(subject, Client):
                if hook == "client_connected":
                    subject.error = "qinglang: internal error"
            elif isinstance(subject, mflow.Flow) and self._filtering(subject) and subject.killable:
                subject.kill()
        except Exception:  # the last line of defence must not raise either
            with contextlib.suppress(Exception):
                log.critical("qinglang: the error guard failed", exc_info=True)
            with contextlib.suppress(Exception):
                if isinstance(args[0], mflow.Flow) and args[0].killable:
                    args[0].kill()

    def _log(self, where: str, exc: Exception) -> None:
        # One place in the code: the hook, the error's type and the whole call path.
        frames = traceback.extract_tb(exc.__traceback__)
        key = (where, type(exc).__name__, tuple((f.filename, f.lineno or 0) for f in frames))
        n = self._seen.get(key, 0) + 1
        if len(self._seen) < 1000 or key in self._seen:
            self._seen[key] = n
        if n == 1:
            log.error(
                "qinglang: internal error in %s; the flow was stopped if its profile filters",
                where,
                exc_info=exc,
            )
        else:
            log.error(
                "qinglang: internal error in %s again (%s, %d times)",
                where,
                type(exc).__name__,
                n,
            )

    def _filtering(self, flow: mflow.Flow) -> bool:
        """Whether the flow's profile filters; True when that cannot be told."""
        try:
            main = self.main
            live = main.live if main is not None else None
            if live is None:
                return True
            meta = flow.metadata.get(META)
            name = meta.get("profile") if isinstance(meta, dict) else None
            if not isinstance(name, str) and isinstance(flow, http.HTTPFlow):
                assert main is not None
                name = who(flow, live.rules.clients, main.forwarded)["profile"]
            elif not isinstance(name, str):
                client = flow.client_conn
                assert main is not None
                ip = main.forwarded.tunnel(client.id, peer_ip(client.peername))
                name = live.rules.clients.profile_for(ip, conn_user(client), listener(client))
            prof = live.config.profiles.get(name) or live.config.profile(None)
            return bool(prof.filter)
        except Exception:
            return True

    def _http(self, flow: http.HTTPFlow, where: str, hook: str, exc: Exception) -> None:
        filtering = self._filtering(flow)
        event_id = self._record(flow, where, exc, filtering)
        if not filtering:
            return
        if hook.startswith("websocket_") and flow.websocket is not None:
            # The upgrade is done: a page can no longer be sent. The message that was being
            # checked is dropped and the socket closed.
            if hook == "websocket_message" and flow.websocket.messages:
                flow.websocket.messages[-1].drop()
            if flow.killable:
                flow.kill()
            return
        if hook in ("error", "http_connect_error", "http_connected"):
            if flow.killable:
                flow.kill()
            return
        resp = flow.response
        if hook == "response" and resp is not None and resp.stream:
            # The body went out as it arrived; what is left (the end of a chunked body,
            # a kept-alive connection) does not.
            if flow.killable:
                flow.kill()
            return
        status, body, headers = _block_page(flow, event_id)
        if hook == "responseheaders" and resp is not None:
            # The headers are in, the body is not: send the page as the body and drop
            # what the server sends.
            resp.status_code = status
            resp.reason = "Forbidden" if status == 403 else "Bad Gateway"
            fields = [(k.encode(), v.encode()) for k, v in headers.items()]
            resp.headers = http.Headers([*fields, (b"content-length", str(len(body)).encode())])
            resp.stream = BlockStream(body)
        else:
            flow.response = http.Response.make(status, body, headers)
        # Marked as the proxy's own answer even when no hook got as far as the metadata.
        meta = flow.metadata.setdefault(META, {})
        if isinstance(meta, dict):
            meta["answered"] = True

    def _record(self, flow: http.HTTPFlow, where: str, exc: Exception, filtering: bool) -> str:
        """The event for the stopped (or, not filtering, passed) flow; its id, or ""."""
        try:
            main = self.main
            events = main.events if main is not None else None
            meta = flow.metadata.get(META)
            meta = meta if isinstance(meta, dict) else {}
            # The host as dialled, not the Host header: the header may be what broke.
            ev = Event(
                client=str(meta.get("client") or peer_ip(flow.client_conn.peername) or ""),
                user=meta.get("user"),
                profile=str(meta.get("profile", "")),
                host=clean_text(flow.request.host),
                path=clean_text(path_only(flow.request.path)),
                action=Action.BLOCK if filtering else Action.PASS,
                reason=Reason.INTERNAL,
                detail=f"internal error in {where}: {type(exc).__name__}",
            )
            meta["event"] = ev.id
            if events is not None:
                events.record(ev)
            return ev.id
        except Exception:
            log.error("qinglang: could not record the internal error in %s", where)
            return ""


def _block_page(flow: http.HTTPFlow, event_id: str) -> tuple[int, bytes, dict[str, str]]:
    """The block page (JSON for programs) for an internal error; plain text if even that
    cannot be built."""
    try:
        req = flow.request
        body, ctype = blockpage.block_body(
            INTERNAL,
            event_id,
            accept=req.headers.get("accept"),
            accept_language=req.headers.get("accept-language"),
            asks=False,  # no links: they would carry the address that may be what broke
        )
        return 403, body, {**PLAIN_HEADERS, "content-type": ctype}
    except Exception:
        return 502, PLAIN_BODY, dict(PLAIN_HEADERS)
