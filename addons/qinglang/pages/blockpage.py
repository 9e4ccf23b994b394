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
from typing import Protocol

from qinglang.pages.links import ask_url, mistake_url
from qinglang.pages.risknotice import report_link
from qinglang.policy import urlrules

REASON_KEYWORDS = "keywords"
REASON_PII = "personal information exposure"
REASON_OVERSIZE = "too large to check"
REASON_ERROR = "could not be checked"
REASON_PARTIAL = "partial content"
REASON_UNCONFIGURED = "filter not ready"


class Decision(Protocol):
    reason: str | None

    @property
    def top_category(self) -> str | None: ...


_TEXT = {
    "zh": {
        "title": "此页面已被拦截",
        "body": "清朗认为这个页面不适合你，所以没有打开它。",
        "address": "网址",
        "category": "类别",
        "reason": "原因",
        "event": "事件编号",
        "help": "如果你认为这是个错误，请把事件编号告诉家长或老师。",
        "other": "English",
    },
    "en": {
        "title": "This page was blocked",
        "body": "qinglang decided this page is not suitable for you, so it was not opened.",
        "address": "Address",
        "category": "Category",
        "reason": "Reason",
        "event": "Event id",
        "help": "If you think this is a mistake, tell a parent or teacher the event id.",
        "other": "中文",
    },
}

_REASONS = {
    REASON_KEYWORDS: ("页面包含不适宜的内容", "the page contains unsuitable content"),
    REASON_PII: ("页面暴露了他人的个人信息", "the page exposes someone's personal information"),
    REASON_OVERSIZE: ("页面太大，无法检查", "the page is too large to be checked"),
    REASON_ERROR: ("页面无法被检查（内容损坏或格式不符）", "the page could not be checked"),
    REASON_PARTIAL: (
        "只请求了页面的一部分，无法完整检查",
        "only part of the page was requested, so it could not be checked as a whole",
    ),
    REASON_UNCONFIGURED: ("过滤器还没有准备好", "the filter is not ready yet"),
    # Request rules (urlrules.py reasons): decided before the page was fetched.
    urlrules.DENY_DOMAIN: (
        "家长或学校设置了不能访问这个网站",
        "a parent or school has blocked this site",
    ),
    urlrules.DENY_URL: (
        "家长或学校设置了不能访问这个网址",
        "a parent or school has blocked this address",
    ),
    urlrules.CATEGORY: ("这类网站不适合你", "sites of this kind are not suitable for you"),
    urlrules.SEARCH_ENGINE: (
        "这个搜索引擎不能使用，请换一个",
        "this search engine is not allowed; please use another one",
    ),
    urlrules.SEARCH_KEYWORDS: ("搜索的内容不适宜", "the search contains unsuitable words"),
    urlrules.URL_KEYWORDS: ("网址包含不适宜的内容", "the address contains unsuitable words"),
    urlrules.PAYMENTS: ("这里不能付款或充值", "payments and top-ups are not allowed"),
    urlrules.DOH: (
        "不能使用加密 DNS（DoH）绕过过滤",
        "encrypted DNS (DNS over HTTPS) would bypass the filter, so it is not allowed",
    ),
    urlrules.PROXIES_VPN: (
        "不能使用代理或 VPN 绕过过滤",
        "proxies and VPNs would bypass the filter, so they are not allowed",
    ),
    urlrules.BARE_IP: (
        "不能直接用 IP 地址访问",
        "connecting to a bare IP address is not allowed",
    ),
}

_CATEGORIES = {
    "porn": ("色情", "pornography"),
    "sexual": ("色情", "sexual content"),
    "gambling": ("赌博", "gambling"),
    "violence": ("暴力", "violence"),
    "drugs": ("毒品", "drugs"),
    "self-harm": ("自我伤害", "self-harm"),
    "self_harm": ("自我伤害", "self-harm"),
    "suicide": ("自杀", "suicide"),
    "weapons": ("武器", "weapons"),
    "hate": ("仇恨言论", "hate speech"),
    "profanity": ("粗言秽语", "profanity"),
    "bullying": ("网络欺凌", "bullying"),
    "fraud": ("诈骗", "fraud"),
    "scam": ("诈骗", "scams"),
    "extremism": ("极端主义", "extremism"),
    "pii": ("个人信息", "personal information"),
    "games": ("游戏", "games"),
    "payments": ("支付", "payments"),
    "doh": ("加密 DNS", "encrypted DNS"),
    "proxies_vpn": ("代理和 VPN", "proxies and VPNs"),
    "social": ("社交网络", "social networks"),
    "video": ("视频", "video"),
}

