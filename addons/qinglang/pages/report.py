"""The page a child gets from the report entry (``http://qinglang.home.arpa/report``):
thanks for a report, or why it was not recorded, in both languages."""

from __future__ import annotations

from html import escape

from qinglang.pages.i18n import LANGS, Words, in_lang

_TEXT: Words = {
    "thanks": ("谢谢你的举报", "Thank you for your report"),
    "saved": (
        "清朗已经记下了这个页面，家长或老师会看到它：",
        "qinglang has recorded this page, and a parent or teacher will see it:",
    ),
    # What the report is for, by its kind: each thank-you says what happens next.
    "well.pii": (
        "你做得对。遇到公开别人个人信息、或者让你不舒服的内容，告诉信任的大人是最好的办法。现在可以关掉这个标签页了。",
        (
            "You did the right thing. When something shows other people's personal information "
            "or makes you uncomfortable, telling an adult you trust is the best thing to "
            "do. You can close this tab now."
        ),
    ),
    "well.harmful": (
        "你做得对。遇到让你不舒服或者不适合你的内容，告诉信任的大人是最好的办法。现在可以关掉这个标签页了。",
        (
            "You did the right thing. When something makes you uncomfortable or does not "
            "seem right for you, telling an adult you trust is the best thing to do. You can "
            "close this tab now."
        ),
    ),
    "well.mistake": (
        "家长或老师会看看这个页面是不是被错误拦截了；如果是，他们可以为你打开它，"
        "清朗以后也会改进。",
        (
            "A parent or teacher will look at whether this page was blocked by mistake; if "
            "it was, they can open it for you, and qinglang learns from it."
        ),
    ),
    "bad": (
        "这个举报缺少页面的网址，没有被记下。",
        "This report did not say which page it is about, so it was not recorded.",
    ),
    "fail": (
        "举报暂时没能保存，请稍后再试，或者直接告诉家长或老师。",
        (
            "The report could not be saved just now. Try again later, or tell a parent or "
            "teacher directly."
        ),
    ),
    "about": (
        "这是清朗的举报入口。页面上的“举报”链接会带你来这里。",
        "This is qinglang's report entry. The report links on pages bring you here.",
    ),
}

_STYLE = (
    "body{margin:0;font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',"
    "sans-serif;background:#eef5f1;color:#1d2b24}"
    "main{max-width:34rem;margin:8vh auto;padding:2rem;background:#fff;border-radius:1rem;"
    "box-shadow:0 .5rem 2rem rgba(0,0,0,.08)}h1{font-size:1.5rem;margin:0 0 1rem}"
    "p{line-height:1.6}code{overflow-wrap:anywhere}"
    ".other{margin-top:2rem;color:#5b6b63;font-size:.9rem;border-top:1px solid #dde7e1;"
    "padding-top:1rem}"
)


def _section(lang: str, outcome: str, url: str | None, kind: str) -> str:
    t = in_lang(_TEXT, lang)
    if outcome == "saved":
        shown = f"<p><code>{escape(url or '')}</code></p>"
        well = t.get(f"well.{kind}", t["well.harmful"])
        return (
            f"<h1>{escape(t['thanks'])}</h1><p>{escape(t['saved'])}</p>{shown}<p>{escape(well)}</p>"
        )
    return f"<p>{escape(t[outcome])}</p>"


def render_page(outcome: str, lang: str, url: str | None = None, kind: str = "harmful") -> str:
    """``outcome``: saved | bad | fail | about; ``kind``: the report's (mistake, harmful,
    pii); ``lang`` first, the other language below."""
    lang = lang if lang in LANGS else "zh"
    other = "en" if lang == "zh" else "zh"
    title = in_lang(_TEXT, lang)["thanks"] if outcome == "saved" else "qinglang"
    return (
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><main>{_section(lang, outcome, url, kind)}"
        f'<div class="other" lang="{"en" if other == "en" else "zh-CN"}">'
        f"{_section(other, outcome, url, kind)}</div></main></body></html>"
    )
