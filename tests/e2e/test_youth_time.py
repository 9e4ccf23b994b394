"""Time rules through a real mitmdump with a clock the test moves: curfew, daily minutes,
category schedules, the age presets and the rest reminder.

All times are Beijing time. 2025-06-04 is a Wednesday; 06-05 Thursday, 06-06 Friday,
06-07 Saturday. Each profile has its own client address, so the tests do not share
counted minutes.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from .youth_support import (
    API,
    EN,
    FRAME,
    IMAGE,
    PREFETCH,
    UPSTREAM_PAGE,
    ZH,
    World,
    events,
    eventually,
    quota_minutes,
    youth_world,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CHILD, COUNTED, GAMER, RESTING, PRESET = (
    "127.0.0.1",
    "127.0.0.4",
    "127.0.0.5",
    "127.0.0.6",
    "127.0.0.7",
)

CONFIG = """
    lists: [lists]
    profiles:
      child:
        timezone: Asia/Shanghai
        curfew: ["21:00-07:00"]
        always_allowed: [school.example.test]
        passthrough_hosts: [bank.example.test]
      counted:
        timezone: Asia/Shanghai
        daily_minutes: 3
        quota_reset: "04:00"
        always_allowed: [school.example.test]
      gamer:
        timezone: Asia/Shanghai
        category_schedules:
          games:
            days: [weekends]
            windows: ["10:00-12:00", "19:00-20:00"]
      resting:
        timezone: Asia/Shanghai
        rest_reminder: 2
      preset:
        age: 10
        timezone: Asia/Shanghai
    clients:
      - {match: 127.0.0.4, profile: counted}
      - {match: 127.0.0.5, profile: gamer}
      - {match: 127.0.0.6, profile: resting}
      - {match: 127.0.0.7, profile: preset}
    default_profile: child
    events: {db: events.sqlite}
    quota: {db: minutes/quota.sqlite}
