"""The time-up answer: a page in the child's language saying when access returns for
page loads, a 403 JSON body for API calls, and the rest reminder."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from qinglang.pages.timeup import (
    choose_lang,
    format_when,
    render_rest_reminder,
    render_timeup,
    timeup_reply,
)

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 2, 22, 15, tzinfo=SH)  # Monday
NAV = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("en;q=0.5, zh-TW;q=0.6", "zh"),
        ("fr-FR,fr;q=0.9,en;q=0.5", "en"),
        ("zh;q=0, en", "en"),
        ("fr", "zh"),
        (None, "zh"),
    ],
)
def test_language_follows_accept_language(header: str | None, lang: str) -> None:
    assert choose_lang(header) == lang


@pytest.mark.parametrize(
    ("when", "zh", "en"),
    [
        (datetime(2025, 6, 2, 23, 0, tzinfo=SH), "今天 23:00", "today at 23:00"),
        (datetime(2025, 6, 3, 6, 0, tzinfo=SH), "明天 06:00", "tomorrow at 06:00"),
        (datetime(2025, 6, 6, 20, 0, tzinfo=SH), "周五 20:00", "Friday at 20:00"),
        (datetime(2025, 6, 20, 8, 0, tzinfo=SH), "6月20日 08:00", "20 Jun at 08:00"),
    ],
)
def test_when_access_returns_in_words(when: datetime, zh: str, en: str) -> None:
    assert format_when(when, NOW, "zh", SH) == zh
    assert format_when(when, NOW, "en", SH) == en


def test_page_says_why_and_when_in_chinese_and_english() -> None:
    back = datetime(2025, 6, 3, 6, 0, tzinfo=SH)
    zh = render_timeup("curfew", back, NOW, "zh", tz=SH)
    assert "休息时间到了" in zh and "恢复时间：明天 06:00" in zh and 'lang="zh"' in zh
    en = render_timeup("quota", back, NOW, "en", tz=SH)
    assert "Today&#x27;s screen time is used up." in en and "Back at: tomorrow at 06:00" in en
    never = render_timeup("curfew", None, NOW, "en", tz=SH)
    assert "please ask a parent or teacher" in never


def test_everything_shown_is_escaped() -> None:
    page = render_timeup("schedule", None, NOW, "en", category="<script>x</script>", tz=SH)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_page_loads_get_html_and_api_calls_get_403_json() -> None:
    back = datetime(2025, 6, 6, 20, 0, tzinfo=SH)
    page = timeup_reply(
        "schedule",
        back,
        NOW,
        method="GET",
        path="/",
        headers={**NAV, "Accept-Language": "en-GB,en"},
        category="games",
        tz=SH,
    )
    assert page.status == 403
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-store"
    html = page.body.decode()
    assert "Not open right now" in html and "Friday at 20:00" in html and "games" in html

    api = timeup_reply(
        "quota",
        back,
        NOW,
        method="GET",
        path="/api/feed",
        headers={"Accept": "application/json", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
    )
    assert api.status == 403
    assert api.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(api.body) == {
        "error": "time_up",
        "reason": "quota",
        "category": None,
        "returns_at": "2025-06-06T20:00:00+08:00",
    }


def test_rest_reminder_continues_by_itself() -> None:
    page = render_rest_reminder(30, "zh", continue_after=20)
    assert "连续使用了 30 分钟" in page and '<meta http-equiv="refresh" content="20">' in page
    assert "30 minutes in a row" in render_rest_reminder(30, "en")
