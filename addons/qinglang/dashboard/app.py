"""The dashboard web app: ``create_app(settings)`` returns a Starlette application.

Every page needs a signed-in admin, except the sign-in page; every POST carries the
session's CSRF token; the session is a signed cookie (HttpOnly, SameSite=Strict, Secure
over TLS) that ends when the admin's password changes. Database work and template
rendering run in Starlette's thread pool, so the proxy's event loop (which serves this
app too) is never held up by them. Templates autoescape everything: hosts and paths come
from traffic and may be hostile.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import secrets
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from qinglang.dashboard import (
    access,
    accounts,
    asks,
    configedit,
    eventlog,
    quotaview,
    reports,
    stats,
    wgpage,
)
from qinglang.dashboard.fetch import fetch_page
from qinglang.dashboard.ratelimit import SlidingWindow
from qinglang.dashboard.settings import Settings
from qinglang.engine.yamlloc import SourceError
from qinglang.pages.i18n import category_name, choose_lang, reason_text, translator
from qinglang.policy.clients import ClientMap
from qinglang.policy.config import Config, default_config, load_config
from qinglang.policy.presets import resolve
from qinglang.policy.timerules import quota_period
from qinglang.store import dashdb as dbmod
from qinglang.store import keys, overrides
from qinglang.store.backends import ServerURL

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "qinglang_session"
SESSION_SECONDS = 12 * 3600
SIGNIN_LIMIT = 5  # failed attempts per address ...
SIGNIN_WINDOW = 300.0  # ... per this many seconds
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
# Profile fields the form edits, and how: the rest of a profile is left as written.
BOOL_FIELDS = ("filter", "mask")
LIST_FIELDS = ("always_allowed", "allow_domains", "deny_domains", "deny_urls")
YAML_FIELDS = ("daily_minutes", "curfew")


class ConfigCache:
    """The config file, re-read when it changes; the last good one if an edit broke it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._sig: tuple[int, int] | None = None
        self.config: Config = default_config()
        self.clients = ClientMap(self.config)
        self.error: str | None = None

    def get(self) -> Config:
        if self.path is None:
            return self.config
        try:
            st = self.path.stat()
            sig = (st.st_mtime_ns, st.st_size)
        except OSError:
            sig = (-1, -1)
        if sig != self._sig:
            self._sig = sig
            try:
                self.config = load_config(self.path)
                self.clients = ClientMap(self.config)
                self.error = None
            except SourceError as e:
                self.error = str(e)
        return self.config


