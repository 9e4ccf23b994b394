"""The dashboard in a real headless Chromium (Playwright with Debian's chromium), served
by uvicorn exactly as the proxy serves it (``server.serve`` on a running event loop)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from headless import launch
from playwright.sync_api import Browser, Page, expect, sync_playwright

from qinglang.dashboard import asks
from qinglang.dashboard.app import create_app
from qinglang.dashboard.server import serve
from qinglang.store import dashdb as db

from .conftest import HOSTILE, PASSWORD, Home, blocked


class LiveServer:
    """The app on a uvicorn listener, on an event loop in a thread of this process."""

    def __init__(self, home: Home) -> None:
        self.loop = asyncio.new_event_loop()
        self.app = create_app(home.settings)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(serve(self.app, "127.0.0.1", 0), self.loop)
        self.server, self.task = fut.result(20)
        sock = self.server.servers[0].sockets[0]
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        asyncio.run_coroutine_threadsafe(asyncio.wait_for(self.task, 10), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def live(home: Home) -> Iterator[LiveServer]:
    server = LiveServer(home)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _page(browser: Browser, locale: str = "en-US") -> Page:
    ctx = browser.new_context(locale=locale, extra_http_headers={"accept-language": locale})
    return ctx.new_page()


def _sign_in(page: Page, url: str) -> None:
    page.goto(url + "/")
    expect(page).to_have_url(re.compile(r"/signin$"))
    page.locator("input[name=user]").fill("mum")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form[action='/signin'] button").click()
    expect(page).to_have_url(url + "/")


def test_sign_in_see_and_filter_events(browser: Browser, live: LiveServer, home: Home) -> None:
    home.events(
        blocked("casino.example"),
        blocked("quiet.example", client="10.0.0.9", action="mask", categories={"porn": 40}),
        blocked(HOSTILE),
    )
    dialogs: list[str] = []
    page = _page(browser)
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, live.url)
    expect(page.locator("#total-block")).to_have_text("2")
    # Chart.js drew the charts (a canvas with pixels), from the vendored file.
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-categories')")
    expect(page.locator("#table-hosts")).to_contain_text(HOSTILE)
    page.goto(live.url + "/events")
    rows = page.locator("#events tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#events")).to_contain_text("网络赌场")
    page.locator("details.filters summary").click()
    page.locator("select[name=client]").select_option("10.0.0.9")
    page.locator("form.filters button[type=submit]").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("quiet.example")
    # The hostile host name is text on the page, never markup: no image, no alert.
    page.goto(live.url + "/events")
    expect(page.locator("#events")).to_contain_text(HOSTILE)
    assert page.locator("#events img").count() == 0
    page.goto(live.url + "/")
    page.wait_for_timeout(300)
    assert dialogs == []


def test_grant_an_ask_for_access(browser: Browser, live: LiveServer, home: Home) -> None:
    conn = db.connect(home.settings.state_db)
    asks.create(
        conn, client="10.0.0.7", user=None, profile="child", kind="block",
        host="games.example", path="/play", now=time.time(), message="homework",
    )  # fmt: skip
    conn.close()
    page = _page(browser)
    _sign_in(page, live.url)
    page.locator("a[href='/asks']").first.click()
    expect(page.locator(".ask")).to_contain_text("games.example/play")
    page.locator(".ask button[value='site-today']").click()
    expect(page.locator("[role=status]")).to_contain_text("next request will pass")
    expect(page.locator("#overrides")).to_contain_text("games.example")


def test_edit_a_profile(browser: Browser, live: LiveServer, home: Home) -> None:
    page = _page(browser)
    _sign_in(page, live.url)
    page.goto(live.url + "/profiles/child")
    page.locator("input[name=block_threshold]").fill("70")
    page.locator("textarea[name=deny_domains]").fill("games.example")
    page.locator("#profile-form > button[type=submit]").click()
    expect(page.locator("[role=status]")).to_contain_text("Saved")
    text = home.config.read_text(encoding="utf-8")
    assert "block_threshold: 70" in text and "games.example" in text
    assert Path(str(home.config) + ".bak").exists()
    # A bad edit: refused with the config's own message; the file stays.
    page.locator("input[name=curfew]").fill("25:00-06:00")
    page.locator("#profile-form > button[type=submit]").click()
    expect(page.locator("#error")).to_contain_text("curfew")
    assert home.config.read_text(encoding="utf-8") == text


def test_chinese_on_a_phone(browser: Browser, live: LiveServer, home: Home) -> None:
    home.events(blocked())
    ctx = browser.new_context(
        locale="zh-CN",
        extra_http_headers={"accept-language": "zh-CN,zh;q=0.9"},
        viewport={"width": 390, "height": 844},
        is_mobile=True,
    )
    page = ctx.new_page()
    page.goto(live.url + "/signin")
    expect(page.locator("h1")).to_have_text("登录")
    page.locator("input[name=user]").fill("mum")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form[action='/signin'] button").click()
    expect(page.locator(".total.block span")).to_have_text("拦截")
    expect(page.locator("#table-categories")).to_contain_text("赌博")
    # Nothing wider than the phone's screen.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390
    ctx.close()
