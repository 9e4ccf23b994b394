"""The report entry (举报入口): the proxy answers ``http://qinglang.home.arpa/report`` itself.

The risk notice on a masked page and the block page of a doxxing page link here
(``risknotice.report_link``). A report is recorded in a ``reports`` table in the event
database (beside the ``events`` table; with ``qinglang_store``, in PostgreSQL, so a school's
workers share one table), and the child gets a thank-you page in both languages. No
upstream is ever contacted for this host, the way mitmproxy answers ``mitm.it`` itself.
Load this addon before ``Qinglang`` so that rules that stop requests (time limits,
allow-only profiles) never stop a report.

What is kept: the page's address without its query or fragment, the kind (``harmful`` or
``pii``), the time, the device's address, its proxy log-in and profile, and the event id
when the report came from a block page. Repeated reports of one page by one device within
a day are recorded once, and a device can file at most ``MAX_PER_HOUR`` reports an hour
(a page could otherwise fill the table through hidden links).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from mitmproxy import ctx, http

from qinglang.pages import blockpage
from qinglang.pages.risknotice import REPORT_HOST, REPORT_KINDS, REPORT_PATH
from qinglang.policy.clients import listener_port, peer_ip, proxy_user
from qinglang.policy.reqhost import asks_for
from qinglang.proxy.filtering import Qinglang, running_qinglang
from qinglang.proxy.scaleout import store_option
from qinglang.store.backends import ServerURL

log = logging.getLogger(__name__)

MAX_URL = 2048
MAX_PER_HOUR = 30
REPEAT_SECONDS = 86400.0
_EVENT_ID = re.compile(r"^[0-9A-Z]{10}$")
SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id       INTEGER PRIMARY KEY,
    ts       REAL NOT NULL,
    client   TEXT NOT NULL,
    user     TEXT,
    profile  TEXT,
    kind     TEXT NOT NULL,
    url      TEXT NOT NULL,
    host     TEXT NOT NULL,
    event_id TEXT
);
CREATE INDEX IF NOT EXISTS reports_ts ON reports (ts);
"""


@dataclass(frozen=True, slots=True)
class Report:
    client: str
    kind: str  # harmful | pii
    url: str  # scheme://host/path, no query
    host: str
    user: str | None = None
    profile: str | None = None
    event_id: str | None = None
    ts: float = 0.0


def clean_url(raw: str) -> str | None:
    """``scheme://host[:port]/path`` of a reported address; None when it is not one.

    Query, fragment and any user name or password are dropped: they can carry searches,
    tokens and personal data. An address without a scheme (the block page shows
    ``host/path``) is taken as ``http://``, which a server moves to https itself."""
    u = raw.strip()[:MAX_URL]
    if not u:
        return None
    if "://" not in u:
        u = "http://" + u.lstrip("/")
    try:
        parts = urlsplit(u)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or host == REPORT_HOST:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", "", ""))


