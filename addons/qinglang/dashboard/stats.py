"""The overview's numbers: daily roll-ups of the event log, kept in the dashboard's own
database and brought up to date incrementally.

Counting a month of a million events straight from ``events`` took about 9 s here
(JSON categories unpacked per row); the roll-ups hold one row per day and client, per day
and category, per day and host, so the overview sums a few thousand rows instead. New
events are folded in by rowid (the event log only appends), in chunks, each in one
``BEGIN IMMEDIATE`` transaction so two dashboard workers never count a row twice.
With the events in PostgreSQL (``qinglang_store``) the same tables and statements are
kept there (``pgstore.py``); ``Dialect`` holds what differs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from qinglang.store import dashdb as dbmod

# The event log's own index is on ts; these make the event list's client and host
# filters fast. Added here (IF NOT EXISTS) so events.py stays as it is.
EVENT_INDEXES = (
    "CREATE INDEX IF NOT EXISTS events_client_ts ON events (client, ts)",
    "CREATE INDEX IF NOT EXISTS events_host_ts ON events (host, ts)",
)
PERIODS = {"today": 1, "7d": 7, "30d": 30}
CHUNK = 250_000
_BUCKET = 900  # every UTC offset is a multiple of 15 minutes: local days start on one


def ensure_event_indexes(events_db: str | Path) -> None:
    if not Path(events_db).exists():
        return
    conn = sqlite3.connect(str(events_db), timeout=10)
    try:
        for sql in EVENT_INDEXES:
            conn.execute(sql)
        conn.commit()
    except sqlite3.OperationalError:
        pass  # no events table yet: the proxy has not started; try again next time
    finally:
        conn.close()


def day_function(tz: tzinfo | None) -> Callable[[float], int]:
    """ts -> local date ordinal, cached per 15 minutes (it runs once per event)."""
    cache: dict[int, int] = {}

    def qday(ts: float) -> int:
        b = int(ts) // _BUCKET
        d = cache.get(b)
        if d is None:
            d = cache[b] = datetime.fromtimestamp(b * _BUCKET, tz).date().toordinal()
        return d

    return qday


def day_starts(tz: tzinfo | None, first: int, last: int) -> list[float]:
    """When each local day ``first`` .. ``last`` (ordinals) begins, as ``day_function``
    counts days (by 15-minute bucket): PostgreSQL buckets its events by these instants
    (pgstore.py), so both stores put every event on the same day."""
    qday = day_function(tz)
    out = []
    for n in range(first, last + 1):
        d = date.fromordinal(n)
        guess = datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()
        b = int(guess) // _BUCKET * _BUCKET
        while qday(b) >= n:
            b -= _BUCKET
        while qday(b) < n:
            b += _BUCKET
        out.append(float(b))
    return out


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the stores in the roll-up SQL (``fold_sql``): where the events
    are, what orders them as written, a day from ``ts``, and the categories as JSON."""

    events: str
    order: str
    day: str
    categories: str


SQLITE = Dialect(events="ev.events", order="rowid", day="qday(ts)", categories="e.categories")

# A pupil with a proxy log-in is counted as ``name @ address``: in a school several pupils
# share one address (a balancer, a shared computer), and the overview shows who it was.
PUPIL = 'CASE WHEN "user" IS NULL OR "user" = \'\' THEN client ELSE "user" || \' @ \' || client END'
_FOLD = (
    "INSERT INTO rollup_actions (day, client, profile, action, n)"
    f" SELECT {{day}}, {PUPIL}, profile, action, COUNT(*) FROM {{events}}"
    " WHERE {order} > ? AND {order} <= ? GROUP BY 1, 2, 3, 4"
    " ON CONFLICT (day, client, profile, action) DO UPDATE SET n = rollup_actions.n + excluded.n",
    "INSERT INTO rollup_categories (day, category, action, n)"
    " SELECT {day}, j.key, e.action, COUNT(*) FROM {events} e, json_each({categories}) j"
    " WHERE e.{order} > ? AND e.{order} <= ? GROUP BY 1, 2, 3"
    " ON CONFLICT (day, category, action) DO UPDATE SET n = rollup_categories.n + excluded.n",
    "INSERT INTO rollup_hosts (day, host, action, n)"
    " SELECT {day}, host, action, COUNT(*) FROM {events}"
    " WHERE {order} > ? AND {order} <= ? AND action IN ('block', 'mask') GROUP BY 1, 2, 3"
    " ON CONFLICT (day, host, action) DO UPDATE SET n = rollup_hosts.n + excluded.n",
)
ROLLUP_TABLES = ("rollup_actions", "rollup_categories", "rollup_hosts")


def fold_sql(dialect: Dialect) -> tuple[str, ...]:
    """The statements that add the events in ``(order > ?, order <= ?]`` to the roll-ups."""
    return tuple(
        sql.format(
            events=dialect.events,
            order=dialect.order,
            day=dialect.day,  # ``ts`` alone: json_each has no column of that name
            categories=dialect.categories,
        )
        for sql in _FOLD
    )


_SQLITE_FOLD = fold_sql(SQLITE)


