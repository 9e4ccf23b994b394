"""The event log: every block, mask and policy decision, in an embedded SQLite database.

What is kept: when, which client and profile, host, path without its query, categories,
action, score, reason, the names of the list terms that decided it and an event id a
parent can look up from the block page. Never page content, query strings or personal
information. ``record`` only puts the event on a queue; a background thread writes
batches in WAL mode and prunes events older than the retention.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Crockford's base32 without I, L, O, U: easy to read out and type from a block page.
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MAX_PATH = 512
_SURROGATE = re.compile("[\ud800-\udfff]")
# How long the writer waits for more events after the first of a batch. Under load one
# transaction per event (a commit and a thread wake-up each) cost the proxy 0.3 ms of CPU
# per masked page; flush() and close() cut the wait short.
_GATHER_SECONDS = 0.1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    ts REAL NOT NULL,
    client TEXT NOT NULL,
    user TEXT,
    profile TEXT NOT NULL,
    host TEXT NOT NULL,
    path TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT,
    categories TEXT NOT NULL,
    score INTEGER NOT NULL,
    decided_by TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
"""
_COLUMNS = (
    "id",
    "ts",
    "client",
    "user",
    "profile",
    "host",
    "path",
    "action",
    "reason",
    "categories",
    "score",
    "decided_by",
    "detail",
)


def new_event_id() -> str:
    # 32 letters: five random bits per letter, uniform (ten secrets.choice calls were 20 us
    # of the event loop per recorded event).
    return "".join([_ID_ALPHABET[b & 31] for b in secrets.token_bytes(10)])


def clean_text(text: str) -> str:
    """``text`` with what SQLite and JSON cannot store (lone surrogates: bytes that were
    not UTF-8 in a header or path) replaced by U+FFFD."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def path_only(path: str) -> str:
    """The request path without query or fragment (they can carry searches and tokens)."""
    p = path.split("?", 1)[0].split("#", 1)[0]
    return p[:_MAX_PATH]


@dataclass(frozen=True, slots=True)
class Event:
    client: str  # peer IP address
    profile: str
    host: str
    path: str  # without query
    action: str  # block | mask | pass
    reason: str | None = None  # keywords | personal information exposure | oversize | ...
    categories: dict[str, int] = field(default_factory=dict)
    score: int = 0
    decided_by: tuple[str, ...] = ()  # list term names, never page text
    detail: str | None = None  # policy detail, e.g. "decoded body is larger than ..."
    user: str | None = None  # proxy-auth user name
    id: str = field(default_factory=new_event_id)
    ts: float = field(default_factory=time.time)

    def row(self) -> tuple[Any, ...]:
        """The values for _COLUMNS (without asdict, which deep-copied every event: 40 us
        holding the GIL in the writer thread while the proxy serves)."""
        # Every text is cleaned: a host or path read from bytes that were not UTF-8 holds
        # lone surrogates, which neither SQLite nor PostgreSQL can store.
        c = clean_text
        return (
            self.id,
            self.ts,
            c(str(self.client)),
            None if self.user is None else c(str(self.user)),
            c(str(self.profile)),
            c(str(self.host)),
            c(path_only(str(self.path))),
            c(str(self.action)),
            None if self.reason is None else c(str(self.reason)),
            c(json.dumps(self.categories, ensure_ascii=False, sort_keys=True, default=str)),
            int(self.score),
            c(json.dumps([str(t) for t in self.decided_by], ensure_ascii=False)),
            None if self.detail is None else c(str(self.detail)),
        )


def connect(path: str | Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    return db


def _decode_row(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["categories"] = json.loads(d["categories"])
    d["decided_by"] = json.loads(d["decided_by"])
    return d


def lookup(path: str | Path, event_id: str) -> dict[str, Any] | None:
    """One event by id (case-insensitive), for a parent looking up a block page."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        row = db.execute(
            "SELECT * FROM events WHERE id = ?", (event_id.strip().upper(),)
        ).fetchone()
    finally:
        db.close()
    return _decode_row(row) if row else None


def recent(path: str | Path, limit: int = 100) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute("SELECT * FROM events ORDER BY ts DESC LIMIT ?", (limit,)).fetchall()
    finally:
        db.close()
    return [_decode_row(r) for r in rows]


