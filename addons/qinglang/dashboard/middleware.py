"""ASGI middleware around every dashboard response: ``AccessGate`` (only admins' devices
get in) and ``SecurityHeaders`` (CSP and friends).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from qinglang.dashboard import access
from qinglang.dashboard.state import Dash
from qinglang.dashboard.web import lang_of
from qinglang.pages.i18n import translator
from qinglang.policy.config import Config

_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class AccessGate:
    """ASGI middleware: devices with a filtered profile get a 403 page, whatever they ask."""

    def __init__(self, app: ASGIApp, dash: Dash) -> None:
        self.app = app
        self.dash = dash

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cfg = self.dash.config.get()
        verdict = access.check(cfg, self.dash.config.clients, scope.get("client"),
                               self.dash.admin_networks)  # fmt: skip
        if verdict.allowed:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        lang = lang_of(request)
        t = translator(lang)
        body = self.dash.env.get_template("denied.html").render(
            lang=lang, t=t, ip=verdict.ip, profile=verdict.profile, admin=None, path="",
            config_error=None, csrf="", unfiltered=_unfiltered(cfg),
        )  # fmt: skip
        response = HTMLResponse(body, status_code=403, headers=_SECURITY_HEADERS)
        await response(scope, receive, send)


def _unfiltered(cfg: Config) -> str:
    return next((n for n, p in cfg.profiles.items() if not p.filter), "parent")


class SecurityHeaders:
    """ASGI middleware: the headers in ``_SECURITY_HEADERS`` on every response that lacks
    them; static files keep their own caching."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                for k, v in _SECURITY_HEADERS.items():
                    if k.encode() not in have:
                        if k == "cache-control" and scope["path"].startswith("/static/"):
                            continue
                        headers.append((k.encode(), v.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
