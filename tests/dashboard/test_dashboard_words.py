"""Issue 23, items 7-9, in a real headless Chromium: every page a parent or child reads in
Chinese has no internal key (reason, category, request kind, audit action, translation
key) and no ISO timestamp; the phone layout keeps its labels and whole words; chart
ticks are whole numbers; masked personal data has its row; the requests page says what
each answer does.

The keys are taken from the code (every ``Reason`` member, every category of the shipped
lists and of the request rules), so a new reason or category fails here until it is
translated."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import pytest
from headless import launch
from playwright.sync_api import Browser, Page, sync_playwright
from starlette.types import ASGIApp

from qinglang.dashboard import asks, childpages
from qinglang.dashboard.app import create_app
from qinglang.dashboard.labels import ISO_TIME
from qinglang.dashboard.server import serve
from qinglang.engine.lists import load_lists
from qinglang.engine.verdict import Action, Decision, Reason
from qinglang.pages import i18n, report, timeup
from qinglang.pages.blockpage import render_block
from qinglang.policy import urlrules
from qinglang.store import dashdb as db
from qinglang.store import keys
from qinglang.store.reports import Report, add_report

from .conftest import PASSWORD, ROOT, Home, blocked

PHONE = {"width": 360, "height": 780}
CATEGORIES = sorted(
    set(load_lists([ROOT / "blocklists"], use_cache=False).categories)
    | {urlrules.CAT_PAYMENTS, urlrules.CAT_DOH, urlrules.CAT_PROXIES_VPN, "pii"}
)
# Words the code stores and the pages must never show as they are, in Chinese.
INTERNAL = sorted(
    {r.value for r in Reason}
    | set(CATEGORIES)
    | {"block", "mask", "pass", "time", "mistake", "harmful", "open", "granted", "refused"}
    | {"signin", "ask.grant", "ask.refuse", "override.revoke", "report.dismiss"},
    key=len,
    reverse=True,
)
KEY_PREFIXES = sorted({k.split(".", 1)[0] for k in i18n.MESSAGES if "." in k})
TRANSLATION_KEY = re.compile(rf"\b(?:{'|'.join(KEY_PREFIXES)})\.[a-z0-9_.]+\b")


def untranslated(text: str) -> list[str]:
    """Internal keys and ISO times in a Chinese page's visible text."""
    found = [m.group(0) for m in ISO_TIME.finditer(text)]
    found += [m.group(0) for m in TRANSLATION_KEY.finditer(text)]
    for key in INTERNAL:
        # A key standing as a word: not part of a host, path, or longer name.
        m = re.search(rf"(?<![\w./:-]){re.escape(key)}(?![\w/-])", text)
        if m:
            found.append(f"{key!r} in …{text[max(0, m.start() - 30) : m.end() + 30]}…")
    return found


