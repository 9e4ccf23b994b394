"""Take the manual's screenshot of the dashboard's overview page.

    python scripts/screenshot_dashboard.py [-o docs/img/dashboard-overview.png]

Builds a dashboard as the tests do (a config, an event log written by the real
EventStore, one admin account), serves it with uvicorn exactly as the proxy does, signs
in with Debian's Chromium through Playwright and saves the overview page as a PNG.
The events are made up: a few days of blocked and masked pages of three devices.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from qinglang.dashboard import accounts
from qinglang.dashboard.app import create_app
from qinglang.dashboard.server import serve
from qinglang.dashboard.settings import Settings
from qinglang.store import dashdb
from qinglang.store.events import Event, EventStore

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from headless import launch  # noqa: E402

PASSWORD = "correct horse battery"
CONFIG = """\
lists: [{lists}]
profiles:
  child:
    block_threshold: 100
    daily_minutes: 60
  teen:
    block_threshold: 150
    daily_minutes: 120
  parent:
    filter: false
clients:
  - {{match: 192.168.1.10, profile: parent}}
  - {{match: 192.168.1.23, profile: child}}
  - {{match: 192.168.1.24, profile: teen}}
default_profile: child
"""

SITES = [
    ("casino.example", "block", "keywords", {"gambling": 180}, ("网络赌场", "百家乐")),
    ("games.example", "mask", "keywords", {"consumption": 40}, ("十连抽",)),
    ("forum.example", "mask", "keywords", {"vulgar": 30}, ("傻逼",)),
    ("video.example", "block", "keywords", {"porn": 120}, ("裸聊", "约炮")),
    ("news.example", "mask", "personal information exposure", {}, ("pii:cn_mobile",)),
    ("vpn.example", "block", "proxies_vpn", {}, ()),
    ("play.example", "block", "curfew", {}, ()),
]


def fill(events_db: Path) -> None:
    rnd = random.Random(3)
    store = EventStore(events_db, 30, flush_seconds=0.02)
    now = time.time()
    for _ in range(240):
        host, action, reason, cats, terms = rnd.choice(SITES)
        client, profile = rnd.choice((("192.168.1.23", "child"), ("192.168.1.24", "teen")))
        store.record(
            Event(
                client=client,
                profile=profile,
                host=host,
                path="/page",
                action=action,
                reason=reason,
                categories=cats,
                score=sum(cats.values()),
                decided_by=terms,
                ts=now - rnd.random() * 7 * 86400,
            )
        )
    assert store.flush()
    store.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--output", default=str(ROOT / "docs/img/dashboard-overview.png"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="qinglang-shot-"))
    config = tmp / "qinglang.yaml"
    config.write_text(CONFIG.format(lists=ROOT / "blocklists"), encoding="utf-8")
    settings = Settings(
        config_path=config,
        events_db=tmp / "events.sqlite",
        state_db=tmp / "dashboard.sqlite",
        secret_key_file=tmp / "dashboard.key",
        quota_db=tmp / "quota.sqlite",
    )
    conn = dashdb.connect(settings.state_db)
    accounts.set_password(conn, "mum", PASSWORD)
    conn.close()
    fill(settings.events_db)

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    fut = asyncio.run_coroutine_threadsafe(serve(create_app(settings), "127.0.0.1", 0), loop)
    server, _task = fut.result(20)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    with sync_playwright() as p:
        browser = launch(p)
        ctx = browser.new_context(
            locale="en-US",
            extra_http_headers={"accept-language": "en-US"},
            viewport={"width": 1100, "height": 900},
        )
        page = ctx.new_page()
        page.goto(url + "/signin")
        page.locator("input[name=user]").fill("mum")
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form[action='/signin'] button").click()
        page.wait_for_url(url + "/")
        page.screenshot(path=args.output, full_page=False)
        browser.close()
    server.should_exit = True
    print(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
