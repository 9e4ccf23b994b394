"""The block page: language from Accept-Language, escaping, JSON for API clients."""

from __future__ import annotations

import json

from qinglang.engine.verdict import Action, Decision
from qinglang.pages.blockpage import block_body, render_block, wants_json
from qinglang.pages.i18n import choose_lang


def D(reason: str | None, category: str | None) -> Decision:
    return Decision(Action.BLOCK, reason, category)  # type: ignore[arg-type]


def test_language_choice() -> None:
    assert choose_lang("en-US,en;q=0.9") == "en"
    assert choose_lang("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert choose_lang("fr-FR, en;q=0.5, zh;q=0.7") == "zh"
    assert choose_lang("en;q=0, zh-TW") == "zh"
    assert choose_lang(None) == "zh" and choose_lang("de") == "zh"


def test_page_names_category_and_reason_and_event_but_escapes() -> None:
    page = render_block(D("keywords", "gambling"), "en", "ABCDE12345", url="x.com/<b>")
    assert "Category" in page and "gambling" in page and "ABCDE12345" in page
    assert "unsuitable content" in page
    assert "x.com/&lt;b&gt;" in page and "<b>" not in page
    assert "此页面已被拦截" in page  # the other language below
    evil = render_block(D("<script>", "<img src=x>"), "zh")
    assert "<script>" not in evil and "<img" not in evil


def test_json_for_api_clients() -> None:
    assert wants_json("application/json")
    assert not wants_json("text/html,application/json;q=0.9")
    assert wants_json("*/*", kind="json") and not wants_json(None)
    body, ctype = block_body(D("keywords", "porn"), "ID", accept="application/json")
    assert ctype.startswith("application/json")
    assert json.loads(body) == {
        "error": "blocked",
        "blocked_by": "qinglang",
        "category": "porn",
        "reason": "keywords",
        "message": "页面包含不适宜的内容",
        "event_id": "ID",
    }
