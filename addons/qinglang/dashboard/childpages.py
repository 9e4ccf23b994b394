"""The page a child reaches through the proxy to "ask for access", and the links to it.

The dashboard itself is closed to filtered devices, so this lives on the one name the
proxy answers itself, ``http://qinglang.home.arpa/`` (RFC 8375; shared with the report
entry, ``reportentry.py``, which answers ``/report``): the proxy serves this ASGI app for
``/ask`` on that host (mitmproxy's ``asgiapp``), and the app sees the child's real address
as the ASGI client. The block page links to ``/ask?event=ID`` and to the report entry
with ``kind=mistake``; the time-is-up page to ``/ask?kind=time&url=...``; the bookmarklet
in docs/dashboard.md to ``/report?kind=harmful&url=...``.

A child's form carries a token (HMAC of the address and the hour under the dashboard's
key), so a page the child visits cannot post requests in their name.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from qinglang.dashboard import asks, eventlog
from qinglang.pages.i18n import choose_lang, reason_text, translator
from qinglang.pages.links import (
    ASK_PATH,
    BOOKMARKLET,
    PROXY_HOST,
    ask_url,
    mistake_url,
    time_ask_url,
)
from qinglang.policy.clients import peer_ip, scope_listener
from qinglang.store import dashdb as dbmod
from qinglang.store.reports import clean_url

__all__ = ["ASK_PATH", "BOOKMARKLET", "PROXY_HOST", "ask_url", "create_child_app", "mistake_url",
           "time_ask_url"]  # fmt: skip
MAX_URL = 2048
HERE = Path(__file__).resolve().parent
_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}

# (client ip, proxy listener port) -> profile name, from the proxy's client rules.
# The profile of an address and listener, and of a proxy log-in when there is one.
ProfileFor = Callable[..., str]

# The ASGI scope extension where the proxy puts the proxy log-in of the flow it serves.
USER_SCOPE = "qinglang.user"


def scope_user(scope: Any) -> str | None:
    user = (scope.get("extensions") or {}).get(USER_SCOPE)
    return user if isinstance(user, str) and user else None


def _token(key: bytes, ip: str, hour: int) -> str:
    return hmac.new(key, f"child|{ip}|{hour}".encode(), hashlib.sha256).hexdigest()[:32]


def _token_ok(key: bytes, ip: str, sent: str, now: float) -> bool:
    hour = int(now // 3600)
    return any(hmac.compare_digest(_token(key, ip, h), sent) for h in (hour, hour - 1))


def create_child_app(
    state_db: Path,
    events_db: Path,
    key: bytes,
    profile_for: ProfileFor,
    clock: Callable[[], float] = time.time,
    client_id: Callable[[str, int | None], str] | None = None,
    open_events: Callable[[], Any] | None = None,
) -> Starlette:
    """``client_id``: who the device is in the event log (``ClientMap.client_id``); by
    default its address. ``open_events``: a connection to the event log other than
    ``events_db`` (scale-out: PostgreSQL, pgevents.ReadOnlyEvents)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    dbmod.connect(state_db).close()

    def page(request: Request, ctx: dict[str, Any], status: int = 200) -> Response:
        lang = choose_lang(request.headers.get("accept-language"))
        html = env.get_template("child.html").render(
            lang=lang, t=translator(lang), reason=lambda r: reason_text(r, lang), **ctx
        )
        return HTMLResponse(html, status_code=status, headers=_HEADERS)

    def who(request: Request) -> str:
        ip = peer_ip(request.client and (request.client.host, request.client.port))
        if ip is None:
            return ""
        if client_id is None:
            return str(ip)
        return client_id(str(ip), scope_listener(request.scope))

    def event_of(event_id: str, ip: str, user: str | None) -> dict[str, Any] | None:
        if not event_id or (open_events is None and not events_db.exists()):
            return None
        conn = open_events() if open_events is not None else eventlog.connect(events_db)
        try:
            ev = eventlog.one(conn, event_id)
        finally:
            conn.close()
        # Only the device that was blocked can ask about its own event; with proxy log-ins,
        # only the pupil who was (another one may share the address).
        if ev is None or ev["client"] != ip or (ev.get("user") or None) != user:
            return None
        return ev

    async def ask_form(request: Request) -> Response:
        ip = who(request)
        user = scope_user(request.scope)
        q = request.query_params
        kind = "time" if q.get("kind") == "time" else "block"
        ev = await run_in_threadpool(event_of, q.get("event", ""), ip, user)
        if kind == "block" and ev is None:
            return page(request, {"view": "bad"}, 404)
        return page(
            request,
            {
                "view": "ask",
                "kind": kind,
                "event": ev,
                "url": q.get("url", "")[:MAX_URL],
                "token": _token(key, ip, int(clock() // 3600)),
            },
        )

    async def ask_send(request: Request) -> Response:
        ip = who(request)
        user = scope_user(request.scope)
        peer = peer_ip(request.client and (request.client.host, request.client.port))
        args = (str(peer) if peer else "", scope_listener(request.scope))
        # The log-in picks the profile too (``clients: - {user: ...}``).
        profile = profile_for(*args, user) if user else profile_for(*args)
        form = await request.form()
        if not _token_ok(key, ip, str(form.get("token", "")), clock()):
            return page(request, {"view": "bad"}, 403)
        kind = "time" if form.get("kind") == "time" else "block"

        def work() -> int:
            ev = event_of(str(form.get("event", "")), ip, user)
            if kind == "block":
                if ev is None:
                    raise ValueError("no such event")
                host, path, reason, event_id = ev["host"], ev["path"], ev["reason"], ev["id"]
            else:
                url = clean_url(str(form.get("url", "")))
                if url is None:
                    raise ValueError("a request for more time needs the page's address")
                parts = urlsplit(url)
                host, path, reason, event_id = parts.hostname or "", parts.path, "time", None
            conn = dbmod.connect(state_db, create=False)
            try:
                return asks.create(
                    conn, client=ip, user=user, profile=profile, kind=kind, host=host,
                    path=path, now=clock(), reason=reason, message=str(form.get("message", "")),
                    event_id=event_id,
                )  # fmt: skip
            finally:
                conn.close()

        try:
            await run_in_threadpool(work)
        except asks.TooMany:
            return page(request, {"view": "too_many"}, 429)
        except ValueError:
            return page(request, {"view": "bad"}, 400)
        return page(request, {"view": "sent"})

    return Starlette(
        routes=[
            Route(ASK_PATH, ask_form, methods=["GET"]),
            Route(ASK_PATH, ask_send, methods=["POST"]),
        ]
    )