class StoreUnavailable(Exception):
    """PostgreSQL (qinglang_store) does not answer: a page says so (``store_down``)."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where  # the URL without its password


class Dash:
    """What the routes share."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.key = keys.load_or_create(settings.secret_key_file)
        dbmod.connect(settings.state_db).close()
        stats.ensure_event_indexes(settings.events_db)
        self.rollup = stats.Rollup(settings.state_db, settings.events_db, settings.tz)
        self.limiter = SlidingWindow(SIGNIN_LIMIT, SIGNIN_WINDOW)
        self.admin_networks = access.networks(settings.admin_networks)
        self.config = ConfigCache(settings.config_path)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = self.when
        # qinglang_state (scale-out): grants and revocations also go to every worker.
        self.shared: ServerURL | None = None
        # qinglang_store (scale-out): the event list, an event's page, the overview's
        # roll-ups and the reports are in PostgreSQL.
        self.store: ServerURL | None = None
        self._pg_rollup: Any = None  # pgstore.PgRollup for self.store

    def share(self, o: overrides.Override, *, revoked: bool = False) -> None:
        if self.shared is not None:
            from qinglang.store.redisstate import share

            share(self.shared, self.key, o, self.now(), revoked=revoked)

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        conn = dbmod.connect(self.s.state_db, create=False)
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def reports(self) -> Iterator[Any]:
        """The event database's reports (written by the proxy) with this database's labels;
        (qinglang_store) both in PostgreSQL."""
        if self.store is not None:
            from qinglang.dashboard.pgstore import open_db

            with self._pg(open_db) as pg:
                yield pg
            return
        conn = reports.connect(self.s.events_db, self.s.state_db)
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _pg(self, opener: Callable[[ServerURL], Any]) -> Iterator[Any]:
        """A connection to qinglang_store; StoreUnavailable when it is down."""
        import psycopg

        assert self.store is not None
        try:
            conn = opener(self.store)
            try:
                yield conn
            finally:
                conn.close()
        except psycopg.OperationalError:
            raise StoreUnavailable(str(self.store)) from None

    @contextlib.contextmanager
    def rollups(self) -> Iterator[Any]:
        """The overview's roll-ups, brought up to date: in this database, or
        (qinglang_store) in PostgreSQL beside the events."""
        if self.store is None:
            self.rollup.catch_up()
            with self.db() as conn:
                yield conn
            return
        from qinglang.dashboard.pgstore import PgRollup, open_db

        if self._pg_rollup is None or self._pg_rollup.url != self.store:
            self._pg_rollup = PgRollup(self.store, self.s.tz)
        with self._pg(open_db) as pg:
            self._pg_rollup.catch_up(pg)
            yield pg

    @contextlib.contextmanager
    def events(self) -> Iterator[Any]:
        """The event log: the SQLite file, or (qinglang_store) PostgreSQL; None: none yet."""
        if self.store is not None:
            from qinglang.store.pgevents import ReadOnlyEvents

            with self._pg(ReadOnlyEvents) as pg:
                yield pg
            return
        if not self.s.events_db.exists():
            yield None
            return
        conn = eventlog.connect(self.s.events_db)
        try:
            yield conn
        finally:
            conn.close()

    def now(self) -> float:
        return self.s.clock()

    def when(self, ts: float | None) -> str:
        if ts is None:
            return ""
        return datetime.fromtimestamp(ts, self.s.tz).strftime("%Y-%m-%d %H:%M")

    def day_start(self, day: date) -> float:
        tz = self.s.tz
        moment = datetime(day.year, day.month, day.day, tzinfo=tz)
        return moment.timestamp()

    def day_end_for(self, profile_name: str, now: float) -> float:
        """When "today" ends for a child: the end of its profile's quota day."""
        cfg = self.config.get()
        profile = cfg.profiles.get(profile_name) or cfg.profile(None)
        rules = resolve(profile).time
        moment = datetime.fromtimestamp(now, UTC)
        return quota_period(rules, moment).end.timestamp()


# --- request helpers ---------------------------------------------------------------------


def _dash(request: Request) -> Dash:
    d: Dash = request.app.state.dash
    return d


def _lang(request: Request) -> str:
    return choose_lang(request.headers.get("accept-language"))


def _csrf(request: Request) -> str:
    tok = request.session.get("csrf")
    if not isinstance(tok, str):
        tok = request.session["csrf"] = secrets.token_urlsafe(32)
    return tok


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


async def _form(request: Request) -> FormData | None:
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
    if admin is None or admin.generation != gen:
        request.session.clear()  # password changed or account removed: sign in again
        return None
    return name


