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
from collections.abc import Awaitable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from mitmproxy import ctx, http

from qinglang.pages.i18n import choose_lang
from qinglang.pages.report import render_page
from qinglang.pages.risknotice import REPORT_KINDS, REPORT_PATH
from qinglang.policy.clients import peer_ip, proxy_user
from qinglang.policy.hosts import PROXY_HOST, asks_for
from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.identity import listener
from qinglang.proxy.scaleout import store_option
from qinglang.store.backends import ServerURL
from qinglang.store.reports import Report, add_report, clean_url, connect

log = logging.getLogger(__name__)
_EVENT_ID = re.compile(r"^[0-9A-Z]{10}$")


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
    """mitmproxy addon answering ``PROXY_HOST``; list it before ``Qinglang``."""

    def __init__(self, main: Qinglang | None = None) -> None:
        self._main = main

    def _qinglang(self) -> Qinglang | None:
        return self._main

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

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        # Sync for every request but those to the proxy's own name: a coroutine per
        # request costs more than the check (mitmproxy awaits what a hook returns).
        if flow.response or flow.error or not flow.live or not asks_for(flow.request, PROXY_HOST):
            return None
        return self._serve(flow)

    async def _serve(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        lang = choose_lang(req.headers.get("accept-language"))
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
            self._answer(flow, 200, render_page("saved", lang, url, kind))
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
            port = listener(flow.client_conn)
            profile = main.live.rules.clients.profile_for(ip, user, port)
            client = main.live.rules.clients.client_id(ip, port)
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
        self._answer(flow, 200, render_page("saved", lang, url, kind))

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
