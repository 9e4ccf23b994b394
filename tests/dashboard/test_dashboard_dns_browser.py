"""The DNS log and named devices in a real headless Chromium, against a real `qinglang run
--dns` with its dashboard: devices ask real DNS queries (dnspython, each from its own
loopback address), qinglang records them, a parent reads them by device name, filters
by device, blocks a site with one click, and the device's next query is blocked; an
unknown device shows up on the overview and is named there. In English on a desktop and
in Chinese on a phone.

127.0.0.1 is the parent's laptop (unfiltered: it may open the dashboard), 127.0.0.2
Mei's tablet, 127.0.0.3 the living-room TV, 127.0.0.4 a device nobody named yet.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e.conftest import free_port, stop_group
from e2e.dns_support import address_of, addresses, ask, dns_upstream, udp_port_free
from e2e.youth_support import eventually
from headless import launch
from playwright.sync_api import Browser, Page, expect, sync_playwright

from qinglang.dashboard import accounts
from qinglang.deploy import datadir
from qinglang.policy.config import load_config
from qinglang.store import dashdb as db

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

LAPTOP, TABLET, TV, NEW = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"
PASSWORD = "correct horse battery"
DEVICES = """\
devices:
  - {{name: mum-laptop, label: "Mum's laptop", ip: {laptop}, profile: parent}}
  - {{name: mei-tablet, label: "Mei's tablet", ip: {tablet}, profile: child}}
  - {{name: tv, label: "Living-room TV", ip: {tv}, profile: child}}
clients: []
"""
DNS = """
dns:
  upstreams: ["127.0.0.1:{upstream}"]
  log_interval: 0