async def render(
    request: Request, name: str, ctx: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    dash = _dash(request)
    lang = _lang(request)
    full = {
        "lang": lang,
        "t": translator(lang),
        "cat": lambda c: category_name(c, lang),
        "reason": lambda r: reason_text(r, lang),
        "csrf": _csrf(request),
        "admin": request.session.get("u"),
        "path": request.url.path,
        "config_error": dash.config.error,
        **(ctx or {}),
    }
    html = await run_in_threadpool(dash.env.get_template(name).render, full)
    return HTMLResponse(html, status_code=status)


Handler = Callable[[Request], Awaitable[Response]]


def signed_in(handler: Callable[[Request, str], Awaitable[Response]]) -> Handler:
    async def wrapped(request: Request) -> Response:
        dash = _dash(request)
        name = await run_in_threadpool(_admin, dash, request)
        if name is None:
            return RedirectResponse("/signin", status_code=303)
        return await handler(request, name)

    return wrapped


def posted(handler: Callable[[Request, str, FormData], Awaitable[Response]]) -> Handler:
    """A signed-in POST with a valid CSRF token."""

    async def inner(request: Request, name: str) -> Response:
        form = await _form(request)
        if form is None:
            t = translator(_lang(request))
            return await render(request, "message.html", {"message": t("csrf")}, status=403)
        return await handler(request, name, form)

    return signed_in(inner)


def _audit(dash: Dash, request: Request, user: str, action: str, detail: str) -> None:
    with dash.db() as conn:
        accounts.audit(conn, user, action, detail, _address(request))


# --- access: only admins' devices --------------------------------------------------------


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
        lang = _lang(request)
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


# --- sign-in -----------------------------------------------------------------------------


async def signin_page(request: Request) -> Response:
    dash = _dash(request)
    with dash.db() as conn:
        has_admin = bool(accounts.names(conn))
    return await render(request, "signin.html", {"error": None, "has_admin": has_admin})


async def signin(request: Request) -> Response:
    dash = _dash(request)
    t = translator(_lang(request))
    form = await _form(request)
    if form is None:
        return await render(request, "message.html", {"message": t("csrf")}, status=403)
    addr = _address(request)
    now = time.monotonic()
    wait = dash.limiter.retry_after(addr, now)
    if wait:
        return await render(
            request,
            "signin.html",
            {"error": t("signin.limited", s=wait), "has_admin": True},
            status=429,
        )
    name, password = str(form.get("user", "")), str(form.get("password", ""))

    def check() -> accounts.Admin | None:
        with dash.db() as conn:
            admin = accounts.verify(conn, name, password)
            if admin is not None:
                accounts.audit(conn, admin.name, "signin", "", addr)
            return admin

    admin = await run_in_threadpool(check)
    if admin is None:
        dash.limiter.hit(addr, now)
        return await render(
            request, "signin.html", {"error": t("signin.failed"), "has_admin": True}, status=401
        )
    dash.limiter.clear(addr)
    request.session.clear()  # a fresh session: nothing from before sign-in carries over
    request.session.update(
        {"u": admin.name, "g": admin.generation, "csrf": secrets.token_urlsafe(32)}
    )
    return RedirectResponse("/", status_code=303)


async def signout(request: Request) -> Response:
    form = await _form(request)
    if form is not None:
        request.session.clear()
    return RedirectResponse("/signin", status_code=303)


async def store_down(request: Request, exc: Exception) -> Response:
    where = exc.where if isinstance(exc, StoreUnavailable) else ""
    t = translator(_lang(request))
    return await render(request, "message.html", {"message": t("err.store", where=where)}, 503)


# --- overview ------------------------------------------------------------------------------


@signed_in
async def overview(request: Request, user: str) -> Response:
    dash = _dash(request)
    period = request.query_params.get("period", "today")
    if period not in stats.PERIODS:
        period = "today"
    now = dash.now()

    def work() -> dict[str, Any]:
        cfg = dash.config.get()
        with dash.rollups() as rconn:
            ov = stats.overview(rconn, period, now, dash.s.tz)
        with dash.db() as conn:
            live = overrides.live(conn, dash.key, now)
            open_asks = asks.open_count(conn)
        extra: dict[str, int] = {}
        for o in live:
            if o.scope == "minutes":
                extra[o.client] = extra.get(o.client, 0) + o.minutes
        if dash.shared is not None:  # scale-out: the workers count minutes in Redis
            usage = quotaview.shared_usage(dash.shared, cfg, now, extra)
        else:
            usage = quotaview.usage(dash.s.quota_db, cfg, now, extra)
        return {"ov": ov, "usage": usage, "open_asks": open_asks}

    data = await run_in_threadpool(work)
    ov: stats.Overview = data["ov"]
    lang = _lang(request)
    t = translator(lang)
    charts = {
        "labels": {"block": t("ov.blocked"), "mask": t("ov.masked")},
        "categories": {
            "labels": [category_name(c, lang) for c, _b, _m in ov.categories],
            "block": [b for _c, b, _m in ov.categories],
            "mask": [m for _c, _b, m in ov.categories],
        },
        "hosts": {"labels": [h for h, _n in ov.top_hosts], "block": [n for _h, n in ov.top_hosts]},
        "daily": {
            "labels": [d[5:] for d, _b, _m in ov.daily],
            "block": [b for _d, b, _m in ov.daily],
            "mask": [m for _d, _b, m in ov.daily],
        },
        "clients": {
            "labels": [f"{c} ({p})" for c, p, _b, _m in ov.clients[:15]],
            "block": [b for _c, _p, b, _m in ov.clients[:15]],
            "mask": [m for _c, _p, _b, m in ov.clients[:15]],
        },
    }
    return await render(request, "overview.html", {**data, "period": period, "charts": charts})


# --- events --------------------------------------------------------------------------------


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@signed_in
async def events_page(request: Request, user: str) -> Response:
    dash = _dash(request)
    q = request.query_params
    since_day, until_day = _date(q.get("from")), _date(q.get("to"))
    f = eventlog.Filters(
        since=dash.day_start(since_day) if since_day else None,
        until=dash.day_start(until_day + timedelta(days=1)) if until_day else None,
        client=q.get("client") or None,
        profile=q.get("profile") or None,
        category=q.get("category") or None,
        action=q.get("action") or None,
        host=q.get("host") or None,
        cursor=q.get("after") or None,
    )
    now = dash.now()

    def work() -> dict[str, Any]:
        with dash.events() as conn:
            page = eventlog.query(conn, f) if conn is not None else eventlog.Page()
        first = date.fromordinal(stats.day_function(dash.s.tz)(now)) - timedelta(days=40)
        with dash.rollups() as conn2:
            menus = {
                col: [
                    r[0]
                    for r in conn2.execute(
                        f"SELECT DISTINCT {col} FROM rollup_{table} WHERE day >= ? ORDER BY 1",
                        (first.toordinal(),),
                    )
                ]
                for col, table in (("client", "actions"), ("profile", "actions"),
                                   ("category", "categories"))
            }  # fmt: skip
        return {"page": page, "menus": menus}

    data = await run_in_threadpool(work)
    args = {k: v for k, v in q.items() if k != "after" and v}
    page: eventlog.Page = data["page"]
    next_url = (
        f"/events?{urlencode({**args, 'after': page.next_cursor})}" if page.next_cursor else None
    )
    return await render(
        request,
        "events.html",
        {**data, "q": q, "next_url": next_url, "first_url": f"/events?{urlencode(args)}"},
    )


@signed_in
async def event_detail(request: Request, user: str) -> Response:
    dash = _dash(request)
    event_id = request.path_params["event_id"]

    def work() -> dict[str, Any] | None:
        with dash.events() as conn:
            return eventlog.one(conn, event_id) if conn is not None else None

    ev = await run_in_threadpool(work)
    if ev is None:
        return await render(request, "message.html", {"message": "404"}, status=404)
    return await render(request, "event.html", {"e": ev})


# --- ask a parent --------------------------------------------------------------------------


@signed_in
async def asks_page(request: Request, user: str) -> Response:
    dash = _dash(request)
    now = dash.now()

    def work() -> dict[str, Any]:
        with dash.db() as conn:
            return {
                "open": asks.open_requests(conn),
                "answered": asks.answered(conn),
                "live": overrides.live(conn, dash.key, now),
            }

    data = await run_in_threadpool(work)
    done = request.query_params.get("done")
    return await render(request, "asks.html", {**data, "done": done, "choices": asks.CHOICES})


@posted
async def ask_answer(request: Request, user: str, form: FormData) -> Response:
    dash = _dash(request)
    ask_id = int(request.path_params["ask_id"])
    choice = str(form.get("choice", ""))
    now = dash.now()

    def work() -> str:
        with dash.db() as conn:
            ask = asks.get(conn, ask_id)
            if ask is None or ask["status"] != "open":
                return "gone"
            where = f"#{ask_id} {ask['client']} {ask['host']}{ask['path']}"
            if choice == "refuse":
                asks.refuse(conn, ask_id, by=user, now=now)
                accounts.audit(conn, user, "ask.refuse", where, _address(request))
                return "refuse"
            o = asks.grant(
                conn, dash.key, ask_id, choice, by=user, now=now,
                day_end=dash.day_end_for(ask["profile"], now),
            )  # fmt: skip
            accounts.audit(
                conn, user, "ask.grant", f"{where} {o.scope} until {dash.when(o.expires)}",
                _address(request),
            )  # fmt: skip
            dash.share(o)
            return "grant"

    try:
        done = await run_in_threadpool(work)
    except ValueError:
        done = "gone"
    return RedirectResponse(f"/asks?done={done}", status_code=303)


@posted
async def override_revoke(request: Request, user: str, form: FormData) -> Response:
    dash = _dash(request)
    oid = int(request.path_params["override_id"])

    def work() -> None:
        with dash.db() as conn:
            gone = [o for o in overrides.live(conn, dash.key, dash.now()) if o.id == oid]
            if overrides.revoke(conn, oid):
                accounts.audit(conn, user, "override.revoke", f"#{oid}", _address(request))
                for o in gone:
                    dash.share(o, revoked=True)

    await run_in_threadpool(work)
    return RedirectResponse("/asks", status_code=303)


# --- profiles and clients ------------------------------------------------------------------


def _profile_fields(cfg: Config, name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The form's values for profile ``name``: as written in the file where it is."""
    p = cfg.profiles[name]
    return {
        "filter": p.filter,
        "mask": p.mask,
        "block_threshold": p.block_threshold,
        "pii": p.pii,
        "categories": ", ".join(p.categories) if p.categories is not None else "",
        "age": "" if p.age is None else str(p.age),
        "daily_minutes": configedit.inline(raw.get("daily_minutes")),
        "curfew": configedit.inline(raw.get("curfew")),
        "safe_search": "" if p.safe_search is None else ("on" if p.safe_search else "off"),
        **{k: "\n".join(raw.get(k) or []) for k in LIST_FIELDS},
    }


def _changes(form: FormData, t: Callable[..., str]) -> dict[str, Any]:
    """Form -> profile keys (None: remove the key so the default applies)."""
    out: dict[str, Any] = {}
    for k in BOOL_FIELDS:
        out[k] = form.get(k) == "on"
    text = str(form.get("block_threshold", "")).strip()
    out["block_threshold"] = _int(text, t("f.block_threshold")) if text else None
    out["pii"] = str(form.get("pii", "mask"))
    cats = [c.strip() for c in str(form.get("categories", "")).split(",") if c.strip()]
    out["categories"] = cats or None
    age = str(form.get("age", "")).strip()
    out["age"] = _int(age, t("f.age")) if age else None
    for k in YAML_FIELDS:
        out[k] = configedit.parse_inline(str(form.get(k, "")), t(f"f.{k}"))
    ss = str(form.get("safe_search", ""))
    out["safe_search"] = {"on": True, "off": False}.get(ss)
    for k in LIST_FIELDS:
        lines = [x.strip() for x in str(form.get(k, "")).splitlines() if x.strip()]
        out[k] = lines or None
    return out


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise configedit.EditError(f"{what}: not a whole number: {text!r}") from None


def _raw_profiles(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    from ruamel.yaml import YAML

    try:
        data = YAML(typ="safe").load(configedit.read(path)) or {}
    except Exception:
        return {}
    profiles = data.get("profiles") if isinstance(data, dict) else None
    return profiles if isinstance(profiles, dict) else {}


@signed_in
async def profiles_page(request: Request, user: str) -> Response:
    dash = _dash(request)
    cfg = dash.config.get()
    name = request.path_params.get("name") or next(iter(cfg.profiles))
    return await _profile_form(request, cfg, name, None, None)


async def _profile_form(
    request: Request,
    cfg: Config,
    name: str,
    error: str | None,
    values: dict[str, Any] | None,
    status: int = 200,
) -> Response:
    dash = _dash(request)
    if name not in cfg.profiles:
        return await render(request, "message.html", {"message": "404"}, status=404)
    path = dash.s.config_path
    raw = (_raw_profiles(path).get(name) or {}) if path else {}
    text = configedit.read(path) if path else ""
    return await render(
        request,
        "profiles.html",
        {
            "profiles": list(cfg.profiles),
            "name": name,
            # After a rejected edit, what was typed, over the values in force.
            "v": {**_profile_fields(cfg, name, raw), **(values or {})},
            "error": error,
            "saved": request.query_params.get("saved"),
            "editable": path is not None,
            "digest": configedit.digest(text),
            "default_profile": cfg.default_profile,
        },
        status=status,
    )


def _write_config(
    dash: Dash, request: Request, user: str, edit: Callable[[str, Path], str], expected: str,
    what: str,
) -> None:  # fmt: skip
    path = dash.s.config_path
    if path is None:
        raise configedit.EditError("no config file")
    text = configedit.read(path)
    configedit.write(path, edit(text, path), expected)
    _audit(dash, request, user, "config." + what.split(" ", 1)[0], what)


@posted
async def profile_save(request: Request, user: str, form: FormData) -> Response:
    dash = _dash(request)
    name = request.path_params["name"]
    t = translator(_lang(request))
    cfg = dash.config.get()
    try:
        changes = _changes(form, t)
        await run_in_threadpool(
            _write_config, dash, request, user,
            lambda text, path: configedit.edit_profile(text, path, name, changes),
            str(form.get("digest", "")), f"profile {name}",
        )  # fmt: skip
    except configedit.EditError as e:
        values = {k: form.get(k, "") for k in form}
        for k in BOOL_FIELDS:
            values[k] = form.get(k) == "on"
        return await _profile_form(request, cfg, name, str(e), values, status=400)
    return RedirectResponse(f"/profiles/{name}?saved=1", status_code=303)


@posted
async def profile_create(request: Request, user: str, form: FormData) -> Response:
    dash = _dash(request)
    name = str(form.get("name", "")).strip()
    cfg = dash.config.get()
    try:
        await run_in_threadpool(
            _write_config, dash, request, user,
            lambda text, path: configedit.edit_profile(text, path, name, {}, create=True),
            str(form.get("digest", "")), f"profile {name} created",
        )  # fmt: skip
    except configedit.EditError as e:
        first = next(iter(cfg.profiles))
        return await _profile_form(request, cfg, first, str(e), None, status=400)
    return RedirectResponse(f"/profiles/{name}?saved=1", status_code=303)


@posted
async def profile_delete(request: Request, user: str, form: FormData) -> Response:
    dash = _dash(request)
    name = request.path_params["name"]
    cfg = dash.config.get()
    try:
        await run_in_threadpool(
            _write_config, dash, request, user,
            lambda text, path: configedit.delete_profile(text, path, name),
            str(form.get("digest", "")), f"profile {name} deleted",
        )  # fmt: skip
    except configedit.EditError as e:
        return await _profile_form(request, cfg, name, str(e), None, status=400)
    return RedirectResponse("/profiles", status_code=303)


@signed_in
async def clients_page(request: Request, user: str) -> Response:
    return await _clients_form(request, None, None)


async def _clients_form(
    request: Request, error: str | None, rows: list[dict[str, str]] | None, status: int = 200
) -> Response:
    dash = _dash(request)
    cfg = dash.config.get()
    path = dash.s.config_path
    text = configedit.read(path) if path else ""
    if rows is None:
        rows = [
            {"kind": "match" if r.match else "user" if r.user else "listener",
             "value": r.match or r.user or str(r.listener or ""), "profile": r.profile}
            for r in cfg.clients
        ]  # fmt: skip
    return await render(
        request,
        "clients.html",
        {
            "rows": rows,
            "profiles": list(cfg.profiles),
            "default_profile": cfg.default_profile,
            "error": error,
            "saved": request.query_params.get("saved"),
            "editable": path is not None,
            "digest": configedit.digest(text),
        },
        status=status,
    )


@posted
async def clients_save(request: Request, user: str, form: FormData) -> Response:
    dash = _dash(request)
    count = min(int(str(form.get("count", "0")) or 0), 1000)
    rows: list[dict[str, Any] | None] = []
    shown: list[dict[str, str]] = []
    for i in range(count + 1):  # the last row is the empty "add" row
        kind = str(form.get(f"kind{i}", "match"))
        value = str(form.get(f"value{i}", "")).strip()
        profile = str(form.get(f"profile{i}", ""))
        removed = form.get(f"remove{i}") == "on"
        if kind not in ("match", "user", "listener"):
            kind = "match"
        if removed or not value:
            rows.append(None)
            continue
        # A listener is a port number in the config (validated there).
        rule: dict[str, Any] = {kind: int(value) if kind == "listener" and value.isdigit()
                                else value, "profile": profile}  # fmt: skip
        rows.append(rule)
        shown.append({"kind": kind, "value": value, "profile": profile})
    default = str(form.get("default_profile", "")) or None
    try:
        await run_in_threadpool(
            _write_config, dash, request, user,
            lambda text, path: configedit.edit_clients(text, path, rows, default),
            str(form.get("digest", "")), "clients edited",
        )  # fmt: skip
    except configedit.EditError as e:
        return await _clients_form(request, str(e), shown, status=400)
    return RedirectResponse("/clients?saved=1", status_code=303)


# --- reports -------------------------------------------------------------------------------


@signed_in
async def reports_page(request: Request, user: str) -> Response:
    dash = _dash(request)

    def work() -> list[dict[str, Any]]:
        with dash.reports() as conn:
            return reports.queue(conn)

    rows = await run_in_threadpool(work)
    return await render(
        request, "reports.html", {"rows": rows, "exported": request.query_params.get("exported")}
    )


@posted
async def report_update(request: Request, user: str, form: FormData) -> Response:
    dash = _dash(request)
    rid = int(request.path_params["report_id"])
    what = str(form.get("do", ""))

    def work() -> None:
        with dash.reports() as rconn, dash.db() as conn:
            if what == "dismiss":
                if reports.dismiss(rconn, rid):
                    accounts.audit(conn, user, "report.dismiss", f"#{rid}", _address(request))
            else:
                cat = str(form.get("category", "")).strip() or None
                reports.set_category(rconn, rid, cat)
                accounts.audit(
                    conn, user, "report.category", f"#{rid} {cat or '-'}", _address(request)
                )

    try:
        await run_in_threadpool(work)
    except ValueError as e:
        return await render(request, "message.html", {"message": str(e)}, status=400)
    return RedirectResponse("/reports", status_code=303)


@posted
async def reports_export(request: Request, user: str, form: FormData) -> Response:
    dash = _dash(request)

    def work() -> tuple[bytes, reports.Exported]:
        with tempfile.TemporaryDirectory() as tmp, dash.reports() as rconn, dash.db() as conn:
            result = reports.export(rconn, Path(tmp), fetch_page)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for p in sorted(Path(tmp).rglob("*")):
                    if p.is_file():
                        z.write(p, Path("qinglang-reports") / p.relative_to(tmp))
            accounts.audit(
                conn, user, "reports.export",
                f"{len(result.written)} written, {len(result.failed)} failed", _address(request),
            )  # fmt: skip
            return buf.getvalue(), result

    data, _result = await run_in_threadpool(work)
    stamp = datetime.fromtimestamp(dash.now(), dash.s.tz).strftime("%Y%m%d-%H%M")
    return Response(
        data,
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="qinglang-reports-{stamp}.zip"'},
    )


# --- WireGuard devices ---------------------------------------------------------------------


def _wg_host(request: Request) -> str:
    """The Endpoint host: the address this browser reached the dashboard at, unless the
    proxy says otherwise (``qinglang_lan_host``, or its outgoing address for loopback)."""
    dash = _dash(request)
    server = request.scope.get("server") or ("", 0)
    seen = str(server[0]) if server[0] else None
    if dash.s.wireguard_endpoint is not None:
        return dash.s.wireguard_endpoint(seen)
    return seen or "127.0.0.1"


def _wg_dir(dash: Dash) -> Path:
    return dash.s.data_dir or dash.s.secret_key_file.parent


@signed_in
async def wireguard_page(request: Request, user: str) -> Response:
    dash = _dash(request)
    cfg = dash.config.get()
    host = _wg_host(request)
    rows = await run_in_threadpool(wgpage.views, cfg, _wg_dir(dash), host)
    if rows:
        await run_in_threadpool(
            _audit, dash, request, user, "wireguard.view", ", ".join(d.name for d in cfg.devices)
        )
    return await render(request, "wireguard.html", {"rows": rows, "host": host})


@signed_in
async def wireguard_conf(request: Request, user: str) -> Response:
    dash = _dash(request)
    device = wgpage.find(dash.config.get(), request.path_params["name"])
    conf = None
    if device is not None:
        try:
            conf = await run_in_threadpool(
                wgpage.device_conf, device, _wg_dir(dash), _wg_host(request)
            )
        except ValueError:
            conf = None
    if device is None or conf is None:
        t = translator(_lang(request))
        return await render(request, "message.html", {"message": t("wg.none")}, status=404)
    await run_in_threadpool(_audit, dash, request, user, "wireguard.download", device.name)
    return Response(
        conf,
        media_type="text/plain; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="qinglang-{device.name}.conf"'},
    )


# --- audit ---------------------------------------------------------------------------------


@signed_in
async def audit_page(request: Request, user: str) -> Response:
    dash = _dash(request)

    def work() -> list[sqlite3.Row]:
        with dash.db() as conn:
            return accounts.audit_log(conn)

    return await render(request, "audit.html", {"rows": await run_in_threadpool(work)})


# --- the app -------------------------------------------------------------------------------


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
