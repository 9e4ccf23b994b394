"""The risk notice (风险提示) on a page where personal information was masked, and the
report entry (举报入口) it links to.

The notice is a ``<details>`` element put right after ``<body ...>``: open at first, and
closed to a small tab with one click on its title, which works without any script. It is
fixed to the bottom of the window, so that it takes no room in the page's own layout
(flex and grid bodies included), and every element resets the page's styles with
``all: initial`` and inline styles, so that the page's CSS does not reach it. A page whose
Content-Security-Policy forbids inline styles shows it unstyled at the top of the page,
still readable and still closable.

The report link points at the proxy's own short address (``PROXY_HOST``), answered by
``reportentry.ReportEntry`` before any upstream is contacted.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from qinglang.pages.i18n import LANGS, Words, choose_lang, in_lang
from qinglang.policy.hosts import PROXY_HOST

REPORT_PATH = "/report"
REPORT_KINDS = ("harmful", "pii", "mistake")  # mistake: from a block page

_TEXT: Words = {
    "title": (
        "清朗提醒：这个页面上别人的个人信息已被隐藏",
        "qinglang: someone's personal information on this page was hidden",
    ),
    "body": (
        (
            "这个页面显示了别人的手机号、身份证号、住址之类的个人信息，清朗已经把它们"
            "遮住了。公开、转发或搜索别人的个人信息（“开盒”）会让对方被骚扰、诈骗甚"
            "至伤害，也可能违法。请不要转发或保存这些信息。如果你或同学的信息被人公开"
            "了，请告诉家长或老师。"
        ),
        (
            "This page showed other people's personal information, such as phone numbers, "
            "ID numbers or home addresses, and qinglang covered it up. Publishing, sharing "
            "or looking up someone's personal details (doxxing) can get them harassed, cheated "
            "or hurt, and can be against the law. Please do not share or keep it. If your "
            "own or a friend's details have been put online, tell a parent or teacher."
        ),
    ),
    "report": ("举报这个页面", "Report this page"),
    "close": ("点击标题可以收起这条提醒。", "Click the title to close this notice."),
}

# Inline styles only: a <style> element would be out of place in <body>, and selectors
# could collide with the page's. ``all:initial`` first, so the page's CSS cannot leak in,
# and every declaration ``!important``: an inline important declaration also beats the
# page's own ``!important`` rules.
_FONT = (
    "font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;"
    "font-size:14px;line-height:1.5;font-weight:normal;text-align:left;color:#3b2f00"
)


def _style(*parts: str) -> str:
    decls = [d for p in parts for d in p.split(";") if d]
    return ";".join(f"{d} !important" for d in ["all:initial", *decls])


_BOX = _style(
    "display:block;position:fixed;z-index:2147483647;left:12px;bottom:12px;"
    "box-sizing:border-box;max-width:min(26rem,calc(100vw - 24px));padding:8px 12px;"
    "background:#fff8dc;border:1px solid #e0b84c;border-radius:8px;"
    "box-shadow:0 2px 10px rgba(0,0,0,.18)",
    _FONT,
)
_SUMMARY = _style(_FONT, "display:block;cursor:pointer;font-weight:bold")
_PARA = _style(_FONT, "display:block;margin:6px 0 0")
_LINK = _style(_FONT, "cursor:pointer;text-decoration:underline;font-weight:bold;color:#0b57d0")
_SMALL = _style(_FONT, "display:block;margin:6px 0 0;font-size:12px")


def report_link(url: str, kind: str, event_id: str | None = None) -> str:
    """The proxy's report address for a page (its address should carry no query)."""
    params = {"kind": kind if kind in REPORT_KINDS else "harmful", "url": url}
    if event_id:
        params["event"] = event_id
    # surrogateescape: a path read from bytes that were not UTF-8 keeps those bytes.
    return f"http://{PROXY_HOST}{REPORT_PATH}?{urlencode(params, errors='surrogateescape')}"


def notice_for(accept_language: str | None, url: str | None) -> str:
    """The notice in the language the browser prefers (``content.pipeline.Notice``)."""
    return notice_html(choose_lang(accept_language), url)


def notice_html(lang: str, url: str | None) -> str:
    """The notice in one language (``zh`` or ``en``), with a report link when the page's
    address is known."""
    t = in_lang(_TEXT, lang if lang in LANGS else "zh")
    html_lang = "zh-CN" if lang == "zh" else "en"
    link = ""
    if url:
        href = escape(report_link(url, "pii"))
        link = (
            f'<a href="{href}" target="_blank" rel="noopener noreferrer nofollow" '
            f'style="{_LINK}">{escape(t["report"])}</a>'
        )
    return (
        f'<details open="" lang="{html_lang}" role="note" data-qinglang="pii-notice" '
        f'style="{_BOX}"><summary style="{_SUMMARY}">{escape(t["title"])}</summary>'
        f'<span style="{_PARA}">{escape(t["body"])}</span>'
        + (f'<span style="{_PARA}">{link}</span>' if link else "")
        + f'<span style="{_SMALL}">{escape(t["close"])}</span></details>'
    )