class Live:
    """An ASGI app on a uvicorn listener (as the proxy serves it), on a thread's loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(serve(app, "127.0.0.1", 0), self.loop)
        self.server, self.task = fut.result(20)
        self.url = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        asyncio.run_coroutine_threadsafe(asyncio.wait_for(self.task, 10), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _fill(home: Home) -> None:
    """One event per reason (categories in turn, all of them), asks of both kinds, a live
    "+30 min", reports of every kind, audit lines."""
    now = time.time()
    returns = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0).isoformat()
    events = []
    for i, r in enumerate(Reason):
        action = "pass" if r in (Reason.NOT_SCANNED, Reason.PASSTHROUGH) else "block"
        detail = f"time is up; access returns {returns}" if r == Reason.QUOTA else None
        cats = {CATEGORIES[i % len(CATEGORIES)]: 120}
        events.append(blocked(f"site{i}.example", reason=r.value, action=action, detail=detail,
                              categories=cats, ts=now - 60 - i))  # fmt: skip
    for i, c in enumerate(CATEGORIES):
        events.append(blocked(f"cat{i}.example", action="mask", categories={c: 40}, ts=now - 200))
    events.append(
        blocked(
            "people.example",
            action="mask",
            reason=Reason.PII.value,
            categories={"pii": 1},
            decided_by=("pii:cn_mobile",),
            score=0,
            ts=now - 300,
        )
    )
    home.events(*events)
    conn = db.connect(home.settings.state_db)
    key = keys.load_or_create(home.settings.secret_key_file)
    asks.create(conn, client="10.0.0.7", user=None, profile="child", kind="block",
                host="words.example", path="/story", now=now, reason=Reason.KEYWORDS.value,
                event_id=events[0].id)  # fmt: skip
    for reason in (Reason.QUOTA, Reason.CURFEW):
        asks.create(conn, client=f"10.0.0.{8 if reason == Reason.QUOTA else 9}", user=None,
                    profile="child", kind="time", host="school.example", path="/work",
                    now=now, reason=reason.value)  # fmt: skip
    granted = asks.create(conn, client="10.0.0.10", user=None, profile="child", kind="time",
                          host="school.example", path="/late", now=now,
                          reason=Reason.CURFEW.value)  # fmt: skip
    asks.grant(conn, key, granted, "minutes-30", by="mum", now=now, day_end=now + 6 * 3600)
    conn.close()
    for kind in ("mistake", "harmful", "pii"):
        add_report(home.events_db, Report("10.0.0.7", kind, f"http://{kind}.example/x",
                                          "10.0.0.7", ts=now))  # fmt: skip


@pytest.fixture
def live(home: Home) -> Iterator[Live]:
    _fill(home)
    server = Live(create_app(home.settings))
    yield server
    server.stop()


def _page(browser: Browser, lang: str, viewport: dict[str, int] | None = None) -> Page:
    locale = "zh-CN" if lang == "zh" else "en-US"
    ctx = browser.new_context(
        locale=locale, extra_http_headers={"accept-language": locale}, viewport=viewport
    )
    return ctx.new_page()


def _sign_in(page: Page, url: str) -> None:
    page.goto(url + "/signin")
    page.locator("input[name=user]").fill("mum")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form[action='/signin'] button").click()
    page.wait_for_url(url + "/")


def _crawl(page: Page, base: str, limit: int = 80) -> dict[str, str]:
    """Every dashboard page reachable by links from the overview: path -> visible text."""
    seen: dict[str, str] = {}
    todo = ["/", "/?period=7d", "/?period=30d"]
    while todo and len(seen) < limit:
        path = todo.pop(0)
        if path in seen:
            continue
        page.goto(base + path)
        seen[path] = page.locator("body").inner_text()
        for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
            u = urlsplit(urljoin(base + path, href))
            if f"{u.scheme}://{u.netloc}" != base or u.path.startswith("/static"):
                continue
            if u.path.endswith(".conf"):
                continue
            target = u.path + (f"?{u.query}" if u.query else "")
            if target not in seen and target not in todo:
                todo.append(target)
    return seen


def test_every_dashboard_page_in_chinese_has_no_key_and_no_iso_time(
    browser: Browser, live: Live
) -> None:
    page = _page(browser, "zh")
    _sign_in(page, live.url)
    pages = _crawl(page, live.url)
    # The crawl reached every kind of page, the event details among them.
    for must in ("/", "/events", "/asks", "/profiles", "/clients", "/reports", "/audit"):
        assert must in pages, sorted(pages)
    assert sum(p.startswith("/events/") for p in pages) >= len(Reason)
    problems = {p: bad for p, text in pages.items() if (bad := untranslated(text))}
    assert not problems, problems
    # The time-up event's detail: local and human, in Chinese.
    quota = next(t for p, t in pages.items() if p.startswith("/events/") and "恢复访问" in t)
    assert "时间已用完" in quota and not ISO_TIME.search(quota)
    assert "个人信息：手机号" in pages["/events"]


def test_the_childs_pages_in_chinese_have_no_key(browser: Browser, home: Home) -> None:
    """Block pages for every reason and category, time-up pages, the ask pages."""
    page = _page(browser, "zh")
    now = datetime.now(UTC)
    texts: dict[str, str] = {}
    for i, r in enumerate(Reason):
        cat = CATEGORIES[i % len(CATEGORIES)]
        page.set_content(render_block(Decision(Action.BLOCK, r, cat), "zh", "ABCDEFGHJK"))
        texts[f"block {r.value} {cat}"] = page.locator("main > :not(.other)").all_inner_texts()
    for c in CATEGORIES:
        page.set_content(render_block(Decision(Action.BLOCK, Reason.CATEGORY, c), "zh"))
        texts[f"block {c}"] = page.locator("main > :not(.other)").all_inner_texts()
        for reason in ("curfew", "quota", "schedule", "payments"):
            html = timeup.render_timeup(reason, now + timedelta(hours=2), now, "zh", category=c)
            page.set_content(html)
            texts[f"timeup {reason} {c}"] = [page.locator("body").inner_text()]
    key = keys.load_or_create(home.settings.secret_key_file)
    child = Live(childpages.create_child_app(home.settings.state_db, home.events_db, key,
                                             lambda ip, listener: "child"))  # fmt: skip
    try:
        page.goto(child.url + "/ask?kind=time&url=https%3A%2F%2Fschool.example%2Fwork")
        texts["ask time"] = [page.locator("body").inner_text()]
        assert page.title() == "请家长多给一些时间"
    finally:
        child.stop()
    problems = {k: bad for k, v in texts.items() if (bad := untranslated("\n".join(v)))}
    assert not problems, problems


def test_phone_layout_keeps_labels_and_whole_words(browser: Browser, live: Live) -> None:
    for lang in ("zh", "en"):
        page = _page(browser, lang, PHONE)
        _sign_in(page, live.url)
        for path in ("/", "/events", "/asks", "/reports", "/audit"):
            page.goto(live.url + path)
            # Stacked rows: every cell says which column it is (no bare "12 / 0").
            bare = page.eval_on_selector_all(
                "table.stack td",
                """tds => tds.filter(td => td.offsetParent !== null
                    && !td.querySelector('button, form')
                    && !(td.getAttribute('data-label') || '').trim()).map(td => td.outerHTML)""",
            )
            assert not bare, (lang, path, bare[:3])
            assert page.locator("table.stack thead").first.is_hidden()
    # The block page: a long address wraps, but no word is cut in two.
    page = _page(browser, "en", {"width": 320, "height": 700})
    long_url = "http://a-very-long-host-name-for-a-phone.example/" + "segment/" * 12
    page.set_content(render_block(Decision(Action.BLOCK, Reason.KEYWORDS, "consumption"), "en",
                                  "ABCDEFGHJK", long_url))  # fmt: skip
    split = page.evaluate(
        """() => {
        const out = [];
        const main = document.querySelector('main');
        const walk = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
        while (walk.nextNode()) {
          const node = walk.currentNode;
          for (const m of node.data.matchAll(/[A-Za-z]{2,}/g)) {
            const r = document.createRange();
            r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length);
            const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
            if (tops.size > 1 && !/^https?:/.test(node.data)) out.push(m[0]);
          }
        }
        return out;
    }"""
    )
    assert not split, split
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320  # the address wrapped instead of widening the page


def test_overview_counts_whole_numbers_and_masked_personal_data(
    browser: Browser, live: Live
) -> None:
    page = _page(browser, "zh")
    _sign_in(page, live.url)
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-categories')")
    for chart in ("chart-categories", "chart-hosts", "chart-clients"):
        values = page.evaluate(
            """id => { const c = Chart.getChart(id);
                 const axis = c.options.indexAxis === 'y' ? c.scales.x : c.scales.y;
                 return axis.ticks.map(t => t.value); }""",
            chart,
        )
        assert values and all(float(v).is_integer() for v in values), (chart, values)
    rows = page.locator("#table-categories tbody tr")
    cells = [rows.nth(i).locator("td") for i in range(rows.count())]
    masked = {c.nth(0).inner_text(): int(c.nth(2).inner_text()) for c in cells}
    assert masked.get("个人信息") == 2  # people.example and the per-category one
    # One masked event per category row here: the rows add up to the total.
    assert sum(masked.values()) == int(page.locator("#total-mask").inner_text())


def test_requests_page_says_what_each_answer_does(browser: Browser, live: Live, home: Home) -> None:
    page = _page(browser, "en")
    _sign_in(page, live.url)
    page.goto(live.url + "/asks")
    block_ask = page.locator("section.ask", has_text="words.example")
    assert block_ask.locator("button[value=minutes-30]").count() == 0  # not on a block
    assert block_ask.locator("button[value=site-hour]").count() == 1
    time_ask = page.locator("section.ask", has_text="10.0.0.8")
    assert time_ask.locator("button[value=minutes-30]").count() == 1
    assert "today's screen time is used up" in time_ask.inner_text()
    assert "rest time" in page.locator("section.ask", has_text="10.0.0.9").inner_text()
    live_row = page.locator("#overrides tr", has_text="10.0.0.10").inner_text()
    assert "all sites" in live_row and "30 more minutes today" in live_row
    assert "rest hours and schedules lifted until" in live_row
    assert "school.example" not in live_row
    # "+30 min" forged onto the block request is not granted.
    conn = db.connect(home.settings.state_db)
    block_id = next(a["id"] for a in asks.open_requests(conn) if a["kind"] == "block")
    conn.close()
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    r = page.request.post(f"{live.url}/asks/{block_id}",
                          form={"csrf": csrf or "", "choice": "minutes-30"})  # fmt: skip
    assert r.ok
    page.goto(live.url + "/asks")
    assert page.locator("section.ask", has_text="words.example").count() == 1  # still open


@pytest.mark.parametrize("kind", ["mistake", "harmful", "pii"])
def test_thank_you_page_fits_the_report(browser: Browser, kind: str) -> None:
    page = _page(browser, "en")
    page.set_content(report.render_page("saved", "en", "http://example.test/p", kind))
    text = page.locator("main").inner_text()
    assert "Thank you for your report" in text
    assert ("other people's personal information" in text) == (kind == "pii")
    assert ("blocked by mistake" in text) == (kind == "mistake")


def test_profile_form_shows_what_is_in_force_and_offers_age_presets(
    browser: Browser, live: Live, home: Home
) -> None:
    page = _page(browser, "en")
    _sign_in(page, live.url)
    page.goto(live.url + "/profiles/adult")
    # No grey example that looks like a limit: what is in force, "no limit" here.
    for field in ("daily_minutes", "curfew"):
        assert not page.locator(f"input[name={field}]").get_attribute("placeholder")
    assert "In force now: no limit (default)" in page.locator("#force-minutes").inner_text()
    assert "no rest hours (default)" in page.locator("#force-curfew").inner_text()
    page.goto(live.url + "/profiles/child")
    assert (
        "every day 60 min (this profile's setting)" in page.locator("#force-minutes").inner_text()
    )
    presets = page.locator("#age-presets").inner_text()
    assert "under 8" in presets and "rest hours every day 22:00-06:00" in presets
    assert "no payments" in presets
    # Enter in a field saves the form as written; it does not press a preset.
    page.locator("input[name=block_threshold]").press("Enter")
    page.wait_for_load_state()
    assert "age:" not in home.config.read_text(encoding="utf-8")
    page.locator("#age-presets button[value='7']").click()
    page.wait_for_load_state()
    assert "age: 7" in home.config.read_text(encoding="utf-8")
    page.goto(live.url + "/profiles/child")
    assert "every day 22:00-06:00 (from age 7)" in page.locator("#force-curfew").inner_text()
    # The profile's own daily minutes still win over the preset's.
    assert "60 min (this profile's setting)" in page.locator("#force-minutes").inner_text()