_STYLE = (
    "body{margin:0;font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',"
    "sans-serif;background:#eef5f1;color:#1d2b24}"
    "main{max-width:34rem;margin:8vh auto;padding:2rem;background:#fff;border-radius:1rem;"
    "box-shadow:0 .5rem 2rem rgba(0,0,0,.08)}"
    "h1{font-size:1.5rem;margin:0 0 1rem}p{line-height:1.6}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1rem;margin:1.5rem 0}"
    "dt{color:#5b6b63}dd{margin:0;word-break:break-all}"
    "code{font-size:1.1rem;letter-spacing:.05em}.other{margin-top:2rem;color:#5b6b63;"
    "font-size:.9rem;border-top:1px solid #dde7e1;padding-top:1rem}"
)


def choose_lang(accept_language: str | None) -> str:
    """``zh`` or ``en``, whichever the browser prefers; Chinese when it names neither."""
    best: tuple[float, int, str] | None = None
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        lang = "zh" if tag.startswith("zh") else "en" if tag.startswith("en") else None
        if lang and q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, lang)
    return best[2] if best else "zh"


def wants_json(accept: str | None, kind: str | None = None) -> bool:
    """An API client: it asked for JSON and not for HTML, or the blocked response was JSON."""
    a = (accept or "").lower()
    if "text/html" in a:
        return False
    return "json" in a or kind == "json"


def category_name(category: str | None, lang: str) -> str:
    if not category:
        return "-"
    names = _CATEGORIES.get(category)
    if names is None:
        return category
    return names[0] if lang == "zh" else names[1]


def reason_text(reason: str | None, lang: str) -> str:
    r = reason or REASON_KEYWORDS
    texts = _REASONS.get(r)
    if texts is None:
        return r
    return texts[0] if lang == "zh" else texts[1]


def _section(decision: Decision, lang: str, event_id: str, url: str | None) -> str:
    t = _TEXT[lang]
    rows: list[tuple[str, str, bool]] = []
    if url:
        rows.append((t["address"], url, False))
    rows.append((t["category"], category_name(decision.top_category, lang), False))
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
    if decision.reason != REASON_PII or not url:
        return ""
    href = escape(report_link(url, "pii", event_id or None))
    text = "举报这个页面 · Report this page" if lang == "zh" else "Report this page · 举报这个页面"
    return f'<p><a href="{href}" rel="noopener noreferrer nofollow">{escape(text)}</a></p>'


_ASK = {
    "zh": ("请家长开放", "被误拦截了？举报误拦截"),
    "en": ("Ask a parent for access", "Blocked by mistake? Report it"),
}


def _asks(lang: str, event_id: str, url: str | None) -> str:
    """ "Ask for access" (the dashboard's page) and "blocked by mistake" (the report
    entry), both answered by the proxy; only with an event id, which they refer to."""
    if not event_id:
        return ""
    ask, mistake = _ASK[lang]
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
    lang = lang if lang in _TEXT else "en"
    other = "en" if lang == "zh" else "zh"
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (
        f'<!DOCTYPE html><html lang="{html_lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(_TEXT[lang]['title'])}</title><style>{_STYLE}</style></head>"
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
            "category": decision.top_category,
            "reason": decision.reason or REASON_KEYWORDS,
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
    if wants_json(accept, kind):
        body = render_block_json(decision, event_id, lang)
        return body.encode("utf-8"), "application/json; charset=utf-8"
    page = render_block(decision, lang, event_id, url, asks=asks)
    return page.encode("utf-8"), "text/html; charset=utf-8"
