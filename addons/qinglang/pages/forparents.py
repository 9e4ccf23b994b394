"""What a child sees who opens the parents' dashboard through the proxy: a friendly page
that says it is for parents and what to do instead, not the proxy's raw error.

The page takes nothing from the request, so there is nothing to escape but its own words.
"""

from __future__ import annotations

from html import escape

from qinglang.pages.i18n import LANGS, Words, in_lang

_TEXT: Words = {
    "title": ("这个页面是给家长用的", "This page is for parents"),
    "body": (
        "这里是家长面板：家长在这里查看和调整清朗的设置。这台设备不能打开它。",
        "This is the parents' dashboard, where parents look after qinglang's settings. "
        "It does not open on this device.",
    ),
    "help": (
        "如果有页面打不开、或者需要更多上网时间，请在那个页面上点“请家长允许”，或者直接告诉家长。",
        "If a page is blocked or you need more time, use “Ask a parent” on that page, or "
        "talk to a parent.",
    ),
}

_STYLE = (
    "body{margin:0;font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',"
    "sans-serif;background:#eef5f1;color:#1d2b24}"
    "main{max-width:34rem;margin:8vh auto;padding:2rem;background:#fff;border-radius:1rem}"
    "h1{font-size:1.5rem;margin:0 0 1rem}p{line-height:1.6}"
    ".other{margin-top:2rem;color:#5b6b63;font-size:.9rem;border-top:1px solid #dde7e1;"
    "padding-top:1rem}"
)


def _section(lang: str) -> str:
    t = in_lang(_TEXT, lang)
    return f"<h1>{escape(t['title'])}</h1><p>{escape(t['body'])}</p><p>{escape(t['help'])}</p>"


def render_for_parents(lang: str = "zh") -> str:
    """The page, in ``lang`` first and the other language below."""
    lang = lang if lang in LANGS else "en"
    other = "en" if lang == "zh" else "zh"
    return (
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, '
        f'initial-scale=1"><meta name="robots" content="noindex"><title>'
        f"{escape(in_lang(_TEXT, lang)['title'])}</title><style>{_STYLE}</style></head>"
        f'<body><main>{_section(lang)}<div class="other" '
        f'lang="{"en" if other == "en" else "zh-CN"}">{_section(other)}</div></main></body>'
        "</html>"
    )
