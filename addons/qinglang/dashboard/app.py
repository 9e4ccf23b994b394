"""The dashboard web app: ``create_app(settings)`` returns a Starlette application.

Every page needs a signed-in admin, except the sign-in page; every POST carries the
session's CSRF token; the session is a signed cookie (HttpOnly, SameSite=Strict, Secure
over TLS) that ends when the admin's password changes. Database work and template
rendering run in Starlette's thread pool, so the proxy's event loop (which serves this
app too) is never held up by them. Templates autoescape everything: hosts and paths come
from traffic and may be hostile.

This module only wires the app together: what the pages share is in ``state`` and
``web``, the middleware in ``middleware``, and the pages in ``views``.
"""

from __future__ import annotations

import hmac

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from qinglang.dashboard import accounts
from qinglang.dashboard.middleware import AccessGate, SecurityHeaders
from qinglang.dashboard.settings import Settings
from qinglang.dashboard.state import HERE, Dash, StoreUnavailable
from qinglang.dashboard.views.asks import ask_answer, asks_page, override_revoke
from qinglang.dashboard.views.audit import audit_page
from qinglang.dashboard.views.clients import clients_page, clients_save
from qinglang.dashboard.views.devices import device_add, devices_edit
from qinglang.dashboard.views.dnslog import dns_page, dns_site
from qinglang.dashboard.views.events import event_detail, events_page
from qinglang.dashboard.views.overview import overview
from qinglang.dashboard.views.profiles import (
    profile_create,
    profile_delete,
    profile_save,
    profiles_page,
)
from qinglang.dashboard.views.reports import report_update, reports_export, reports_page
from qinglang.dashboard.views.signin import signin, signin_page, signout
from qinglang.dashboard.views.wireguard import wireguard_conf, wireguard_page
from qinglang.dashboard.web import store_down

SESSION_COOKIE = "qinglang_session"
SESSION_SECONDS = accounts.SESSION_SECONDS


def create_app(settings: Settings) -> Starlette:
    """The dashboard for ``settings``; serve it with ``server.serve`` (or any ASGI server)."""
    dash = Dash(settings)
    # The session key is derived from the secret, so the raw secret signs nothing twice.
    session_key = hmac.new(dash.key, b"qinglang-dashboard-session", "sha256").hexdigest()
    routes = [
        Route("/", overview),
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/events", events_page),
        Route("/events/{event_id:str}", event_detail),
        Route("/asks", asks_page),
        Route("/asks/{ask_id:int}", ask_answer, methods=["POST"]),
        Route("/overrides/{override_id:int}/revoke", override_revoke, methods=["POST"]),
        Route("/profiles", profiles_page),
        Route("/profiles", profile_create, methods=["POST"]),
        Route("/profiles/{name:str}", profiles_page),
        Route("/profiles/{name:str}", profile_save, methods=["POST"]),
        Route("/profiles/{name:str}/delete", profile_delete, methods=["POST"]),
        Route("/clients", clients_page),
        Route("/clients", clients_save, methods=["POST"]),
        Route("/devices", device_add, methods=["POST"]),
        Route("/devices/edit", devices_edit, methods=["POST"]),
        Route("/dns", dns_page),
        Route("/dns/site", dns_site, methods=["POST"]),
        Route("/reports", reports_page),
        Route("/reports/export", reports_export, methods=["POST"]),
        Route("/reports/{report_id:int}", report_update, methods=["POST"]),
        Route("/audit", audit_page),
        Route("/wireguard", wireguard_page),
        Route("/wireguard/{name:str}.conf", wireguard_conf),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={StoreUnavailable: store_down},
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(AccessGate, dash=dash),
            Middleware(
                SessionMiddleware,
                secret_key=session_key,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_SECONDS,
                same_site="strict",
                https_only=settings.tls,
            ),
        ],
    )
    app.state.dash = dash
    return app
