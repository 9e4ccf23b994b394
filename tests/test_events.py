"""The event log: real SQLite, batched writes off the caller's thread, retention."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from qinglang.store.events import Event, EventStore, lookup, new_event_id, path_only, recent


def test_events_are_written_and_looked_up(tmp_path: Path) -> None:
    db = tmp_path / "ev.sqlite"
    store = EventStore(db, retention_days=30, flush_seconds=0.05)
    ev = Event(
        client="192.168.1.5",
        profile="child",
        host="example.com",
        path="/page?q=my+secret+search#frag",
        action="block",
        reason="keywords",
        categories={"gambling": 120},
        score=120,
        decided_by=("网络赌场",),
    )
    store.record(ev)
    assert store.flush()
    row = lookup(db, ev.id.lower())
    assert row is not None
    assert row["path"] == "/page"  # never the query
    assert row["categories"] == {"gambling": 120} and row["decided_by"] == ["网络赌场"]
    assert "secret" not in repr(row)
    store.close()


def test_old_events_are_pruned_at_start(tmp_path: Path) -> None:
    db = tmp_path / "ev.sqlite"
    store = EventStore(db, retention_days=1, flush_seconds=0.05)
    old = Event("c", "child", "h", "/old", "mask", ts=time.time() - 3 * 86400)
    new = Event("c", "child", "h", "/new", "mask")
    store.record(old)
    store.record(new)
    assert store.flush()
    store.close()
    store = EventStore(db, retention_days=1, flush_seconds=0.05)  # prunes on start
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(recent(db)) != 1:
        time.sleep(0.05)
    assert [r["path"] for r in recent(db)] == ["/new"]
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    store.close()


def test_ids_and_paths() -> None:
    ids = {new_event_id() for _ in range(1000)}
    # Crockford base32: upper-case letters and digits, none of I L O U (easy to read out);
    # an all-digit id is valid, so this checks the alphabet, not str.isupper().
    readable = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert len(ids) == 1000 and all(len(i) == 10 and set(i) <= readable for i in ids)
    assert path_only("/a/b?x=1") == "/a/b" and len(path_only("/" + "x" * 5000)) == 512


def test_a_burst_of_events_is_written_whole_and_flush_does_not_wait(tmp_path: Path) -> None:
    # Events of a busy proxy are gathered into few transactions; a parent looking one up
    # (flush, then lookup) still finds it at once.
    db = tmp_path / "ev.sqlite"
    store = EventStore(db, retention_days=30)
    events = [Event("10.0.0.2", "child", "a.example", f"/p{i}", "mask") for i in range(300)]
    for ev in events:
        store.record(ev)
    t0 = time.monotonic()
    assert store.flush()
    assert time.monotonic() - t0 < 0.09  # not held for the gathering window
    assert {r["id"] for r in recent(db, 1000)} == {ev.id for ev in events}
    store.close()
