"""The event log: a filtered, paged list, and one event's page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from qinglang.dashboard import eventlog, stats
from qinglang.dashboard.web import dash_of, render, signed_in


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@signed_in
async def events_page(request: Request, user: str) -> Response:
    dash = dash_of(request)
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
    dash = dash_of(request)
    event_id = request.path_params["event_id"]

    def work() -> dict[str, Any] | None:
        with dash.events() as conn:
            return eventlog.one(conn, event_id) if conn is not None else None

    ev = await run_in_threadpool(work)
    if ev is None:
        return await render(request, "message.html", {"message": "404"}, status=404)
    return await render(request, "event.html", {"e": ev})
