"""The overview says how far the holiday data (chinesecalendar) goes."""

from __future__ import annotations

from collections.abc import Callable

from qinglang.policy import holidays

from .conftest import TestClient


def test_overview_says_when_the_data_ends(make_client: Callable[..., TestClient]) -> None:
    last = holidays.official().last_year
    page = make_client(lang="en-GB,en;q=0.9").get("/").text
    assert 'id="holidays"' in page and f"known to the end of {last}" in page
    zh = make_client(lang="zh-CN,zh;q=0.9").get("/").text
    assert f"数据到 {last} 年底" in zh
