"""The shared backends against real servers on 127.0.0.1: events in PostgreSQL, quota minutes
and overrides in Redis, URL redaction, and what happens when a server is down."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from qinglang.policy.quota import Activity, QuotaTracker, StateUnavailable
from qinglang.policy.timerules import TimeRules
from qinglang.store import events as sqlite_events
from qinglang.store import overrides as ov
from qinglang.store import pgevents, redisstate
from qinglang.store.backends import redact
from qinglang.store.events import Event

pytestmark = pytest.mark.timeout(120)


def _dead_port(services: Any) -> int:
    return int(services.free_port())  # nothing listens there


def test_redact_hides_passwords_in_every_form() -> None:
    assert redact("postgresql://q:s3cret@db:5432/q") == "postgresql://q:***@db:5432/q"
    assert redact("redis://:s3cret@r:6379/0") == "redis://:***@r:6379/0"
    assert redact("redis://r:6379/0") == "redis://r:6379/0"
    out = redact("postgresql://db/q?user=q&password=s3cret&sslmode=require")
    assert "s3cret" not in out and "sslmode=require" in out
    with pytest.raises(ValueError) as e:
        pgevents.store_url("mysql://q:s3cret@db/q")
    assert "s3cret" not in str(e.value) and "postgresql://" in str(e.value)


def test_events_land_in_postgresql_with_the_sqlite_columns(pg_server: Any, tmp_path: Path) -> None:
    url = pgevents.store_url(pg_server.url)
    store = pgevents.PgEventStore(url, 30, flush_seconds=0.05)
    ev = Event(
        client="10.1.2.3",
        user="pupil7",
        profile="child",
        host="casino.example",
        path="/play?token=abc",
        action="block",
        reason="keywords",
        categories={"gambling": 120},
        score=120,
        decided_by=("网络赌场",),
    )
    store.record(ev)
    assert store.flush(10)
    store.close()

    found = pgevents.lookup(url, ev.id.lower())  # as a parent types it from the block page
    assert found is not None
    assert found["path"] == "/play"  # never the query string
    assert found["categories"] == {"gambling": 120}
    assert found["decided_by"] == ["网络赌场"]
    assert found["user"] == "pupil7"

    sq = sqlite_events.connect(tmp_path / "e.sqlite")
    sqlite_cols = [r[1] for r in sq.execute("PRAGMA table_info(events)")]
    sq.close()
    with psycopg.connect(pg_server.url) as c:
        pg_cols = [
            r[0]
            for r in c.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'events' ORDER BY ordinal_position"
            )
        ]
    # seq: PostgreSQL's stand-in for SQLite's rowid (the roll-ups fold new events by it).
    assert pg_cols == [*sqlite_cols, "seq"]
    assert pgevents.recent(url, 5)[0]["id"] in {e["id"] for e in pgevents.recent(url, 50)}


def test_old_events_are_pruned(pg_server: Any) -> None:
    url = pgevents.store_url(pg_server.url)
    old = Event("10.0.0.9", "child", "old.example", "/", "block", ts=time.time() - 40 * 86400)
    fresh = Event("10.0.0.9", "child", "new.example", "/", "block")
    store = pgevents.PgEventStore(url, 30, flush_seconds=0.05)
    store.record(old)
    store.record(fresh)
    assert store.flush(10)
    store.close()
    # Pruning runs when a writer starts (then hourly).
    store = pgevents.PgEventStore(url, 30, flush_seconds=0.05)
    store.record(Event("10.0.0.9", "child", "later.example", "/", "pass"))
    assert store.flush(10)
    store.close()
    assert pgevents.lookup(url, old.id) is None
    assert pgevents.lookup(url, fresh.id) is not None


def test_database_down_never_blocks_and_drops_with_a_count(
    services: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url = pgevents.store_url(f"postgresql://q:hunter2secret@127.0.0.1:{_dead_port(services)}/q")
    caplog.set_level(logging.WARNING)
    store = pgevents.PgEventStore(url, 30, flush_seconds=0.05, max_pending=10, retry_seconds=60)
    t0 = time.monotonic()
    for i in range(200):
        store.record(Event("10.0.0.1", "child", f"h{i}.example", "/", "block"))
    recorded_in = time.monotonic() - t0
    deadline = time.monotonic() + 10
    while store.dropped < 190 and time.monotonic() < deadline:
        time.sleep(0.05)
    store.close()
    assert recorded_in < 1.0  # the caller never waited for the database
    assert store.dropped == 190  # all but the 10 kept for a retry
    text = caplog.text
    assert "is unreachable" in text and "filtering goes on" in text
    assert "hunter2secret" not in text


def test_a_minute_counted_through_one_worker_counts_on_the_other(redis_server: Any) -> None:
    url = redisstate.state_url(redis_server.url)
    a = QuotaTracker(redisstate.RedisQuotaStore(url))
    b = QuotaTracker(redisstate.RedisQuotaStore(url))
    rules = TimeRules(daily_minutes=2)
    t = datetime(2025, 6, 4, 10, 0, tzinfo=UTC)
    client = f"pupil-{time.time_ns()}"
    assert b.state(client, rules, t).used == 0  # b has seen the child: its count is cached
    a.note(client, "child", rules, t, Activity.PAGE)
    a.note(client, "child", rules, t + timedelta(minutes=1), Activity.PAGE)
    assert a.state(client, rules, t + timedelta(minutes=1)).used == 2
    # From the next minute on, b reads the shared count.
    assert b.state(client, rules, t + timedelta(minutes=2)).used == 2
    # A minute counted twice (once through each worker) is one minute.
    assert not b.store.record_minute(client, "child", int(t.timestamp()) // 60)
    assert b.store.recent_minutes(client, 0) == [
        int(t.timestamp()) // 60,
        int(t.timestamp()) // 60 + 1,
    ]


def test_redis_down_fails_fast(services: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    url = redisstate.state_url(f"redis://:hunter2secret@127.0.0.1:{_dead_port(services)}/0")
    store = redisstate.RedisQuotaStore(url, retry_seconds=60)
    tracker = QuotaTracker(store)
    with pytest.raises(StateUnavailable):
        tracker.state("pupil", TimeRules(daily_minutes=5), datetime.now(UTC))
    t0 = time.monotonic()
    for _ in range(100):  # left alone after the failure: no connection attempts
        with pytest.raises(StateUnavailable):
            store.record_minute("pupil", "child", 1)
    assert time.monotonic() - t0 < 0.5
    assert "unreachable" in caplog.text and "hunter2secret" not in caplog.text


def _grant(key: bytes, tmp: Path, scope: str, **kw: Any) -> ov.Override:
    from qinglang.store import dashdb as dbmod

    conn = dbmod.connect(tmp / "state.sqlite")
    try:
        now = time.time()
        return ov.grant(
            conn, key, client=kw.get("client", "10.0.0.5"), user=kw.get("user"), scope=scope,
            host=kw.get("host", "games.example"), path="/", minutes=kw.get("minutes", 0),
            expires=now + 3600, granted_by="mum", now=now,
        )  # fmt: skip
    finally:
        conn.close()


def test_overrides_granted_on_one_dashboard_apply_on_every_worker(
    redis_server: Any, tmp_path: Path
) -> None:
    url = redisstate.state_url(redis_server.url)
    key = b"k" * 32
    site = _grant(key, tmp_path, "site", host="games.example")
    extra = _grant(key, tmp_path, "minutes", minutes=30)
    worker = redisstate.RedisOverrides(url, key, check_seconds=0)
    now = time.time()
    assert worker.lookup("10.0.0.5", "games.example", "/x", now) is None
    redisstate.publish(url, key, site, now)
    redisstate.publish(url, key, extra, now)
    assert worker.lookup("10.0.0.5", "www.games.example", "/x", now) is not None
    assert worker.lookup("10.0.0.6", "games.example", "/x", now) is None  # another child
    assert worker.extra_minutes("10.0.0.5", now) == 30
    # Signed with another key (a worker without the dashboard's key file): ignored.
    other = redisstate.RedisOverrides(url, b"x" * 32, check_seconds=0)
    assert other.lookup("10.0.0.5", "games.example", "/", now) is None
    redisstate.withdraw(url, key, site)
    assert worker.lookup("10.0.0.5", "games.example", "/x", now) is None
    assert worker.extra_minutes("10.0.0.5", now) == 30


def test_sqlite_event_store_still_the_default(tmp_path: Path) -> None:
    store = sqlite_events.EventStore(tmp_path / "ev.sqlite", 30, flush_seconds=0.05)
    ev = Event("10.0.0.1", "child", "a.example", "/", "block")
    store.record(ev)
    assert store.flush(5)
    store.close()
    assert store.where == str(tmp_path / "ev.sqlite")
    db = sqlite3.connect(tmp_path / "ev.sqlite")
    assert db.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
    db.close()


def test_the_dashboards_event_list_reads_postgresql(pg_server: Any) -> None:
    from qinglang.dashboard import eventlog

    url = pgevents.store_url(pg_server.url)
    tag = f"t{time.time_ns()}.example"
    store = pgevents.PgEventStore(url, 30, flush_seconds=0.05)
    made = [
        Event("10.0.0.7", "child", f"www.{tag}", f"/p{i}", "block", "keywords",
              {"gambling": 100} if i % 2 else {"porn": 100}, 100, ts=time.time() - 100 + i)
        for i in range(7)
    ]  # fmt: skip
    for e in made:
        store.record(e)
    assert store.flush(10)
    store.close()
    conn = pgevents.ReadOnlyEvents(url)
    try:
        f = eventlog.Filters(host=f"*.{tag}", category="gambling")
        page = eventlog.query(conn, f, limit=2)
        assert [r["path"] for r in page.rows] == ["/p5", "/p3"]  # newest first
        assert page.rows[0]["categories"] == {"gambling": 100}
        assert page.next_cursor is not None
        rest = eventlog.query(conn, eventlog.Filters(host=f"*.{tag}", category="gambling",
                                                     cursor=page.next_cursor))  # fmt: skip
        assert [r["path"] for r in rest.rows] == ["/p1"]
        assert eventlog.one(conn, made[0].id.lower())["path"] == "/p0"
    finally:
        conn.close()