def connect(path: str | Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    return db


# Shared by both stores: PostgreSQL takes them through pgevents.pg_sql.
_REPEAT = "SELECT COUNT(*) FROM reports WHERE client = ? AND kind = ? AND url = ? AND ts > ?"
_RECENT = "SELECT COUNT(*) FROM reports WHERE client = ? AND ts > ?"
_INSERT = (
    'INSERT INTO reports (ts, client, "user", profile, kind, url, host, event_id) '
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _add(db: Any, report: Report) -> bool:
    """The checks and the insert, inside the caller's transaction."""
    (repeat,) = db.execute(
        _REPEAT, (report.client, report.kind, report.url, report.ts - REPEAT_SECONDS)
    ).fetchone()
    (recent,) = db.execute(_RECENT, (report.client, report.ts - 3600.0)).fetchone()
    if repeat or recent >= MAX_PER_HOUR:
        return False
    db.execute(
        _INSERT,
        (
            report.ts,
            report.client,
            report.user,
            report.profile,
            report.kind,
            report.url,
            report.host,
            report.event_id,
        ),
    )
    return True


def add_report(where: str | Path | ServerURL, report: Report) -> bool:
    """Record a report in the SQLite event database, or (scale-out) in PostgreSQL; False
    when it repeats a recent one or the device is over its hourly limit (the child is
    thanked either way). A PostgreSQL error is raised as ``OSError`` without the password."""
    if isinstance(where, ServerURL):
        return _add_pg(where, report)
    db = connect(where)
    try:
        with db:
            return _add(db, report)
    finally:
        db.close()


def _add_pg(url: ServerURL, report: Report) -> bool:
    import psycopg

    from qinglang.store import pgevents

    try:
        db = pgevents.open_db(url)
        try:
            with db:
                # Workers take reports side by side: one device's reports in turn, so that
                # two workers cannot both let a repeat or a 31st report of the hour in.
                db.execute(
                    "SELECT pg_advisory_xact_lock(hashtext('qinglang.reports'), hashtext(?))",
                    (report.client,),
                )
                return _add(db, report)
        finally:
            db.close()
    except psycopg.Error as e:
        raise OSError(url.scrub(str(e))) from None


_TEXT = {
    "zh": {
        "thanks": "谢谢你的举报",
        "saved": "清朗已经记下了这个页面，家长或老师会看到它：",
        "well": (
            "你做得对。遇到公开别人个人信息、或者让你不舒服的内容，告诉信任的大人是最好的办法。"
            "现在可以关掉这个标签页了。"
        ),
        "bad": "这个举报缺少页面的网址，没有被记下。",
        "fail": "举报暂时没能保存，请稍后再试，或者直接告诉家长或老师。",
        "about": "这是清朗的举报入口。页面上的“举报”链接会带你来这里。",
    },
    "en": {
        "thanks": "Thank you for your report",
        "saved": "qinglang has recorded this page, and a parent or teacher will see it:",
        "well": (
            "You did the right thing. When something shows other people's personal "
            "information or makes you uncomfortable, telling an adult you trust is the best "
            "thing to do. You can close this tab now."
        ),
        "bad": "This report did not say which page it is about, so it was not recorded.",
        "fail": "The report could not be saved just now. Try again later, or tell a parent "
        "or teacher directly.",
        "about": "This is qinglang's report entry. The report links on pages bring you here.",
    },
}

_STYLE = (
    "body{margin:0;font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',"
    "sans-serif;background:#eef5f1;color:#1d2b24}"
    "main{max-width:34rem;margin:8vh auto;padding:2rem;background:#fff;border-radius:1rem;"
    "box-shadow:0 .5rem 2rem rgba(0,0,0,.08)}h1{font-size:1.5rem;margin:0 0 1rem}"
    "p{line-height:1.6}code{word-break:break-all}"
    ".other{margin-top:2rem;color:#5b6b63;font-size:.9rem;border-top:1px solid #dde7e1;"
    "padding-top:1rem}"
)


def _section(lang: str, outcome: str, url: str | None) -> str:
    t = _TEXT[lang]
    if outcome == "saved":
        shown = f"<p><code>{escape(url or '')}</code></p>"
        return (
            f"<h1>{escape(t['thanks'])}</h1><p>{escape(t['saved'])}</p>{shown}"
            f"<p>{escape(t['well'])}</p>"
        )
    return f"<p>{escape(t[outcome])}</p>"


def render_page(outcome: str, lang: str, url: str | None = None) -> str:
    """``outcome``: saved | bad | fail | about; ``lang`` first, the other language below."""
    lang = lang if lang in _TEXT else "zh"
    other = "en" if lang == "zh" else "zh"
    title = _TEXT[lang]["thanks"] if outcome == "saved" else "qinglang"
    return (
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main>{_section(lang, outcome, url)}"
        f'<div class="other" lang="{"en" if other == "en" else "zh-CN"}">'
        f"{_section(other, outcome, url)}</div></main></body></html>"
    )


def report_db(main: Qinglang) -> Path | ServerURL | None:
    """Where reports go: beside the events (also when the event log is switched off, since
    a report is something the child chose to send), so in PostgreSQL with ``qinglang_store``."""
    events = main.events
    if events is not None:
        url = getattr(events, "url", None)  # pgevents.PgEventStore
        return url if isinstance(url, ServerURL) else events.path
    if main.live is None:
        return None
    try:
        url = store_option()
    except ValueError:
        url = None  # the proxy addon has reported the bad option
    if url is not None:
        return url
    db = main.live.config.events.db
    if db:
        return Path(db).expanduser()
    return Path(ctx.options.confdir).expanduser() / "qinglang-events.sqlite"


class ReportEntry:
    """mitmproxy addon answering ``REPORT_HOST``; list it before ``Qinglang``."""

    def __init__(self, main: Qinglang | None = None) -> None:
        self._main = main

    def _qinglang(self) -> Qinglang | None:
        return running_qinglang(self._main)

    def running(self) -> None:
        # The table exists from the start, so that the dashboard can list no reports.
        main = self._qinglang()
        db = report_db(main) if main is not None else None
        if db is None or isinstance(db, ServerURL):
            return  # PostgreSQL: made on the first report, or by the dashboard
        try:
            connect(db).close()
        except (sqlite3.Error, OSError) as e:
            log.error("qinglang: cannot create the reports table in %s: %s", db, e)

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live:
            return
        req = flow.request
        if not asks_for(req, REPORT_HOST):
            return
        lang = blockpage.choose_lang(req.headers.get("accept-language"))
        path, _, query = req.path.partition("?")
        if path.rstrip("/") != REPORT_PATH:
            self._answer(flow, 200, render_page("about", lang))
            return
        params = parse_qs(query, max_num_fields=10)
        url = clean_url((params.get("url") or [""])[0])
        kind = (params.get("kind") or ["harmful"])[0]
        event = (params.get("event") or [""])[0].strip().upper()
        if url is None or kind not in REPORT_KINDS:
            self._answer(flow, 400, render_page("bad", lang))
            return
        if req.method not in ("GET", "POST"):  # HEAD: link checkers, prefetches
            self._answer(flow, 200, render_page("saved", lang, url))
            return
        main = self._qinglang()
        db = report_db(main) if main is not None else None
        if db is None:
            self._answer(flow, 503, render_page("fail", lang))
            return
        ip = peer_ip(flow.client_conn.peername)
        user = proxy_user(flow.metadata)
        profile = None
        client = str(ip) if ip else ""
        if main is not None and main.live is not None:
            listener = listener_port(flow.client_conn)
            profile = main.live.rules.clients.profile_for(ip, user, listener)
            client = main.live.rules.clients.client_id(ip, listener)
        report = Report(
            client=client,
            kind=kind,
            url=url,
            host=urlsplit(url).hostname or "",
            user=user,
            profile=profile,
            event_id=event if _EVENT_ID.match(event) else None,
            ts=time.time(),
        )
        try:
            await asyncio.to_thread(add_report, db, report)
        except (sqlite3.Error, OSError) as e:
            log.error("qinglang: cannot record a report in %s: %s", db, e)
            self._answer(flow, 500, render_page("fail", lang))
            return
        self._answer(flow, 200, render_page("saved", lang, url))

    @staticmethod
    def _answer(flow: http.HTTPFlow, status: int, page: str) -> None:
        flow.response = http.Response.make(
            status,
            page.encode(),
            {
                "content-type": "text/html; charset=utf-8",
                "cache-control": "no-store",
                "x-content-type-options": "nosniff",
                "referrer-policy": "no-referrer",
            },
        )
