"""Overview, event list, hostile host names, languages."""

from __future__ import annotations

import time
from collections.abc import Callable

from .conftest import HOSTILE, Home, TestClient, blocked


def test_overview_counts_blocks_and_masks(
    make_client: Callable[..., TestClient], home: Home
) -> None:
    home.events(
        blocked("casino.example"),
        blocked("casino.example"),
        blocked("dice.example", client="10.0.0.8"),
        blocked("news.example", action="mask", categories={"porn": 40}, score=40),
        blocked("old.example", ts=time.time() - 10 * 86400),
    )
    c = make_client()
    today = c.get("/?period=today").text
    assert 'id="total-block">3<' in today and 'id="total-mask">1<' in today
    assert "casino.example" in today and "old.example" not in today
    assert "10.0.0.8" in today and "gambling" in today
    month = c.get("/?period=30d").text
    assert 'id="total-block">4<' in month and "old.example" in month
    assert "/static/chart.umd.min.js" in month
    assert c.get("/static/chart.umd.min.js").status_code == 200


def test_events_filter_and_page(make_client: Callable[..., TestClient], home: Home) -> None:
    now = time.time()
    home.events(
        *(blocked(f"site{i}.example", ts=now - 100 - i) for i in range(60)),
        blocked("quiet.example", client="10.0.0.9", action="mask", ts=now - 5000),
    )
    c = make_client()
    first = c.get("/events")
    assert first.text.count('class="ev ') == 50
    assert "site0.example" in first.text and "site59.example" not in first.text
    assert "网络赌场" in first.text and "120" in first.text  # terms and score explain it
    import re

    nxt = re.search(r'href="(/events\?[^"]*after=[^"]+)" id="next"', first.text)
    assert nxt
    second = c.get(nxt.group(1).replace("&amp;", "&"))
    assert "site59.example" in second.text and "site0.example" not in second.text
    only = c.get("/events", params={"client": "10.0.0.9"}).text
    assert "quiet.example" in only and "site1.example" not in only
    assert "quiet.example" in c.get("/events", params={"action": "mask"}).text
    assert "quiet.example" not in c.get("/events", params={"category": "gambling"}).text
    assert "site7.example" in c.get("/events", params={"host": "site7.example"}).text
    assert c.get("/events", params={"host": "nothing.example"}).text.count('class="ev ') == 0


def test_hostile_host_names_are_inert(make_client: Callable[..., TestClient], home: Home) -> None:
    home.events(blocked(HOSTILE, path="/<script>alert(2)</script>"))
    c = make_client()
    for path in ("/", "/events"):
        html = c.get(path).text
        assert "<img src=x onerror" not in html and "<script>alert" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;.example" in html
    data = c.get("/").text
    # In the charts' JSON the markup characters are escaped as well.
    assert "\\u003cimg src=x" in data


def test_languages(make_client: Callable[..., TestClient], home: Home) -> None:
    home.events(blocked())
    zh = make_client(lang="zh-CN,zh;q=0.9,en;q=0.5")
    page = zh.get("/").text
    assert 'lang="zh-CN"' in page and "拦截" in page and "赌博" in page
    en = make_client(lang="en-GB,en;q=0.9")
    page = en.get("/").text
    assert 'lang="en"' in page and "Blocked" in page and "gambling" in page


def test_phone_layout_is_declared(make_client: Callable[..., TestClient]) -> None:
    c = make_client()
    assert 'name="viewport" content="width=device-width' in c.get("/").text
    css = c.get("/static/dashboard.css").text
    assert "@media (max-width: 40rem)" in css
