"""The parents' dashboard with the proxy, through a real mitmdump: a child's blocked page
offers "ask for access", the child asks, a parent signs in to the dashboard and grants
this site, and the child's next request passes (also with the child in a headless
Chromium set to use the proxy, granted this page); the time-up page's "ask for more time"
lifts the curfew once granted; a profile edited in the dashboard is applied by the
proxy's reload; the child reaches the dashboard neither directly nor through the
proxy; and a proxy run without its dashboard offers no "ask" links.

The proxy's clock is the real time here (overrides expire in real time); the curfew of
the teen profile is put around it.
"""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from headless import launch
from playwright.sync_api import expect, sync_playwright

from qinglang.dashboard import accounts
from qinglang.store import dashdb as db

from .conftest import Proxy, free_port
from .upstream import Upstream
from .youth_support import EN, UPSTREAM_PAGE, World, eventually, youth_world

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CHILD, ADULT, TEEN = "127.0.0.1", "127.0.0.2", "127.0.0.3"
SIBLING = "127.0.0.4"  # the default profile, child
PASSWORD = "correct horse battery"
TZ = ZoneInfo("Asia/Shanghai")
CONFIG = """
    lists: [lists]
    profiles:
      child:
        deny_domains: [games.example.test, chat.example.test]
      adult:
        filter: false
      teen:
        timezone: Asia/Shanghai
        curfew: ["{curfew}"]
    clients:
      - {{match: 127.0.0.2, profile: adult}}
      - {{match: 127.0.0.3, profile: teen}}
    default_profile: child
    events: {{db: events.sqlite}}
    dashboard:
      listen: 127.0.0.1:{port}
      admin_networks: ["::1/128"]   # the child's 127.0.0.1 is not the parent's machine
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, int]]:
    port = free_port()
    hour = datetime.now(TZ).hour
    curfew = f"{(hour - 1) % 24:02d}:00-{(hour + 2) % 24:02d}:00"  # now is in it
    home = tmp_path_factory.mktemp("dashboard-flow")
    with youth_world(home, CONFIG.format(port=port, curfew=curfew)) as w:
        w.clock.set(datetime.now(TZ).isoformat())
        conn = db.connect(w.proxy.confdir / "qinglang-dashboard.sqlite")
        accounts.set_password(conn, "mum", PASSWORD)
        conn.close()
        eventually(lambda: "qinglang: dashboard on" in w.proxy.log(), "the dashboard listening")
        yield w, port


def _direct(source: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(transport=transport, timeout=20, follow_redirects=True)


def _csrf(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, page[:500]
    return m.group(1)


def _href(page: str, contains: str) -> str:
    for href in re.findall(r'href="([^"]+)"', page):
        href = html.unescape(href)
        if contains in href:
            return href
    raise AssertionError(f"no link with {contains!r} in:\n{page[:2000]}")


class _Form(HTMLParser):
    """The values a browser would send for the page's form (checked boxes, selected
    options, text areas), so an edit changes one field and keeps the others."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._area: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name", "")
        if tag == "input" and name:
            if a.get("type") != "checkbox" or "checked" in a:
                self.values[name] = a.get("value", "on" if a.get("type") == "checkbox" else "")
        elif tag == "select":
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._area = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._area = None

    def handle_data(self, data: str) -> None:
        if self._area:
            self.values[self._area] += data


@contextmanager
def _signed_in(port: int) -> Iterator[httpx.Client]:
    """The parent's device (an unfiltered profile), signed in to the dashboard."""
    transport = httpx.HTTPTransport(local_address=ADULT)
    with httpx.Client(
        transport=transport,
        timeout=20,
        follow_redirects=True,
        base_url=f"http://127.0.0.1:{port}",
        headers={"accept-language": "en"},
    ) as c:
        _sign_in(c)
        yield c


