"""What every page handler uses: the request's ``Dash``, language, CSRF-checked form and
address; ``render`` for templates; ``signed_in`` and ``posted`` to guard handlers;
``record_audit``; and ``store_down``, the page for an unreachable PostgreSQL.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from qinglang.dashboard import accounts, devicenames, labels
from qinglang.dashboard.state import Dash, StoreUnavailable
from qinglang.pages.i18n import category_name, choose_lang, reason_text, translator
from qinglang.store import lastgood


def dash_of(request: Request) -> Dash:
    d: Dash = request.app.state.dash
    return d


def lang_of(request: Request) -> str:
    return choose_lang(request.headers.get("accept-language"))


def _csrf(request: Request) -> str:
    tok = request.session.get("csrf")
    if not isinstance(tok, str):
        tok = request.session["csrf"] = secrets.token_urlsafe(32)
    return tok


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


async def checked_form(request: Request) -> FormData | None:
    """The posted form, or None when its CSRF token is missing or wrong."""
    form = await request.form()
    sent = form.get("csrf")
    want = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(want, str):
        return None
    return form if hmac.compare_digest(sent, want) else None


def _admin(dash: Dash, request: Request) -> str | None:
    name, gen = request.session.get("u"), request.session.get("g")
    if not isinstance(name, str):
        return None
    with dash.db() as conn:
        admin = accounts.current(conn, name)
        live = admin is not None and accounts.session_live(conn, request.session.get("s"), name)
    if admin is None or admin.generation != gen or not live:
        # Password changed, account removed, or signed out (this cookie may be a copy):
        # sign in again.
        request.session.clear()
        return None
    return name


def _rules_fallback(dash: Dash, lang: str) -> str | None:
    """The notice that the proxy runs on the last rules that loaded (store/lastgood.py)."""
    path = dash.s.config_path
    status = lastgood.read_status(lastgood.status_file(path)) if path else None
    if status is None:
        return None
    since = datetime.fromtimestamp(status.since, dash.s.tz).strftime("%Y-%m-%d %H:%M")
    return str(translator(lang)("ov.rules_fallback", problem=status.problem, since=since))


async def render(
    request: Request, name: str, ctx: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    dash = dash_of(request)
    lang = lang_of(request)
    full = {
        "lang": lang,
        "t": translator(lang),
        "cat": lambda c: category_name(c, lang),
        "reason": lambda r: reason_text(r, lang),
        "act": lambda a: labels.audit_action(a, lang),
        "terms": lambda names: ", ".join(labels.term(n, lang) for n in names or ()),
        "detail": lambda d: labels.event_detail(d, lang, dash.when),
        "csrf": _csrf(request),
        "admin": request.session.get("u"),
        "path": request.url.path,
        "config_error": dash.config.problem.text(lang) if dash.config.problem else None,
        "rules_fallback": _rules_fallback(dash, lang),
        "device": _device_namer(dash),
        **(ctx or {}),
    }
    html = await run_in_threadpool(dash.env.get_template(name).render, full)
    return HTMLResponse(html, status_code=status)


def _device_namer(dash: Dash) -> Callable[..., str]:
    return devicenames.namer(dash.config.get())


Handler = Callable[[Request], Awaitable[Response]]


def signed_in(handler: Callable[[Request, str], Awaitable[Response]]) -> Handler:
    async def wrapped(request: Request) -> Response:
        dash = dash_of(request)
        name = await run_in_threadpool(_admin, dash, request)
        if name is None:
            return RedirectResponse("/signin", status_code=303)
        return await handler(request, name)

    return wrapped


def posted(handler: Callable[[Request, str, FormData], Awaitable[Response]]) -> Handler:
    """A signed-in POST with a valid CSRF token."""

    async def inner(request: Request, name: str) -> Response:
        form = await checked_form(request)
        if form is None:
            t = translator(lang_of(request))
            return await render(request, "message.html", {"message": t("csrf")}, status=403)
        return await handler(request, name, form)

    return signed_in(inner)


def record_audit(dash: Dash, request: Request, user: str, action: str, detail: str) -> None:
    with dash.db() as conn:
        accounts.audit(conn, user, action, detail, client_address(request))


async def store_down(request: Request, exc: Exception) -> Response:
    where = exc.where if isinstance(exc, StoreUnavailable) else ""
    t = translator(lang_of(request))
    return await render(request, "message.html", {"message": t("err.store", where=where)}, 503)