"""
QUOTA_DB = "minutes/quota.sqlite"
DOMAINS = {"games": ["games.example.test"]}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "youth-mode.md"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with youth_world(tmp_path_factory.mktemp("youth-time"), CONFIG, DOMAINS) as w:
        yield w


def test_curfew_page_says_when_access_returns(world: World) -> None:
    proxy, clock = world.proxy, world.clock
    with proxy.client(CHILD) as c:
        clock.set("2025-06-04T20:59:00+08:00")
        ok = c.get("https://www.example.test/", headers=ZH)
        assert ok.status_code == 200 and ok.content == UPSTREAM_PAGE

        clock.set("2025-06-04T21:30:00+08:00")
        before = world.upstream.count("www.example.test")
        zh = c.get("https://www.example.test/news?id=1", headers=ZH)
        assert zh.status_code == 403
        assert zh.headers["content-type"].startswith("text/html")
        assert "休息时间到了" in zh.text and "明天 07:00" in zh.text

        en = c.get("http://www.example.test/", headers=EN)
        assert en.status_code == 403
        assert "rest time" in en.text and "tomorrow at 07:00" in en.text
        assert world.upstream.count("www.example.test") == before  # nothing went out

        # After midnight the same curfew ends "today".
        clock.set("2025-06-05T01:10:00+08:00")
        assert "今天 07:00" in c.get("https://www.example.test/", headers=ZH).text

        clock.set("2025-06-05T07:00:00+08:00")
        assert c.get("https://www.example.test/", headers=ZH).status_code == 200

    found = eventually(
        lambda: events(proxy, reason="curfew", host="www.example.test"), "a curfew event"
    )
    assert found[0]["action"] == "block" and found[0]["path"] == "/news"  # no query string


def test_api_calls_during_curfew_get_403_json(world: World) -> None:
    world.clock.set("2025-06-04T23:00:00+08:00")
    with world.proxy.client(CHILD) as c:
        r = c.get("https://api.example.test/v1/feed", headers=API)
        assert r.status_code == 403
        assert r.headers["content-type"].startswith("application/json")
        assert r.json() == {
            "error": "time_up",
            "reason": "curfew",
            "category": None,
            "returns_at": "2025-06-05T07:00:00+08:00",
        }
        img = c.get("https://img.example.test/cat.png", headers=IMAGE)  # everything stops
        assert img.status_code == 403 and json.loads(img.text)["reason"] == "curfew"


def test_always_allowed_sites_work_during_curfew(world: World) -> None:
    world.clock.set("2025-06-04T23:00:00+08:00")
    with world.proxy.client(CHILD) as c:
        for url in (
            "https://school.example.test/homework",
            "https://www.school.example.test/",  # subdomains too
            "http://school.example.test/api",
        ):
            r = c.get(url, headers=ZH)
            assert r.status_code == 200 and r.content == UPSTREAM_PAGE, url
        assert c.get("https://notschool.example.test/", headers=ZH).status_code == 403


def _issuer(world: World, host: str, connect: str | None = None) -> tuple[str, bytes]:
    """CONNECT to ``connect`` (default ``host``) from the child, TLS to ``host`` without
    checking the certificate, one GET: (issuer CN, reply)."""
    proxy = world.proxy
    target = connect or host
    with socket.create_connection(("127.0.0.1", proxy.port), 20, (CHILD, 0)) as s:
        s.sendall(f"CONNECT {target}:443 HTTP/1.1\r\nHost: {target}:443\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += s.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # only looking at who signed the certificate
        with ctx.wrap_socket(s, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
            tls.sendall(
                f"GET / HTTP/1.1\r\nHost: {host}\r\nAccept: text/html\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    assert der
    cert = x509.load_der_x509_certificate(der)
    return str(cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value), data


def test_pass_through_host_is_intercepted_when_time_is_up(world: World) -> None:
    # By day the bank app's TLS goes through untouched (its own certificate) ...
    world.clock.set("2025-06-04T12:00:00+08:00")
    issuer, data = _issuer(world, "bank.example.test")
    assert issuer == "qinglang test upstream" and data.endswith(UPSTREAM_PAGE)
    # The bank's name in the TLS hello does not open an unfiltered tunnel to another site.
    issuer, _ = _issuer(world, "bank.example.test", connect="www.example.test")
    assert issuer == "mitmproxy"
    # ... during the curfew it is intercepted, so the request can be answered.
    world.clock.set("2025-06-04T22:00:00+08:00")
    issuer, data = _issuer(world, "bank.example.test")
    assert issuer == "mitmproxy"
    assert data.startswith(b"HTTP/1.1 403") and "休息时间到了".encode() in data


def test_daily_minutes_count_page_loads_only_and_survive_a_restart(world: World) -> None:
    proxy, clock = world.proxy, world.clock
    url = "https://www.example.test/"
    with proxy.client(COUNTED) as c:
        clock.set("2025-06-04T10:00:10+08:00")
        assert c.get(url, headers=ZH).status_code == 200
        assert c.get(url + "more", headers=ZH).status_code == 200  # same minute
        assert quota_minutes(proxy, COUNTED, QUOTA_DB) == 1

        # Background traffic uses no minutes: API polling, images, frames, prefetches,
        # and pages of always-allowed sites.
        clock.set("2025-06-04T10:01:00+08:00")
        for headers, path in ((API, "api"), (IMAGE, "a.png"), (FRAME, "ad"), (PREFETCH, "p")):
            assert c.get(url + path, headers=headers).status_code == 200
        assert c.get("https://school.example.test/", headers=ZH).status_code == 200
        assert quota_minutes(proxy, COUNTED, QUOTA_DB) == 1

        clock.set("2025-06-04T10:02:00+08:00")
        assert c.get(url, headers=ZH).status_code == 200
        clock.set("2025-06-04T10:03:00+08:00")
        # Video counts every minute it plays.
        assert c.get("https://video.example.test/live/seg1.ts", headers=API).status_code == 200
        assert quota_minutes(proxy, COUNTED, QUOTA_DB) == 3
        # The last minute may finish: a page opened in it still loads.
        assert c.get(url, headers=ZH).status_code == 200

        clock.set("2025-06-04T10:04:00+08:00")
        page = c.get(url, headers=ZH)
        assert page.status_code == 403
        assert "今天的上网时间用完了" in page.text and "明天 04:00" in page.text
        en = c.get(url, headers=EN)
        assert "time is used up" in en.text and "tomorrow at 04:00" in en.text
        api = c.get(url + "api", headers=API)
        assert api.status_code == 403
        assert api.json()["reason"] == "quota"
        assert api.json()["returns_at"] == "2025-06-05T04:00:00+08:00"
        # School still works after the minutes are gone.
        assert c.get("https://school.example.test/", headers=ZH).status_code == 200
        assert quota_minutes(proxy, COUNTED, QUOTA_DB) == 3

    world.restart()

    with proxy.client(COUNTED) as c:
        clock.set("2025-06-04T18:30:00+08:00")
        assert c.get(url, headers=ZH).status_code == 403  # the minutes were kept
        clock.set("2025-06-05T03:59:00+08:00")  # the day ends at quota_reset, not midnight
        assert "今天 04:00" in c.get(url, headers=ZH).text
        clock.set("2025-06-05T04:00:00+08:00")
        assert c.get(url, headers=ZH).status_code == 200
        assert quota_minutes(proxy, COUNTED, QUOTA_DB) == 4


def test_games_only_in_their_weekend_windows(world: World) -> None:
    clock = world.clock
    game = "https://games.example.test/play"
    with world.proxy.client(GAMER) as c:
        clock.set("2025-06-07T10:30:00+08:00")  # Saturday, in the window
        assert c.get(game, headers=ZH).status_code == 200
        assert c.get("https://www.games.example.test/", headers=ZH).status_code == 200

        clock.set("2025-06-07T13:00:00+08:00")  # Saturday, between the windows
        r = c.get(game, headers=ZH)
        assert r.status_code == 403
        assert "现在还不能打开" in r.text and "今天 19:00" in r.text
        assert "类别: 游戏" in r.text  # the category in the reader's language
        assert "today at 19:00" in c.get(game, headers=EN).text
        api = c.get(game, headers=API).json()
        assert (api["reason"], api["category"]) == ("schedule", "games")

        clock.set("2025-06-04T10:30:00+08:00")  # Wednesday: next Saturday morning
        assert "周六 10:00" in c.get(game, headers=ZH).text
        # Other sites are not affected by the games schedule.
        assert c.get("https://www.example.test/", headers=ZH).status_code == 200


def test_age_preset_gives_the_national_curfew_and_games_hours(world: World) -> None:
    # age: 10 -> curfew 22:00-06:00 (CAC guideline 2024) and games on Friday, Saturday,
    # Sunday and holidays 20:00-21:00 (NPPA 2021).
    clock = world.clock
    game = "https://games.example.test/"
    with world.proxy.client(PRESET) as c:
        clock.set("2025-06-05T20:30:00+08:00")  # Thursday
        r = c.get(game, headers=ZH)
        assert r.status_code == 403 and "明天 20:00" in r.text
        clock.set("2025-06-06T20:30:00+08:00")  # Friday
        assert c.get(game, headers=ZH).status_code == 200
        clock.set("2025-06-06T22:30:00+08:00")
        r = c.get("https://www.example.test/", headers=ZH)
        assert r.status_code == 403 and "休息时间到了" in r.text and "明天 06:00" in r.text


def test_rest_reminder_after_continuous_use(world: World) -> None:
    clock = world.clock
    url = "https://www.example.test/reading"
    with world.proxy.client(RESTING) as c:
        clock.set("2025-06-04T09:00:00+08:00")
        assert c.get(url, headers=ZH).content == UPSTREAM_PAGE
        clock.set("2025-06-04T09:01:00+08:00")
        r = c.get(url, headers=ZH)
        assert r.status_code == 200 and r.headers["x-qinglang"] == "rest-reminder"
        assert "休息一下吧" in r.text and "连续使用了 2 分钟" in r.text
        assert '<meta http-equiv="refresh" content="20">' in r.text
        # The page reloads itself: that load goes through.
        assert c.get(url, headers=ZH).content == UPSTREAM_PAGE
        # API calls never get the reminder.
        clock.set("2025-06-04T09:05:00+08:00")
        assert c.get(url, headers=API).content == UPSTREAM_PAGE


def parents_example() -> str:
    """The curfew-and-games setup that the manual (docs/youth-mode.md) walks a parent through."""
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    return next(b for b in blocks if b.startswith("profiles:") and "category_schedules" in b)


def test_the_parents_setup_from_the_docs_does_what_the_docs_say(tmp_path: Path) -> None:
    # The example as a parent would paste it; only where the lists and the log live is added.
    config = "lists: [lists]\nevents: {db: events.sqlite}\n" + parents_example()
    with youth_world(tmp_path, config) as w, w.proxy.client(CHILD) as c:
        site, game = "https://www.example.test/", "https://www.roblox.com/games"
        w.clock.set("2025-06-05T20:30:00+08:00")  # Thursday evening
        assert c.get(site, headers=ZH).status_code == 200
        w.clock.set("2025-06-05T21:30:00+08:00")  # a school night: curfew from 21:00
        r = c.get(site, headers=ZH)
        assert r.status_code == 403 and "休息时间到了" in r.text and "明天 07:00" in r.text
        assert c.get("https://www.smartedu.cn/", headers=ZH).status_code == 200
        assert c.get("https://www.amap.com/", headers=ZH).status_code == 200
        w.clock.set("2025-06-06T21:30:00+08:00")  # Friday night is later
        assert c.get(site, headers=ZH).status_code == 200
        w.clock.set("2025-06-07T10:30:00+08:00")  # Saturday, in the games window
        assert c.get(game, headers=ZH).status_code == 200
        w.clock.set("2025-06-07T13:00:00+08:00")
        r = c.get(game, headers=ZH)
        assert r.status_code == 403 and "今天 19:00" in r.text
        assert c.get(site, headers=ZH).status_code == 200  # other sites stay open
        w.clock.set("2025-06-08T07:30:00+08:00")  # Sunday morning, after Saturday night
        assert "今天 08:00" in c.get(site, headers=ZH).text
