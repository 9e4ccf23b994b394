"""Time the dashboard's overview and event list on a million events.

    python scripts/bench_dashboard.py [--events 1000000] [--keep DIR]

Fills a temporary event log through events.py's own row format, then times, side by
side: the naive overview queries straight on ``events`` (the baseline), the first
roll-up catch-up, the overview from the roll-ups, the full overview page render through
the app, and event-list pages with filters. Prints seconds; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
import warnings
from pathlib import Path

from qinglang.dashboard import accounts, eventlog, stats
from qinglang.dashboard.app import create_app
from qinglang.dashboard.settings import Settings
from qinglang.store import dashdb as db
from qinglang.store.events import Event, connect

CATS = ["porn", "gambling", "violence", "drugs", "bullying", "pii", "self_harm", "fraud"]


def fill(path: Path, n: int) -> None:
    conn = connect(path)
    rnd = random.Random(7)
    hosts = [f"site{i}.example" for i in range(5000)]
    clients = [f"192.168.1.{i}" for i in range(2, 40)]
    now = time.time()
    batch = []
    for _ in range(n):
        cats = rnd.sample(CATS, rnd.choice((1, 1, 2)))
        ev = Event(
            client=rnd.choice(clients), profile=rnd.choice(("child", "teen")),
            host=rnd.choice(hosts), path=f"/p/{rnd.randrange(1000)}",
            action=rnd.choice(("block", "mask", "mask", "pass")), reason="keywords",
            categories={c: rnd.randrange(10, 200) for c in cats}, score=100,
            decided_by=("term-a", "term-b"), ts=now - rnd.random() * 30 * 86400,
        )  # fmt: skip
        batch.append(ev.row())
        if len(batch) == 50_000:
            with conn:
                conn.executemany(f"INSERT INTO events VALUES ({','.join('?' * 13)})", batch)
            batch.clear()
    with conn:
        conn.executemany(f"INSERT INTO events VALUES ({','.join('?' * 13)})", batch)
    conn.close()


def timed(label: str, fn) -> object:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn()
    print(f"{label:58s} {time.perf_counter() - t:8.3f} s", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--keep", help="folder to keep the databases in (re-used if filled)")
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="qinglang-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    events = folder / "events.sqlite"
    if not events.exists():
        timed(f"fill {args.events} events", lambda: fill(events, args.events))
    print(f"load average {os.getloadavg()[0]:.2f}; events in {events}")
    since = time.time() - 30 * 86400
    raw = sqlite3.connect(events)
    for label, sql in (
        ("baseline: count per action (30 days)",
         "SELECT action, COUNT(*) FROM events WHERE ts >= ? GROUP BY 1"),
        ("baseline: count per category (30 days)",
         "SELECT j.key, e.action, COUNT(*) FROM events e, json_each(e.categories) j"
         " WHERE e.ts >= ? GROUP BY 1, 2"),
        ("baseline: top blocked hosts (30 days)",
         "SELECT host, COUNT(*) c FROM events WHERE ts >= ? AND action = 'block'"
         " GROUP BY 1 ORDER BY c DESC LIMIT 10"),
        ("baseline: per client and profile (30 days)",
         "SELECT client, profile, action, COUNT(*) FROM events WHERE ts >= ? GROUP BY 1, 2, 3"),
    ):  # fmt: skip
        timed(label, lambda sql=sql: raw.execute(sql, (since,)).fetchall())
    raw.close()
    timed(
        "indexes (client, ts), (host, ts): first time", lambda: stats.ensure_event_indexes(events)
    )
    state = folder / "dashboard.sqlite"
    rollup = stats.Rollup(state, events, None)
    timed("roll-up: first catch-up over the whole log", rollup.catch_up)
    timed("roll-up: catch-up with nothing new", rollup.catch_up)
    conn = db.connect(state)
    for period in stats.PERIODS:
        timed(f"overview queries from roll-ups: {period}",
              lambda p=period: stats.overview(conn, p, time.time(), None))  # fmt: skip
    settings = Settings(config_path=None, events_db=events, state_db=state,
                        secret_key_file=folder / "key")  # fmt: skip
    accounts.set_password(conn, "bench", "bench-password")
    conn.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    client = TestClient(create_app(settings), client=("127.0.0.1", 1))
    page = client.get("/signin").text
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    client.post("/signin", data={"csrf": token, "user": "bench", "password": "bench-password"})
    for period in stats.PERIODS:
        r = timed(f"overview page, rendered: {period}",
                  lambda p=period: client.get(f"/?period={p}"))  # fmt: skip
        assert r.status_code == 200  # type: ignore[attr-defined]
    ev = eventlog.connect(events)
    for label, f in (
        ("event list: newest 50", eventlog.Filters()),
        ("event list: one client", eventlog.Filters(client="192.168.1.5")),
        ("event list: one host", eventlog.Filters(host="site5.example")),
        ("event list: blocked, profile teen", eventlog.Filters(action="block", profile="teen")),
        ("event list: category porn", eventlog.Filters(category="porn")),
        ("event list: *.site5.example (scan)", eventlog.Filters(host="*.site5.example")),
        ("event list: a category with no events (full scan)", eventlog.Filters(category="x")),
    ):
        timed(label, lambda f=f: eventlog.query(ev, f))
    r = timed("event list page, rendered: page 2 of all",
              lambda: client.get("/events?after=" + eventlog.query(ev, eventlog.Filters())
                                 .next_cursor))  # type: ignore[operator]  # fmt: skip
    ev.close()
    print(f"databases kept in {folder}" if args.keep else f"(delete {folder} when done)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
