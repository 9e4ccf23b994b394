"""Active minutes in SQLite: one row per (client, active minute).

The file is WAL, so the count survives restarts, several proxy processes can share it,
and a change of ``quota_reset`` applies at once: a "day" is just a range of minutes
(``timerules.quota_period``), nothing is deleted at the reset. Rows older than
``retention_days`` are pruned.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qinglang.policy.quota import StateUnavailable, epoch_minute
from qinglang.policy.timerules import QuotaPeriod

SCHEMA = """
CREATE TABLE IF NOT EXISTS quota_minutes (
    client  TEXT    NOT NULL,
    minute  INTEGER NOT NULL,  -- Unix time // 60
    profile TEXT    NOT NULL,
    PRIMARY KEY (client, minute)
) WITHOUT ROWID;
"""


@contextmanager
def _unavailable(path: str) -> Iterator[None]:
    """A failing file (full disk, I/O error, a lock held too long) is a store that cannot
    be used just now: the profile's ``on_error`` decides, as for Redis."""
    try:
        yield
    except sqlite3.Error as e:
        raise StateUnavailable(f"the quota database {path} failed: {e}") from e


class SqliteQuotaStore:
    """Active minutes in one SQLite file (WAL). Safe to share between threads and
    between processes; every call is a short transaction."""

    def __init__(self, path: str | Path, *, retention_days: int = 40) -> None:
        self.path = str(path)
        self.retention = retention_days * 1440
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=5.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._last_prune = 0

    def record_minute(self, client: str, profile: str, minute: int) -> bool:
        with self._lock, _unavailable(self.path):
            cur = self._db.execute(
                "INSERT OR IGNORE INTO quota_minutes (client, minute, profile) VALUES (?, ?, ?)",
                (client, minute, profile),
            )
            if minute - self._last_prune >= 1440:  # at most once a day per process
                self._last_prune = minute
                self._db.execute(
                    "DELETE FROM quota_minutes WHERE minute < ?", (minute - self.retention,)
                )
            return cur.rowcount > 0

    def used_minutes(self, client: str, day: QuotaPeriod) -> int:
        start, end = epoch_minute(day.start), epoch_minute(day.end)
        with self._lock, _unavailable(self.path):
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM quota_minutes"
                " WHERE client = ? AND minute >= ? AND minute < ?",
                (client, start, end),
            ).fetchone()
        return int(n)

    def recent_minutes(self, client: str, since: int) -> list[int]:
        with self._lock, _unavailable(self.path):
            rows = self._db.execute(
                "SELECT minute FROM quota_minutes WHERE client = ? AND minute >= ? ORDER BY minute",
                (client, since),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
