"""The daily quota: what counts as an active minute, and a real SQLite file that
survives reopening, resets at the configured time and ignores background traffic."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from qinglang.policy import timerules as tr
from qinglang.policy.config import Profile
from qinglang.policy.presets import resolve
from qinglang.policy.quota import Activity, QuotaTracker, classify
from qinglang.store.quota import SqliteQuotaStore

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 6, 2, 18, 0, tzinfo=SH)  # a Monday evening

# Headers as the browsers send them.
CHROME_NAV = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Site": "none",
    "Sec-Fetch-User": "?1",
    "Upgrade-Insecure-Requests": "1",
}
XHR = {"Accept": "application/json", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors"}
IMAGE = {
    "Accept": "image/avif,image/webp,*/*",
    "Sec-Fetch-Dest": "image",
    "Sec-Fetch-Mode": "no-cors",
}
SCRIPT = {"Accept": "*/*", "Sec-Fetch-Dest": "script", "Sec-Fetch-Mode": "no-cors"}
BEACON = {"Accept": "*/*", "Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "no-cors"}
IFRAME = {"Accept": "text/html", "Sec-Fetch-Dest": "iframe", "Sec-Fetch-Mode": "navigate"}
PREFETCH = {**CHROME_NAV, "Sec-Purpose": "prefetch"}


@pytest.mark.parametrize(
    ("method", "path", "headers", "expected"),
    [
        ("GET", "/", CHROME_NAV, Activity.PAGE),
        ("POST", "/login", CHROME_NAV, Activity.PAGE),  # a form submission is a page load
        ("GET", "/api/poll", XHR, Activity.BACKGROUND),
        ("GET", "/logo.png", IMAGE, Activity.BACKGROUND),
        ("GET", "/app.js", SCRIPT, Activity.BACKGROUND),
        ("POST", "/collect", BEACON, Activity.BACKGROUND),
        ("GET", "/ad.html", IFRAME, Activity.BACKGROUND),
        ("GET", "/next", PREFETCH, Activity.BACKGROUND),
        ("GET", "/next", {**CHROME_NAV, "Purpose": "prefetch"}, Activity.BACKGROUND),
        # Plain-HTTP sites get no Sec-Fetch headers: Accept decides.
        ("GET", "/", {"Accept": "text/html,*/*;q=0.8"}, Activity.PAGE),
        ("GET", "/", {"accept": "application/xhtml+xml"}, Activity.PAGE),
        ("GET", "/data", {"Accept": "*/*"}, Activity.BACKGROUND),
        ("GET", "/", {}, Activity.BACKGROUND),
        (
            "GET",
            "/x",
            {"Accept": "text/html", "X-Requested-With": "XMLHttpRequest"},
            Activity.BACKGROUND,
        ),
        ("HEAD", "/", {"Accept": "text/html"}, Activity.BACKGROUND),
        # Video counts, however it is fetched.
        ("GET", "/v/seg-00042.m4s", XHR, Activity.MEDIA),
        ("GET", "/live/index.m3u8?token=1", {"Accept": "*/*"}, Activity.MEDIA),
        ("GET", "/videoplayback?id=1", XHR, Activity.MEDIA),
        ("GET", "/clip", {"Sec-Fetch-Dest": "video", "Sec-Fetch-Mode": "no-cors"}, Activity.MEDIA),
    ],
)
def test_what_counts_as_activity(
    method: str, path: str, headers: dict[str, str], expected: Activity
) -> None:
    assert classify(method, path, headers) is expected


def rules(**kw: object) -> tr.TimeRules:
    return resolve(Profile.model_validate({"timezone": "Asia/Shanghai", **kw})).time


def test_store_is_wal_sqlite_and_survives_reopening(tmp_path: Path) -> None:
    db = tmp_path / "quota.sqlite"
    r = rules(daily_minutes=60)
    store = SqliteQuotaStore(db)
    tracker = QuotaTracker(store)
    for m in range(3):
        tracker.note("10.0.0.5", "child", r, START + timedelta(minutes=m), Activity.PAGE)
    assert tracker.state("10.0.0.5", r, START + timedelta(minutes=3)).used == 3
    store.close()

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    again = QuotaTracker(SqliteQuotaStore(db))  # a restarted proxy
    assert again.state("10.0.0.5", r, START + timedelta(minutes=10)).used == 3
    assert again.state("10.0.0.6", r, START + timedelta(minutes=10)).used == 0
    again.store.close()


def test_a_minute_counts_once_and_background_never(tmp_path: Path) -> None:
    r = rules(daily_minutes=60)
    store = SqliteQuotaStore(tmp_path / "q.sqlite")
    t = QuotaTracker(store)
    client = "10.0.0.5"
    # A page with its images, scripts and API calls, all in one minute: one minute.
    for s in range(0, 50, 5):
        t.note(client, "child", r, START + timedelta(seconds=s), Activity.PAGE)
        t.note(client, "child", r, START + timedelta(seconds=s), Activity.BACKGROUND)
    # The open tab polls for an hour: nothing.
    for m in range(1, 61):
        t.note(client, "child", r, START + timedelta(minutes=m), Activity.BACKGROUND)
    state = t.state(client, r, START + timedelta(minutes=61))
    assert state.used == 1 and not state.counted_now
    # Watching video counts every minute it plays.
    for m in range(61, 71):
        t.note(client, "child", r, START + timedelta(minutes=m, seconds=30), Activity.MEDIA)
    assert t.state(client, r, START + timedelta(minutes=70, seconds=40)).used == 11
    assert t.state(client, r, START + timedelta(minutes=70, seconds=40)).counted_now
    store.close()


def test_usage_resets_at_the_configured_local_time(tmp_path: Path) -> None:
    r = rules(daily_minutes=60, quota_reset="04:00")
    store = SqliteQuotaStore(tmp_path / "q.sqlite")
    t = QuotaTracker(store)
    late = datetime(2025, 6, 3, 3, 55, tzinfo=SH)
    for m in range(5):  # 03:55 .. 03:59
        t.note("kid", "child", r, late + timedelta(minutes=m), Activity.PAGE)
    assert t.state("kid", r, datetime(2025, 6, 3, 3, 59, 30, tzinfo=SH)).used == 5
    assert t.state("kid", r, datetime(2025, 6, 3, 4, 0, tzinfo=SH)).used == 0
    t.note("kid", "child", r, datetime(2025, 6, 3, 4, 1, tzinfo=SH), Activity.PAGE)
    assert t.state("kid", r, datetime(2025, 6, 3, 4, 2, tzinfo=SH)).used == 1
    # Moving the reset applies at once: the rows are kept, the day is re-cut.
    r2 = rules(daily_minutes=60, quota_reset="00:00")
    fresh = QuotaTracker(store)
    assert fresh.state("kid", r2, datetime(2025, 6, 3, 4, 2, tzinfo=SH)).used == 6
    store.close()


def test_quota_runs_out_on_the_next_new_minute(tmp_path: Path) -> None:
    r = rules(daily_minutes=2)
    store = SqliteQuotaStore(tmp_path / "q.sqlite")
    t = QuotaTracker(store)
    for m in range(2):
        now = START + timedelta(minutes=m)
        assert tr.check_time(r, now, quota=t.state("kid", r, now)) is None
        t.note("kid", "child", r, now, Activity.PAGE)
    # Still inside the second counted minute: the page may finish loading.
    inside = START + timedelta(minutes=1, seconds=50)
    assert tr.check_time(r, inside, quota=t.state("kid", r, inside)) is None
    nxt = START + timedelta(minutes=2)
    verdict = tr.check_time(r, nxt, quota=t.state("kid", r, nxt))
    assert verdict == tr.TimeVerdict("quota", datetime(2025, 6, 3, 0, 0, tzinfo=SH))
    store.close()


def test_two_proxy_processes_share_one_file(tmp_path: Path) -> None:
    r = rules(daily_minutes=60)
    db = tmp_path / "q.sqlite"
    a, b = QuotaTracker(SqliteQuotaStore(db)), QuotaTracker(SqliteQuotaStore(db))
    a.note("kid", "child", r, START, Activity.PAGE)
    b.note("kid", "child", r, START + timedelta(minutes=1), Activity.PAGE)
    b.note("kid", "child", r, START + timedelta(minutes=1, seconds=5), Activity.PAGE)
    a.note("kid", "child", r, START + timedelta(minutes=2), Activity.PAGE)
    assert a.state("kid", r, START + timedelta(minutes=2)).used == 3
    a.store.close()
    b.store.close()


def test_rest_reminder_after_30_minutes_of_continuous_use(tmp_path: Path) -> None:
    r = rules(daily_minutes=120)
    store = SqliteQuotaStore(tmp_path / "q.sqlite")
    t = QuotaTracker(store)
    due = []
    for m in range(0, 40, 2):  # reading: a page every two minutes is one run of use
        now = START + timedelta(minutes=m)
        t.note("kid", "child", r, now, Activity.PAGE)
        due.append(t.reminder_due("kid", now, 30))
    assert due.count(True) == 1
    assert t.streak_minutes("kid", START + timedelta(minutes=38)) == 39
    # A 10-minute break ends the run; the next reminder needs another 30 minutes.
    back = START + timedelta(minutes=50)
    t.note("kid", "child", r, back, Activity.PAGE)
    assert t.streak_minutes("kid", back) == 1
    assert not t.reminder_due("kid", back, 30)
    # A restarted proxy picks the run up from the file.
    t2 = QuotaTracker(SqliteQuotaStore(tmp_path / "q.sqlite"))
    t2.state("kid", r, back)
    assert t2.streak_minutes("kid", back) == 1
    store.close()
    t2.store.close()


def test_old_rows_are_pruned(tmp_path: Path) -> None:
    store = SqliteQuotaStore(tmp_path / "q.sqlite", retention_days=2)
    base = int(START.timestamp()) // 60
    store.record_minute("kid", "child", base)
    store.record_minute("kid", "child", base + 3 * 1440)  # three days later
    assert store.recent_minutes("kid", 0) == [base + 3 * 1440]
    store.close()