class EventStore:
    """Writes events on a background thread, in batches; never blocks the caller."""

    def __init__(
        self,
        path: str | Path,
        retention_days: float,
        *,
        flush_seconds: float = 0.5,
        batch: int = 500,
        max_queue: int = 100_000,
    ) -> None:
        self.path = Path(path)
        # Open here, so that a database that cannot be created fails at start-up.
        connect(self.path).close()
        self._setup(retention_days, flush_seconds, batch, max_queue)

    def _setup(
        self, retention_days: float, flush_seconds: float, batch: int, max_queue: int
    ) -> None:
        """The queue and the writer thread (shared with pgevents.PgEventStore)."""
        self.retention = retention_days * 86400.0
        self.flush_seconds = flush_seconds
        self.batch = batch
        self.dropped = 0
        self._queue: queue.Queue[Event | None] = queue.Queue(max_queue)
        self._flushed = threading.Condition()
        self._hurry = threading.Event()  # write what is queued now (flush, close)
        self._written = 0
        self._submitted = 0
        self._thread = threading.Thread(target=self._run, name="qinglang-events", daemon=True)
        self._thread.start()

    @property
    def where(self) -> str:
        """Where the events go, for log lines (never with a password)."""
        return str(self.path)

    def _done(self, n: int) -> None:
        """``n`` more events are written (or given up on): wake ``flush``."""
        with self._flushed:
            self._written += n
            self._flushed.notify_all()

    def record(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
            self._submitted += 1
        except queue.Full:
            # The disk is stuck or far too slow: losing an audit row beats stalling traffic.
            self.dropped += 1
            if self.dropped in (1, 100) or self.dropped % 10_000 == 0:
                log.warning(
                    "qinglang: event log %s is behind; %d events dropped", self.where, self.dropped
                )

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every event recorded so far is written (tests, shutdown)."""
        target = self._submitted
        self._hurry.set()
        with self._flushed:
            return self._flushed.wait_for(lambda: self._written >= target, timeout)

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:  # the writer is stuck: it is a daemon thread, let it go
            return
        self._hurry.set()
        self._thread.join(timeout)

    def _batches(self) -> Iterator[list[Event] | None]:
        """Yield batches of events, [] on idle ticks; None once closed."""
        while True:
            try:
                first = self._queue.get(timeout=self.flush_seconds)
            except queue.Empty:
                yield []
                continue
            if first is None:
                yield None
                return
            self._hurry.wait(_GATHER_SECONDS)
            self._hurry.clear()
            items = [first]
            closing = False
            while len(items) < self.batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    closing = True
                    break
                items.append(nxt)
            yield items
            if closing:
                yield None
                return

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        last_prune = 0.0
        try:
            for items in self._batches():
                if items is None:
                    break
                # Whatever goes wrong with one batch, the writer goes on with the next:
                # a dead writer would lose every event after it (and the asks that
                # refer to them) until a restart.
                unwritten = len(items)
                try:
                    if db is None:
                        db = connect(self.path)
                    if items:
                        self._write(db, items)  # counts them written, whatever happens
                        unwritten = 0
                    now = time.time()
                    if now - last_prune > 3600:
                        self._prune(db, now)
                        last_prune = now
                except Exception:
                    log.exception("qinglang: the event writer for %s hit an error", self.path)
                    self._done(unwritten)
        finally:
            if db is not None:
                db.close()

    def _write(self, db: sqlite3.Connection, items: list[Event]) -> None:
        try:
            try:
                self._insert(db, [e.row() for e in items])
            except (sqlite3.Error, ValueError, TypeError) as e:
                if len(items) == 1:
                    raise
                # One bad row must not cost the batch: each alone, the bad one skipped.
                log.error("qinglang: a batch of %d events failed (%s); writing one by one",
                          len(items), e)  # fmt: skip
                for ev in items:
                    try:
                        self._insert(db, [ev.row()])
                    except (sqlite3.Error, ValueError, TypeError) as e1:
                        log.error("qinglang: event %s not written to %s: %s", ev.id, self.path, e1)
        except (sqlite3.Error, ValueError, TypeError) as e:
            log.error("qinglang: cannot write %d events to %s: %s", len(items), self.path, e)
        finally:
            self._done(len(items))

    @staticmethod
    def _insert(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        with db:
            db.executemany(
                f"INSERT OR REPLACE INTO events ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                rows,
            )

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        try:
            with db:
                n = db.execute("DELETE FROM events WHERE ts < ?", (now - self.retention,)).rowcount
            if n:
                log.info("qinglang: pruned %d events older than the retention", n)
        except sqlite3.Error as e:
            log.error("qinglang: cannot prune events in %s: %s", self.path, e)
