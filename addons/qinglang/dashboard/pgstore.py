"""The overview's roll-ups and the reports' labels in PostgreSQL, for the dashboard of a
school's workers (``qinglang_store``): the same tables and the same folding as the SQLite
ones (``stats.py``, ``db.py``), beside the ``events`` and ``reports`` tables the workers
write (``pgevents.py``), so every dashboard of the school shows the same numbers and the
same open reports.

What differs from SQLite, and only here: the events have no rowid, so ``seq`` (an identity
column) orders them as written; a day is found from the start of each local day
(``stats.day_starts``) with ``width_bucket`` instead of a Python function; and since
several workers insert at once, a row with a lower ``seq`` can commit after one with a
higher ``seq``. Every batch of events holds an advisory lock in shared mode
(``pgevents.WRITING``) from before its rows get their ``seq`` until it commits; the
roll-up takes that lock alone for a moment, so every batch under way has committed, and
folds only up to the highest ``seq`` it saw then. Dashboards fold in turn (another
advisory lock, as SQLite's ``BEGIN IMMEDIATE``) and never count a row twice.
"""

from __future__ import annotations

import logging
import threading
from datetime import tzinfo
from typing import Any

import psycopg

from qinglang.dashboard import stats
from qinglang.store import pgevents
from qinglang.store.backends import ServerURL

log = logging.getLogger(__name__)

SCHEMA = (
    pgevents.SCHEMA
    + """
CREATE TABLE IF NOT EXISTS report_labels (
    report_id  BIGINT PRIMARY KEY,   -- reports.id
    status     TEXT NOT NULL DEFAULT 'open',   -- open | exported | dismissed
    category   TEXT
);
CREATE TABLE IF NOT EXISTS rollup_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rollup_actions (
    day     INTEGER NOT NULL,
    client  TEXT NOT NULL,
    profile TEXT NOT NULL,
    action  TEXT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (day, client, profile, action)
);
CREATE TABLE IF NOT EXISTS rollup_categories (
    day      INTEGER NOT NULL,
    category TEXT NOT NULL,
    action   TEXT NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (day, category, action)
);
CREATE TABLE IF NOT EXISTS rollup_hosts (
    day    INTEGER NOT NULL,
    host   TEXT NOT NULL,
    action TEXT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (day, host, action)
);
"""
)
# The day of an event: the first day of the chunk plus the number of day starts it is past.
POSTGRESQL = stats.Dialect(
    events="events",
    order="seq",
    day="(? + width_bucket(ts, ?::float8[]) - 1)",
    categories="e.categories::json",
)
_FOLD = stats.fold_sql(POSTGRESQL)
BARRIER_TIMEOUT = "2s"  # a stuck writer: show the last numbers meanwhile


def open_db(url: ServerURL) -> pgevents.Db:
    """A connection for the overview and the reports, with their tables in place."""
    return pgevents.open_db(url, SCHEMA)


class PgRollup:
    """Keeps the roll-ups in PostgreSQL in step with its ``events`` table."""

    def __init__(self, url: ServerURL, tz: tzinfo | None) -> None:
        self.url = url
        self.tz = tz
        # Dashboards with different time zones would add up different days.
        self.tz_name = str(getattr(tz, "key", None) or tz or "local")
        self._lock = threading.Lock()

    def catch_up(self, db: pgevents.Db) -> int:
        """Fold events written since the last call; returns how many."""
        with self._lock:
            top = self._committed_top(db)
            if top is None:
                return 0
            done = 0
            while True:
                n, finished = self._fold_chunk(db, top)
                done += n
                if finished:
                    return done

    def _committed_top(self, db: pgevents.Db) -> int | None:
        """The highest ``seq`` below which every row has committed; None: not now."""
        try:
            with db:
                db.execute(f"SET LOCAL lock_timeout = '{BARRIER_TIMEOUT}'")
                db.execute(pgevents.ALL_WRITTEN)
                (top,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        except psycopg.errors.LockNotAvailable:
            log.info("qinglang: events are being written; the overview shows the last counts")
            return None
        return int(top)

    def _fold_chunk(self, db: pgevents.Db, top: int) -> tuple[int, bool]:
        with db:
            db.execute("SELECT pg_advisory_xact_lock(hashtext('qinglang.rollup'))")
            state = dict(db.execute("SELECT key, value FROM rollup_state").fetchall())
            last = int(state.get("events_seq", 0))
            if top < last or state.get("tz", self.tz_name) != self.tz_name:
                # A new event table, or another time zone: count from the start.
                for t in stats.ROLLUP_TABLES:
                    db.execute(f"DELETE FROM {t}")
                last = 0
            upto = min(top, last + stats.CHUNK)
            if upto > last:
                args = self._day_args(db, last, upto)
                for sql in _FOLD:
                    db.execute(sql, (*args, last, upto))
            for key, value in (("events_seq", str(max(upto, last))), ("tz", self.tz_name)):
                db.execute(
                    "INSERT INTO rollup_state (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
        return max(upto - last, 0), upto >= top

    def _day_args(self, db: pgevents.Db, last: int, upto: int) -> tuple[Any, ...]:
        """The first day of the chunk and when each of its days starts."""
        lo, hi = db.execute(
            "SELECT MIN(ts), MAX(ts) FROM events WHERE seq > ? AND seq <= ?", (last, upto)
        ).fetchone()
        if lo is None:  # the rows were pruned meanwhile
            return (0, [0.0])
        qday = stats.day_function(self.tz)
        first, final = qday(lo), qday(hi)
        return (first, stats.day_starts(self.tz, first, final + 1))