class Rollup:
    """Keeps the roll-ups in ``state_db`` in step with ``events_db``."""

    def __init__(self, state_db: str | Path, events_db: str | Path, tz: tzinfo | None) -> None:
        self.state_db = Path(state_db)
        self.events_db = Path(events_db)
        self.tz = tz
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        dbmod.connect(self.state_db).close()
        conn = sqlite3.connect(str(self.state_db), timeout=10, isolation_level=None)
        conn.create_function("qday", 1, day_function(self.tz), deterministic=True)
        ev = self.events_db.resolve().as_posix()
        conn.execute("ATTACH DATABASE ? AS ev", (f"file:{ev}?mode=ro",))
        return conn

    def catch_up(self) -> int:
        """Fold events written since the last call; returns how many."""
        if not self.events_db.exists():
            return 0
        with self._lock:
            conn = self._connect()
            try:
                return self._catch_up(conn)
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):
                    return 0  # the proxy has not written its first event yet
                raise
            finally:
                conn.close()

    def _catch_up(self, conn: sqlite3.Connection) -> int:
        done = 0
        while True:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT value FROM rollup_state WHERE key = 'events_rowid'"
                ).fetchone()
                last = int(row[0]) if row else 0
                (top,) = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM ev.events").fetchone()
                if top < last:  # a new event log: count from its start
                    for t in ROLLUP_TABLES:
                        conn.execute(f"DELETE FROM {t}")
                    last = 0
                upto = min(top, last + CHUNK)
                if upto > last:
                    for sql in _SQLITE_FOLD:
                        conn.execute(sql, (last, upto))
                    conn.execute(
                        "INSERT OR REPLACE INTO rollup_state (key, value) VALUES"
                        " ('events_rowid', ?)",
                        (str(upto),),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            done += upto - last
            if upto >= top:
                return done


@dataclass(slots=True)
class Overview:
    period: str
    first_day: date
    last_day: date
    totals: dict[str, int] = field(default_factory=dict)  # action -> events
    categories: list[tuple[str, int, int]] = field(default_factory=list)  # cat, block, mask
    clients: list[tuple[str, str, int, int]] = field(default_factory=list)  # client, profile
    top_hosts: list[tuple[str, int]] = field(default_factory=list)
    daily: list[tuple[str, int, int]] = field(default_factory=list)  # day, block, mask


def day_range(period: str, now: float, tz: tzinfo | None) -> tuple[date, date]:
    today = date.fromordinal(day_function(tz)(now))
    return today - timedelta(days=PERIODS[period] - 1), today


def overview(conn: Any, period: str, now: float, tz: tzinfo | None) -> Overview:
    """The overview for ``today``, ``7d`` or ``30d`` from the roll-ups (catch up first): in
    SQLite, or in PostgreSQL through ``pgevents.Db``."""
    first, last = day_range(period, now, tz)
    a, b = first.toordinal(), last.toordinal()
    ov = Overview(period, first, last)
    for action, n in conn.execute(
        "SELECT action, SUM(n) FROM rollup_actions WHERE day BETWEEN ? AND ? GROUP BY action",
        (a, b),
    ):
        ov.totals[action] = int(n)
    cats: dict[str, list[int]] = {}
    for cat, action, n in conn.execute(
        "SELECT category, action, SUM(n) FROM rollup_categories WHERE day BETWEEN ? AND ?"
        " AND action IN ('block', 'mask') GROUP BY 1, 2",
        (a, b),
    ):
        cats.setdefault(cat, [0, 0])[0 if action == "block" else 1] += int(n)
    ov.categories = sorted(((c, v[0], v[1]) for c, v in cats.items()), key=lambda r: -r[1] - r[2])
    clients: dict[tuple[str, str], list[int]] = {}
    for client, profile, action, n in conn.execute(
        "SELECT client, profile, action, SUM(n) FROM rollup_actions WHERE day BETWEEN ? AND ?"
        " AND action IN ('block', 'mask') GROUP BY 1, 2, 3",
        (a, b),
    ):
        clients.setdefault((client, profile), [0, 0])[0 if action == "block" else 1] += int(n)
    ov.clients = sorted(
        ((c, p, v[0], v[1]) for (c, p), v in clients.items()), key=lambda r: (-r[2], -r[3], r[0])
    )
    ov.top_hosts = [
        (h, int(n))
        for h, n in conn.execute(
            "SELECT host, SUM(n) AS c FROM rollup_hosts WHERE day BETWEEN ? AND ?"
            " AND action = 'block' GROUP BY host ORDER BY c DESC, host LIMIT 10",
            (a, b),
        )
    ]
    per_day: dict[int, list[int]] = {d: [0, 0] for d in range(a, b + 1)}
    for day, action, n in conn.execute(
        "SELECT day, action, SUM(n) FROM rollup_actions WHERE day BETWEEN ? AND ?"
        " AND action IN ('block', 'mask') GROUP BY 1, 2",
        (a, b),
    ):
        per_day[int(day)][0 if action == "block" else 1] += int(n)
    ov.daily = [(date.fromordinal(d).isoformat(), v[0], v[1]) for d, v in per_day.items()]
    return ov
