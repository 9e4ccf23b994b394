"""What a child sees instead of a blocked page: a friendly page in Chinese or English.

The page names the category and the reason, never the words that were found, and shows an
event id that a parent or teacher can look up in the event log. Requests refused by a
profile's rules before anything was fetched (blocked sites, searches, bypass attempts) get
the same page with that rule as the reason. Everything taken from the request (the address)
or from the lists (category names) is HTML-escaped. Programs that asked for JSON
(``Accept: application/json``, or a JSON API response) get a JSON body.
"""

from __future__ import annotations

import json
from html import escape

from qinglang.engine.verdict import Decision, Reason
from qinglang.pages.i18n import LANGS, Words, category_name, choose_lang, in_lang, reason_text
from qinglang.pages.links import ask_url, mistake_url
from qinglang.pages.risknotice import report_link
from qinglang.store.events import clean_text

_TEXT: Words = {
    "title": ("此页面已被拦截", "This page was blocked"),
    "body": (
        "清朗认为这个页面不适合你，所以没有打开它。",
        "qinglang decided this page is not suitable for you, so it was not opened.",
    ),
    "address": ("网址", "Address"),
    "category": ("类别", "Category"),
    "reason": ("原因", "Reason"),
    "event": ("事件编号", "Event id"),
    "help": (
        "如果你认为这是个错误，请把事件编号告诉家长或老师。",
        "If you think this is a mistake, tell a parent or teacher the event id.",
    ),
    "other": ("English", "中文"),
}

_STYLE = (
    "body{margin:0;font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',"
    "sans-serif;background:#eef5f1;color:#1d2b24}"
    "main{max-width:34rem;margin:8vh auto;padding:2rem;background:#fff;border-radius:1rem;"
    "box-shadow:0 .5rem 2rem rgba(0,0,0,.08)}"
    "h1{font-size:1.5rem;margin:0 0 1rem}p{line-height:1.6}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem;margin:1.5rem 0}"
    "dt{color:#5b6b63}dd{margin:0;overflow-wrap:anywhere}"
    "code{font-size:1.1rem;letter-spacing:.05em}.other{margin-top:2rem;color:#5b6b63;"
    "font-size:.9rem;border-top:1px solid #dde7e1;padding-top:1rem}"
)


def wants_json(accept: str | None, kind: str | None = None) -> bool:
    """An API client: it asked for JSON and not for HTML, or the blocked response was JSON."""
    a = (accept or "").lower()
    if "text/html" in a:
        return False
    return "json" in a or kind == "json"


def _section(decision: Decision, lang: str, event_id: str, url: str | None) -> str:
    t = in_lang(_TEXT, lang)
    rows: list[tuple[str, str, bool]] = []
    if url:
        rows.append((t["address"], url, False))
    rows.append((t["category"], category_name(decision.category, lang), False))
    rows.append((t["reason"], reason_text(decision.reason, lang), False))
    if event_id:
        rows.append((t["event"], event_id, True))
    cells = "".join(
        f"<dt>{escape(k)}</dt><dd>{f'<code>{escape(v)}</code>' if code else escape(v)}</dd>"
        for k, v, code in rows
    )
    return (
        f"<h1>{escape(t['title'])}</h1><p>{escape(t['body'])}</p><dl>{cells}</dl>"
        f"<p>{escape(t['help'])}</p>"
    )


def _report_entry(decision: Decision, lang: str, event_id: str, url: str | None) -> str:
    """A report link (举报入口) on a page blocked for exposing personal information."""
    if decision.reason != Reason.PII or not url:
        return ""
    href = escape(report_link(url, "pii", event_id or None))
    text = "举报这个页面 · Report this page" if lang == "zh" else "Report this page · 举报这个页面"
    return f'<p><a href="{href}" rel="noopener noreferrer nofollow">{escape(text)}</a></p>'


_ASK: Words = {
    "ask": ("请家长开放", "Ask a parent for access"),
    "mistake": ("被误拦截了？举报误拦截", "Blocked by mistake? Report it"),
}


def _asks(lang: str, event_id: str, url: str | None) -> str:
    """ "Ask for access" (the dashboard's page) and "blocked by mistake" (the report
    entry), both answered by the proxy; only with an event id, which they refer to."""
    if not event_id:
        return ""
    words = in_lang(_ASK, lang)
    ask, mistake = words["ask"], words["mistake"]
    links = [(ask_url(event_id), ask)]
    if url:
        links.append((mistake_url(event_id, url), mistake))
    return (
        "<p>"
        + " · ".join(
            f'<a href="{escape(href)}" rel="noopener noreferrer nofollow">{escape(text)}</a>'
            for href, text in links
        )
        + "</p>"
    )


def render_block(
    decision: Decision,
    lang: str = "en",
    event_id: str = "",
    url: str | None = None,
    *,
    asks: bool = True,
) -> str:
    """The block page, in ``lang`` first and the other language below. ``asks``: show
    "ask for access" and "blocked by mistake" (off when the proxy runs without its
    dashboard, which answers the asks)."""
    lang = lang if lang in LANGS else "en"
    other = "en" if lang == "zh" else "zh"
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (
        f'<!DOCTYPE html><html lang="{html_lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(in_lang(_TEXT, lang)['title'])}</title><style>{_STYLE}</style></head>"
        f"<body><main>{_section(decision, lang, event_id, url)}"
        f"{_report_entry(decision, lang, event_id, url)}"
        f"{_asks(lang, event_id, url) if asks else ''}"
        f'<div class="other" lang="{"en" if other == "en" else "zh-CN"}">'
        f"{_section(decision, other, event_id, None)}</div></main></body></html>"
    )


def render_block_json(decision: Decision, event_id: str = "", lang: str = "en") -> str:
    return json.dumps(
        {
            "error": "blocked",
            "blocked_by": "qinglang",
            "category": decision.category,
            "reason": decision.reason or Reason.KEYWORDS,
            "message": reason_text(decision.reason, lang),
            "event_id": event_id,
        },
        ensure_ascii=False,
    )


def block_body(
    decision: Decision,
    event_id: str,
    *,
    accept: str | None = None,
    accept_language: str | None = None,
    kind: str | None = None,
    url: str | None = None,
    asks: bool = True,
) -> tuple[bytes, str]:
    """(body, Content-Type) of the 403 response for this request."""
    lang = choose_lang(accept_language)
    if url is not None:
        url = clean_text(url)  # shown on the page: bytes that were not UTF-8 as U+FFFD
    if wants_json(accept, kind):
        body = render_block_json(decision, event_id, lang)
        return body.encode("utf-8"), "application/json; charset=utf-8"
    page = render_block(decision, lang, event_id, url, asks=asks)
    return page.encode("utf-8"), "text/html; charset=utf-8"
