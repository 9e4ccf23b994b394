"""The overview: the period's roll-ups as charts, today's minutes, open asks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from qinglang.dashboard import asks, devicenames, quotaview, stats
from qinglang.dashboard.views import devices
from qinglang.dashboard.web import dash_of, lang_of, render, signed_in
from qinglang.pages.i18n import category_name, translator
from qinglang.policy import holidays
from qinglang.store import overrides


@signed_in
async def overview(request: Request, user: str) -> Response:
    dash = dash_of(request)
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
        return {
            "ov": ov,
            "usage": usage,
            "open_asks": open_asks,
            **devices.overview_part(dash, cfg, now),
        }

    data = await run_in_threadpool(work)
    ov: stats.Overview = data["ov"]
    lang = lang_of(request)
    t = translator(lang)
    device = devicenames.namer(dash.config.get())
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
            "labels": [f"{device(c)} ({p})" for c, p, _b, _m in ov.clients[:15]],
            "block": [b for _c, _p, b, _m in ov.clients[:15]],
            "mask": [m for _c, _p, _b, m in ov.clients[:15]],
        },
    }
    today = datetime.fromtimestamp(now, dash.s.tz).date()
    ctx = {
        **data,
        "period": period,
        "charts": charts,
        "holidays": holiday_status(today),
        "device_added": request.query_params.get("device_added"),
        "device_error": request.query_params.get("device_error"),
    }
    return await render(request, "overview.html", ctx)


def holiday_status(today: date) -> dict[str, Any]:
    """What the overview says about the holiday data: its version and last year, and
    whether it has run out (``ended``) or next year's is due (``soon``, from November,
    when the State Council usually publishes the schedule)."""
    o = holidays.official()
    if o.last_year is None:
        return {"state": "missing"}
    if today.year > o.last_year:
        state = "ended"
    elif today.year == o.last_year and today.month >= 11:
        state = "soon"
    else:
        state = "ok"
    return {"state": state, "version": o.version, "year": o.last_year}
