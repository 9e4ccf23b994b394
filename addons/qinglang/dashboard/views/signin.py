"""Signing in (rate-limited per address) and out."""

from __future__ import annotations

import secrets
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qinglang.dashboard import accounts
from qinglang.dashboard.web import checked_form, client_address, dash_of, lang_of, render
from qinglang.pages.i18n import translator


async def signin_page(request: Request) -> Response:
    dash = dash_of(request)
    with dash.db() as conn:
        has_admin = bool(accounts.names(conn))
    return await render(request, "signin.html", {"error": None, "has_admin": has_admin})


async def signin(request: Request) -> Response:
    dash = dash_of(request)
    t = translator(lang_of(request))
    form = await checked_form(request)
    if form is None:
        return await render(request, "message.html", {"message": t("csrf")}, status=403)
    addr = client_address(request)
    now = time.monotonic()
    # Counted before the password is checked: 30 guesses sent at once get 5 checks.
    wait = dash.limiter.attempt(addr, now)
    if wait:
        return await render(
            request,
            "signin.html",
            {"error": t("signin.limited", s=wait), "has_admin": True},
            status=429,
        )
    name, password = str(form.get("user", "")), str(form.get("password", ""))

    def check() -> tuple[accounts.Admin, str] | None:
        with dash.db() as conn:
            admin = accounts.verify(conn, name, password)
            if admin is None:
                return None
            accounts.audit(conn, admin.name, "signin", "", addr)
            return admin, accounts.open_session(conn, admin.name)

    signed = await run_in_threadpool(check)
    if signed is None:
        return await render(
            request, "signin.html", {"error": t("signin.failed"), "has_admin": True}, status=401
        )
    dash.limiter.clear(addr)
    request.session.clear()  # a fresh session: nothing from before sign-in carries over
    admin, sid = signed
    request.session.update(
        {"u": admin.name, "g": admin.generation, "s": sid, "csrf": secrets.token_urlsafe(32)}
    )
    return RedirectResponse("/", status_code=303)


async def signout(request: Request) -> Response:
    form = await checked_form(request)
    if form is not None:
        sid = request.session.get("s")
        dash = dash_of(request)

        def end() -> None:
            with dash.db() as conn:
                accounts.end_session(conn, sid)

        await run_in_threadpool(end)
        request.session.clear()
    return RedirectResponse("/signin", status_code=303)