def _sign_in(c: httpx.Client) -> None:
    page = c.get("/signin").text
    r = c.post("/signin", data={"csrf": _csrf(page), "user": "mum", "password": PASSWORD})
    assert r.status_code == 200 and "signin" not in str(r.url), r.text[:500]


def _ask_through_the_proxy(child: httpx.Client, ask: str) -> None:
    # The block page's event reaches the event log in a moment (batched writes).
    form = eventually(
        lambda: (r := child.get(ask, headers=EN)).status_code == 200 and r, "the ask form"
    )
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.text))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    sent = child.post(ask.split("?", 1)[0], data={**fields, "message": "homework"}, headers=EN)
    assert sent.status_code == 200 and "request was sent" in sent.text


def _grant(parent: httpx.Client, host: str, choice: str) -> None:
    page = parent.get("/asks").text
    assert host in page
    ask_id = re.findall(r'id="ask-(\d+)"', page)[0]
    r = parent.post(f"/asks/{ask_id}", data={"csrf": _csrf(page), "choice": choice})
    assert r.status_code == 200 and "next request will pass" in r.text


def test_child_asks_parent_grants_this_site(world: tuple[World, int]) -> None:
    w, port = world
    with w.proxy.client(CHILD) as child:
        blocked = child.get("https://games.example.test/play", headers=EN)
        assert blocked.status_code == 403
        ask = _href(blocked.text, "qinglang.home.arpa/ask?event=")
        assert "kind=mistake" in _href(blocked.text, "qinglang.home.arpa/report")
        _ask_through_the_proxy(child, ask)
        with _signed_in(port) as parent:
            _grant(parent, "games.example.test", "site-hour")
        # This site, other pages and subdomains included, now passes; others do not.
        assert child.get("https://games.example.test/play", headers=EN).content == UPSTREAM_PAGE
        assert child.get("https://www.games.example.test/x", headers=EN).status_code == 200
    with w.proxy.client(SIBLING) as other:  # another child's device: not granted
        other_page = other.get("https://games.example.test/play", headers=EN)
        assert other_page.status_code == 403 and "qinglang.home.arpa/ask" in other_page.text


def _event_recorded(w: World, host: str) -> bool:
    conn = sqlite3.connect(w.proxy.events_db)
    try:
        return conn.execute("SELECT 1 FROM events WHERE host = ?", (host,)).fetchone() is not None
    except sqlite3.OperationalError:  # the table comes with the first write
        return False
    finally:
        conn.close()


def test_child_asks_in_chromium(world: tuple[World, int]) -> None:
    """The child's side in a real headless Chromium set to use the proxy: the block page,
    its link, the form; the parent answers from their own device."""
    w, port = world
    with sync_playwright() as p:
        browser = launch(p, f"--proxy-server=http://127.0.0.1:{w.proxy.port}")
        try:
            ctx = browser.new_context(
                ignore_https_errors=True,  # the proxy's test CA is not in this profile
                locale="en-US",
                extra_http_headers={"accept-language": "en-US"},
            )
            page = ctx.new_page()
            r = page.goto("https://chat.example.test/room")
            assert r is not None and r.status == 403
            eventually(lambda: _event_recorded(w, "chat.example.test"), "the block event")
            page.get_by_role("link", name="Ask a parent for access").first.click()
            page.locator("textarea[name=message]").fill("for school")
            page.locator("form[action='/ask'] button").click()
            expect(page.locator("h1")).to_contain_text("request was sent")
            with _signed_in(port) as parent:
                _grant(parent, "chat.example.test", "page-hour")
            page.goto("https://chat.example.test/room")
            expect(page.locator("body")).to_contain_text("upstream page")
            # This page only: another page of the site is still blocked.
            r = page.goto("https://chat.example.test/other")
            assert r is not None and r.status == 403
        finally:
            browser.close()


