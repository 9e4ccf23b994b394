"""The page a child sees instead of a blocked page (Chinese or English)."""

from __future__ import annotations

from html import escape
from typing import Protocol


class Decision(Protocol):
    reason: str | None

    @property
    def top_category(self) -> str | None: ...


_TEXT = {
    "zh": {
        "title": "此页面已被拦截",
        "body": "清朗认为这个页面不适合你，所以没有打开它。",
        "category": "类别",
        "reason": "原因",
        "event": "事件编号",
        "help": "如果你认为这是个错误，请把事件编号告诉家长或老师。",
        "keywords": "页面包含不适宜的内容",
        "personal information exposure": "页面暴露了他人的个人信息",
    },
    "en": {
        "title": "This page was blocked",
        "body": "qinglang decided this page is not suitable for you, so it was not opened.",
        "category": "Category",
        "reason": "Reason",
        "event": "Event id",
        "help": "If you think this is a mistake, tell a parent or teacher the event id.",
        "keywords": "the page contains unsuitable content",
        "personal information exposure": "personal information exposure",
    },
}


def render_block(decision: Decision, lang: str = "en", event_id: str = "") -> str:
    t = _TEXT.get(lang, _TEXT["en"])
    reason = decision.reason or "keywords"
    rows = [
        (t["category"], decision.top_category or "-"),
        (t["reason"], t.get(reason, reason)),
    ]
    if event_id:
        rows.append((t["event"], event_id))
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return (
        f'<!DOCTYPE html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(t['title'])}</title></head><body>"
        f"<h1>{escape(t['title'])}</h1><p>{escape(t['body'])}</p><dl>{cells}</dl>"
        f"<p>{escape(t['help'])}</p></body></html>"
    )