"""


@dataclass
class Home:
    config: Path
    dns_port: int
    dashboard: str
    log: Path

    def in_events(self, host: str) -> bool:
        """qinglang recorded a query for ``host`` (events are written in batches)."""
        path = self.config.parent / "qinglang-events.sqlite"
        if not path.exists():
            return False
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return bool(conn.execute("SELECT 1 FROM events WHERE host = ?", (host,)).fetchone())
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    root = tmp_path_factory.mktemp("dnsdash") / "qinglang"
    d = datadir.resolve(str(root))
    datadir.ensure(d)
    conn = db.connect(root / "qinglang-dashboard.sqlite")
    accounts.set_password(conn, "mum", PASSWORD)
    conn.close()
    with dns_upstream() as (upstream, _zone):
        text = d.config.read_text("utf-8")
        assert "\nclients: []\n" in text
        text = text.replace(
            "\nclients: []\n", "\n" + DEVICES.format(laptop=LAPTOP, tablet=TABLET, tv=TV)
        )
        d.config.write_text(text + DNS.format(upstream=upstream), encoding="utf-8")
        dns_port, dash = udp_port_free(), free_port()
        log = root.parent / "run.log"
        with log.open("wb") as f:
            proc = subprocess.Popen(
                ["qinglang", "run", "--dns", f"127.0.0.1:{dns_port}",
                 "--listen-host", "127.0.0.1", "--listen-port", str(free_port()),
                 "--set", "qinglang_workers=0",
                 "--set", f"qinglang_dashboard=127.0.0.1:{dash}"],
                stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "QINGLANG_HOME": str(root)},
            )  # fmt: skip
        try:
            deadline = time.monotonic() + 40
            while "filtering proxy listening" not in log.read_text("utf-8", "replace"):
                assert proc.poll() is None, log.read_text("utf-8", "replace")
                assert time.monotonic() < deadline, log.read_text("utf-8", "replace")
                time.sleep(0.1)
            home = Home(d.config, dns_port, f"http://127.0.0.1:{dash}", log)
            # What the devices asked: the tablet a video app, the TV a streaming service,
            # the new device a news site.
            for name, source in [
                ("video-app.example", TABLET),
                ("homework.example", TABLET),
                ("tv-streaming.example", TV),
                ("news.example", NEW),
            ]:
                assert addresses(ask(dns_port, name, source=source)) == [address_of(name)]
            for name in ("video-app.example", "tv-streaming.example", "news.example"):
                eventually(lambda n=name: home.in_events(n), f"the DNS event for {name}")  # type: ignore[misc]
            yield home
        finally:
            stop_group(proc)
        out = log.read_text("utf-8", "replace")
        assert "Traceback" not in out and "Addon error" not in out, out[-4000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _signed_in(browser: Browser, url: str, locale: str, **kw: object) -> Page:
    ctx = browser.new_context(
        locale=locale,
        extra_http_headers={"accept-language": locale},
        **kw,  # type: ignore[arg-type]
    )
    page = ctx.new_page()
    page.goto(url + "/signin")
    page.locator("input[name=user]").fill("mum")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form[action='/signin'] button").click()
    expect(page).to_have_url(url + "/")
    return page


def _client_cells(page: Page) -> list[str]:
    return page.locator("#dns-log tbody tr td:nth-child(2)").all_inner_texts()


def test_dns_log_by_device_name_filter_and_block(browser: Browser, home: Home) -> None:
    page = _signed_in(browser, home.dashboard, "en-US")
    page.locator("a[href='/dns']").first.click()
    expect(page.locator("h1")).to_have_text("DNS query log")
    log = page.locator("#dns-log")
    expect(log).to_contain_text("video-app.example")
    cells = _client_cells(page)
    assert any("Mei's tablet" in c for c in cells) and any("Living-room TV" in c for c in cells)
    assert not any(TABLET in c or TV in c for c in cells)  # names, not addresses
    # The per-device filter lists the devices by name.
    page.locator("select[name=client]").select_option(label="Mei's tablet")
    page.locator("form.filters button[type=submit]").click()
    expect(log).to_contain_text("homework.example")
    expect(log).not_to_contain_text("tv-streaming.example")
    assert all("Mei's tablet" in c for c in _client_cells(page))
    # One click: block the video app for the tablet's profile.
    row = page.locator("#dns-log tbody tr", has_text="video-app.example").first
    row.get_by_role("button", name="Block this site").click()
    expect(page.locator("[role=status]")).to_contain_text("Blocked")
    assert "video-app.example" in load_config(home.config).profiles["child"].deny_domains
    row = page.locator("#dns-log tbody tr", has_text="video-app.example").first
    expect(row.get_by_role("button", name="Allow this site")).to_be_visible()
    expect(row.get_by_role("button", name="Block this site")).to_have_count(0)
    # The running proxy reloads the file by itself: the tablet's next query is blocked,
    # the parent's laptop still resolves it.
    eventually(
        lambda: addresses(ask(home.dns_port, "video-app.example", source=TABLET)) == ["0.0.0.0"],
        "the block in DNS",
    )
    assert addresses(ask(home.dns_port, "video-app.example", source=LAPTOP)) == [
        address_of("video-app.example")
    ]
    page.context.close()


def test_new_device_named_on_the_overview_then_everywhere(browser: Browser, home: Home) -> None:
    page = _signed_in(browser, home.dashboard, "en-US")
    new = page.locator("#new-devices")
    expect(new).to_contain_text(NEW)
    expect(new).not_to_contain_text(TABLET)  # named already
    form = new.locator("form", has_text=NEW)
    form.locator("input[name=label]").fill("Grandma's phone")
    form.locator("select[name=profile]").select_option("child")
    form.locator("button[type=submit]").click()
    expect(page.locator("#new-devices")).to_have_count(0)
    (device,) = [
        x for x in load_config(home.config).devices if x.ip is not None and str(x.ip) == NEW
    ]
    assert device.label == "Grandma's phone" and device.profile == "child"
    page.goto(home.dashboard + "/dns")
    expect(page.locator("#dns-log")).to_contain_text("Grandma's phone")
    assert not any(NEW in c for c in _client_cells(page))
    # The devices page lists every named device, its name editable, with its address.
    page.goto(home.dashboard + "/clients")
    for label, ip in [("Mei's tablet", TABLET), ("Living-room TV", TV), ("Grandma's phone", NEW)]:
        entry = page.locator("#devices-form fieldset", has_text=ip)
        expect(entry.get_by_label("Device name")).to_have_value(label)
    page.context.close()


def test_chinese_dns_log_on_a_phone(browser: Browser, home: Home) -> None:
    page = _signed_in(
        browser, home.dashboard, "zh-CN",
        viewport={"width": 390, "height": 844}, is_mobile=True,
    )  # fmt: skip
    page.goto(home.dashboard + "/dns")
    expect(page.locator("h1")).to_have_text("DNS 查询记录")
    row = page.locator("#dns-log tbody tr", has_text="tv-streaming.example").first
    expect(row).to_contain_text("Living-room TV")
    expect(row.get_by_role("button", name="拦截此网站")).to_be_visible()
    # Stacked rows: each cell says what it is ("设备: …", "网站: …"), the header row hidden.
    expect(page.locator("#dns-log thead")).to_be_hidden()
    labels = row.locator("td").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::before').content)"
    )
    for want in ("时间", "设备", "网站", "处理"):
        assert any(want in x for x in labels), labels
    box = row.locator("td").nth(1).bounding_box()
    assert box is not None and box["width"] > 200  # a readable width, not a squeezed column
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.context.close()