def test_time_up_page_asks_for_more_time(world: tuple[World, int]) -> None:
    w, port = world
    with w.proxy.client(TEEN) as teen:
        up = teen.get("https://school.example.test/work", headers=EN)
        assert up.status_code == 403 and "rest time" in up.text
        ask = _href(up.text, "qinglang.home.arpa/ask?kind=time")
        _ask_through_the_proxy(teen, ask)
        with _signed_in(port) as parent:
            _grant(parent, "school.example.test", "minutes-30")
        assert teen.get("https://school.example.test/work", headers=EN).content == UPSTREAM_PAGE
    # Half an hour on, the curfew is back.
    w.clock.set((datetime.now(TZ) + timedelta(minutes=31)).isoformat())
    try:
        with w.proxy.client(TEEN) as teen:
            assert teen.get("https://school.example.test/work", headers=EN).status_code == 403
    finally:
        w.clock.set(datetime.now(TZ).isoformat())


def test_profile_edit_in_the_dashboard_is_applied_by_the_proxy(world: tuple[World, int]) -> None:
    w, port = world
    with w.proxy.client(CHILD) as child:
        assert child.get("https://video.example.test/", headers=EN).content == UPSTREAM_PAGE
        with _signed_in(port) as parent:
            form = _Form()
            form.feed(parent.get("/profiles/child").text)
            values = form.values
            values["deny_domains"] = values.get("deny_domains", "").strip() + "\nvideo.example.test"
            r = parent.post("/profiles/child", data=values)
            assert r.status_code == 200 and "Saved" in r.text, r.text[:1000]
        assert "video.example.test" in Path(w.proxy.config).read_text(encoding="utf-8")
        eventually(
            lambda: child.get("https://video.example.test/", headers=EN).status_code == 403,
            "the proxy applying the edited profile",
        )


def test_child_cannot_reach_the_dashboard(world: tuple[World, int]) -> None:
    w, port = world
    with _direct(CHILD) as c:  # a filtered device, addressing it directly
        r = c.get(f"http://127.0.0.1:{port}/signin")
        assert r.status_code == 403 and 'name="password"' not in r.text
    with w.proxy.client(CHILD) as c:  # ... and through the proxy, by address or name
        for url in (f"http://127.0.0.1:{port}/signin", f"http://localhost:{port}/signin"):
            r = c.get(url)
            assert r.status_code == 403 and 'name="password"' not in r.text, url
    with _direct(ADULT) as c:  # the parent's device
        assert 'name="password"' in c.get(f"http://127.0.0.1:{port}/signin").text


def test_a_childs_browser_gets_the_page_for_parents(world: tuple[World, int]) -> None:
    """Issue 23 item 10: a child's Chromium, through the proxy, at the dashboard's address
    gets a page saying it is for parents, not the proxy's "502 Connection killed"."""
    from headless import launch
    from playwright.sync_api import sync_playwright

    w, port = world
    with sync_playwright() as pw:
        browser = launch(pw, "--proxy-bypass-list=<-loopback>",
                         proxy=f"http://127.0.0.1:{w.proxy.port}")  # fmt: skip
        try:
            page = browser.new_context(locale="zh-CN").new_page()
            page.goto(f"http://127.0.0.1:{port}/signin")
            text = page.locator("main").inner_text()
            html_text = page.content()
        finally:
            browser.close()
    assert "这个页面是给家长用的" in text and "请家长允许" in text
    assert "This page is for parents" in text  # the other language below
    assert "502" not in text and "killed" not in text.lower()
    assert 'name="password"' not in html_text


def test_without_the_dashboard_the_pages_offer_no_asks(
    fresh_proxy: Proxy, upstream: Upstream
) -> None:
    fresh_proxy.extra = ["--set", "qinglang_dashboard=off"]
    fresh_proxy.start()
    with fresh_proxy.client(CHILD) as c:
        r = c.get(upstream.url("/block.html"), headers=EN)
    assert r.status_code == 403 and "event" in r.text.lower()
    assert "qinglang.home.arpa/ask" not in r.text
    assert "dashboard on" not in fresh_proxy.log()
