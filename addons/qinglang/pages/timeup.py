"""What a child sees when time is up: a friendly page (Chinese or English) that says
when access returns, or a 403 JSON body for API calls; and the rest reminder.

Everything shown is escaped; nothing from the requested page is echoed back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from html import escape

from qinglang.pages.i18n import Words, category_name, choose_lang, in_lang
from qinglang.policy.quota import is_page_request
from qinglang.policy.timerules import to_local

STATUS = 403

_WEEKDAYS: Words = {
    "0": ("周一", "Monday"),
    "1": ("周二", "Tuesday"),
    "2": ("周三", "Wednesday"),
    "3": ("周四", "Thursday"),
    "4": ("周五", "Friday"),
    "5": ("周六", "Saturday"),
    "6": ("周日", "Sunday"),
}

_TEXT: Words = {
    "title": ("现在不能上网", "Not right now"),
    "title_curfew": ("休息时间到了", "It's rest time"),
    "title_quota": ("今天的上网时间用完了", "Today's time is used up"),
    "title_schedule": ("现在还不能打开", "Not open right now"),
    "title_payments": ("现在不能付款", "Payments are paused"),
    "curfew": ("现在是休息时间，网络暂停使用。", "It is rest time, so the internet is paused."),
    "quota": ("今天的上网时间已经用完了。", "Today's screen time is used up."),
    "schedule": ("这类网站现在不开放。", "Sites of this kind are not open right now."),
    "payments": ("现在不能付款或充值。", "Payments and top-ups are not allowed right now."),
    "category": ("类别", "Category"),
    "returns": ("恢复时间：{when}", "Back at: {when}"),
    "never": (
        "近期不会自动恢复，请找家长或老师。",
        "Access does not come back by itself soon; please ask a parent or teacher.",
    ),
    "help": ("需要帮助的话，请找家长或老师。", "If you need help, ask a parent or teacher."),
    "ask": ("请家长多给一点时间", "Ask a parent for more time"),
    "today": ("今天 {t}", "today at {t}"),
    "tomorrow": ("明天 {t}", "tomorrow at {t}"),
    "weekday": ("{d} {t}", "{d} at {t}"),
    "date": ("{m}月{day}日 {t}", "{day} {mon} at {t}"),
    "rest_title": ("休息一下吧", "Time for a break"),
    "rest_body": (
        "你已经连续使用了 {n} 分钟。起来活动一下，看看远处，让眼睛休息一会儿。",
        (
            "You have been online for {n} minutes in a row. Stand up, look far away and rest "
            "your eyes for a moment."
        ),
    ),
    "rest_continue": ("页面将在 {s} 秒后继续打开。", "The page will continue in {s} seconds."),
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_when(when: datetime, now: datetime, lang: str, tz: tzinfo | None = None) -> str:
    """``when`` in words relative to ``now``: today/tomorrow/weekday/date and HH:MM."""
    t = in_lang(_TEXT, lang)
    w, n = to_local(when, tz), to_local(now, tz)
    hm = f"{w.hour:02d}:{w.minute:02d}"
    days = (w.date() - n.date()).days
    if days <= 0:
        return t["today"].format(t=hm)
    if days == 1:
        return t["tomorrow"].format(t=hm)
    if days < 7:
        return t["weekday"].format(d=in_lang(_WEEKDAYS, lang)[str(w.weekday())], t=hm)
    return t["date"].format(m=w.month, mon=_MONTHS[w.month - 1], day=w.day, t=hm)


def render_timeup(
    reason: str,
    returns_at: datetime | None,
    now: datetime,
    lang: str = "zh",
    *,
    category: str | None = None,
    tz: tzinfo | None = None,
    ask: str | None = None,
) -> str:
    """The time-up page. ``reason``: curfew, quota, schedule or payments. ``ask``: the
    "ask for more time" link (the dashboard's page), shown for the time rules."""
    t = in_lang(_TEXT, lang)
    lines = [t.get(reason, t["quota"])]
    if category and reason in ("schedule", "payments"):
        lines.append(f"{t['category']}: {category_name(category, lang)}")
    if returns_at is not None:
        lines.append(t["returns"].format(when=format_when(returns_at, now, lang, tz)))
    else:
        lines.append(t["never"])
    body = "".join(f"<p>{escape(line)}</p>" for line in lines)
    if ask and reason in ("curfew", "quota", "schedule"):
        link = f'<a href="{escape(ask)}" rel="noopener noreferrer nofollow">{escape(t["ask"])}</a>'
        body += f"<p>{link}</p>"
    title = t.get(f"title_{reason}", t["title"])
    return _page(lang, title, body + f"<p class=help>{escape(t['help'])}</p>")


def render_rest_reminder(minutes: int, lang: str = "zh", continue_after: int = 20) -> str:
    """A gentle reminder after ``minutes`` of continuous use; the page reloads itself
    (same URL) after ``continue_after`` seconds, so nothing else is needed to go on."""
    t = in_lang(_TEXT, lang)
    body = (
        f"<p>{escape(t['rest_body'].format(n=int(minutes)))}</p>"
        f"<p class=help>{escape(t['rest_continue'].format(s=int(continue_after)))}</p>"
    )
    refresh = f'<meta http-equiv="refresh" content="{int(continue_after)}">'
    return _page(lang, t["rest_title"], body, head=refresh)


def _page(lang: str, title: str, body: str, head: str = "") -> str:
    return (
        f'<!DOCTYPE html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{head}<title>{escape(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;"
        "line-height:1.6;color:#234}h1{font-size:1.6em}.help{color:#667;font-size:.9em}"
        f"</style></head><body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def timeup_json(
    reason: str, returns_at: datetime | None, category: str | None = None
) -> dict[str, object]:
    """The 403 body for API calls (machine-readable; ISO 8601 time with offset)."""
    return {
        "error": "time_up",
        "reason": reason,
        "category": category,
        "returns_at": returns_at.isoformat() if returns_at else None,
    }


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def timeup_reply(
    reason: str,
    returns_at: datetime | None,
    now: datetime,
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    category: str | None = None,
    tz: tzinfo | None = None,
    ask: str | None = None,
) -> Reply:
    """The whole answer to a request refused by a time rule: the page for page loads
    (language from Accept-Language), JSON for everything else; 403 either way, never
    cached."""
    base = {"Cache-Control": "no-store", "X-Qinglang": f"timeup; reason={reason}"}
    if is_page_request(method, path, headers):
        lang = choose_lang(headers.get("Accept-Language") or headers.get("accept-language"))
        html = render_timeup(reason, returns_at, now, lang, category=category, tz=tz, ask=ask)
        return Reply(
            STATUS,
            {**base, "Content-Type": "text/html; charset=utf-8", "Content-Language": lang},
            html.encode("utf-8"),
        )
    body = json.dumps(timeup_json(reason, returns_at, category), ensure_ascii=False)
    return Reply(
        STATUS, {**base, "Content-Type": "application/json; charset=utf-8"}, body.encode("utf-8")
    )
