"""The event log in PostgreSQL, for several workers writing one table (``qinglang_store``).

The same columns as the SQLite ``events`` table (events.py), written the same way: ``record``
only puts the event on a bounded queue and a background thread writes batches, so the write
path never slows a response. When the database is down the thread keeps the events it could
not write (at most ``max_pending``) and tries again every ``retry_seconds``; past that, and
once the queue is full, events are dropped and counted in a warning: filtering goes on.

The schema also holds the report entry's ``reports`` table (reportentry.py), and ``Db``
lets the dashboard's SQLite code (the overview's roll-ups, the reports page) run here.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from typing import Any

import psycopg
from psycopg.rows import dict_row

from qinglang.store.backends import STORE_SCHEMES, ServerURL, parse
from qinglang.store.events import _COLUMNS, Event, EventStore

log = logging.getLogger(__name__)

_COLS = ", ".join(f'"{c}"' for c in _COLUMNS)  # "user" is a reserved word in PostgreSQL
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    ts DOUBLE PRECISION NOT NULL,
    client TEXT NOT NULL,
    "user" TEXT,
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
-- seq: PostgreSQL's stand-in for SQLite's rowid, the order rows were written in, by which
-- the dashboard's roll-ups fold new events (dashboard/pgstore.py). Added to a table made
-- before it (filling it in rewrites the table once); a DO block, so that an existing column
-- costs no table lock.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema =
                   current_schema() AND table_name = 'events' AND column_name = 'seq') THEN
        ALTER TABLE events ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
        CREATE UNIQUE INDEX events_seq ON events (seq);
    END IF;
END $$;
-- The event list's client and host filters (dashboard/stats.py EVENT_INDEXES in SQLite).
CREATE INDEX IF NOT EXISTS events_client_ts ON events (client, ts);
CREATE INDEX IF NOT EXISTS events_host_ts ON events (host, ts);
-- The report entry's reports (reportentry.py; the same columns as its SQLite table).
CREATE TABLE IF NOT EXISTS reports (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts       DOUBLE PRECISION NOT NULL,
    client   TEXT NOT NULL,
    "user"   TEXT,
    profile  TEXT,
    kind     TEXT NOT NULL,
    url      TEXT NOT NULL,
    host     TEXT NOT NULL,
    event_id TEXT
);
CREATE INDEX IF NOT EXISTS reports_ts ON reports (ts);
CREATE INDEX IF NOT EXISTS reports_client_ts ON reports (client, ts);
"""
_INSERT = (
    f"INSERT INTO events ({_COLS}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
    " ON CONFLICT (id) DO NOTHING"
)
# Taken (shared) by every batch of events before its rows get their seq, and held until it
# commits: the dashboard takes it alone for a moment (pgstore.py) to know that every seq
# handed out so far is committed. An advisory lock, not a table lock, so that neither a
# long prune nor autovacuum is in the way.
_WRITING_KEY = "hashtext('qinglang.events.writing')"
WRITING = f"SELECT pg_advisory_xact_lock_shared({_WRITING_KEY})"
ALL_WRITTEN = f"SELECT pg_advisory_xact_lock({_WRITING_KEY})"  # waits for every WRITING
CONNECT_TIMEOUT = 3  # seconds: a dead server must not hold the writer for long
_WARN_EVERY = 60.0


def store_url(url: str) -> ServerURL:
    return parse(url, STORE_SCHEMES, "qinglang_store")


def connect(url: ServerURL, schema: str = SCHEMA, **kw: Any) -> psycopg.Connection[Any]:
    """A connection with the events and reports tables (or ``schema``) in place. Two
    workers starting together could both try to create them: a transaction-scoped advisory
    lock puts them in turn."""
    conn = psycopg.connect(
        url.url, connect_timeout=CONNECT_TIMEOUT, application_name="qinglang", **kw
    )
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('qinglang.events.schema'))")
            conn.execute(schema)
    except BaseException:
        conn.close()
        raise
    return conn


def pg_sql(sql: str) -> str:
    """SQL written for the SQLite modules, for PostgreSQL: ``?`` placeholders become ``%s``
    (their SQL has no other ``?`` and no ``%``), ``instr`` becomes ``strpos``."""
    return sql.replace("instr(", "strpos(").replace("?", "%s")


class Row(tuple[Any, ...]):
    """A row that reads like ``sqlite3.Row``: by position, by column name, ``dict(row)``."""

    names: tuple[str, ...] = ()

    def keys(self) -> list[str]:
        return list(self.names)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)


def _row_factory(cursor: Any) -> Any:
    names = tuple(d.name for d in cursor.description or ())
    cls = type("Row", (Row,), {"names": names})
    return cls


class Db:
    """PostgreSQL behind the interface the dashboard's SQLite code uses: ``execute`` takes
    its SQL (``pg_sql``), rows are ``Row``, and ``with db:`` is one transaction (as with
    ``sqlite3``; it does not close the connection as psycopg's own ``with`` does)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._tx: list[Any] = []

    def execute(self, sql: str, args: Any = ()) -> Any:
        return self.conn.execute(pg_sql(sql), tuple(args))

    def __enter__(self) -> Db:
        tx = self.conn.transaction()
        tx.__enter__()
        self._tx.append(tx)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._tx.pop().__exit__(*exc)

    def close(self) -> None:
        self.conn.close()


_READY: set[tuple[str, str]] = set()


def open_db(url: ServerURL, schema: str = SCHEMA) -> Db:
    """A ``Db`` (autocommit outside ``with``) for the report entry and the dashboard; the
    tables are made on the first call in this process, not on every one (creating an index
    that exists still locks its table against writes for a moment)."""
    key = (url.url, schema)
    if key in _READY:
        conn = psycopg.connect(
            url.url, connect_timeout=CONNECT_TIMEOUT, application_name="qinglang",
            autocommit=True, row_factory=_row_factory,
        )  # fmt: skip
    else:
        conn = connect(url, schema, autocommit=True, row_factory=_row_factory)
        _READY.add(key)
    return Db(conn)


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row["categories"] = json.loads(row["categories"])
    row["decided_by"] = json.loads(row["decided_by"])
    return row


def lookup(url: ServerURL, event_id: str) -> dict[str, Any] | None:
    """One event by id (case-insensitive), for a parent looking up a block page."""
    with psycopg.connect(url.url, connect_timeout=CONNECT_TIMEOUT, row_factory=dict_row) as c:
        row = c.execute("SELECT * FROM events WHERE id = %s", (event_id.strip().upper(),))
        found = row.fetchone()
    return _decode(found) if found else None


def recent(url: ServerURL, limit: int = 100) -> list[dict[str, Any]]:
    with psycopg.connect(url.url, connect_timeout=CONNECT_TIMEOUT, row_factory=dict_row) as c:
        rows = c.execute("SELECT * FROM events ORDER BY ts DESC LIMIT %s", (limit,)).fetchall()
    return [_decode(r) for r in rows]


class PgEventStore(EventStore):
    """``EventStore`` (queue, batches, flush, close) writing to PostgreSQL."""

    def __init__(
        self,
        url: ServerURL,
        retention_days: float,
        *,
        flush_seconds: float = 0.5,
        batch: int = 500,
        max_queue: int = 50_000,
        max_pending: int = 50_000,
        retry_seconds: float = 5.0,
    ) -> None:
        self.url = url
        self.max_pending = max_pending
        self.retry_seconds = retry_seconds
        self._pending: deque[Event] = deque()
        self._conn: psycopg.Connection[Any] | None = None
        self._next_try = 0.0
        self._last_warning = -_WARN_EVERY
        # The base class would open a SQLite file: its queue and thread are set up here.
        self._setup(retention_days, flush_seconds, batch, max_queue)

    @property
    def where(self) -> str:
        return str(self.url)

    def _run(self) -> None:
        last_prune = 0.0
        try:
            for items in self._batches():
                if items is None:
                    break
                self._keep(items)
                try:  # the writer outlives any one batch (see EventStore._run)
                    self._write_pending()
                    now = time.time()
                    if self._conn is not None and now - last_prune > 3600:
                        self._prune_pg(now)
                        last_prune = now
                except Exception:
                    log.exception("qinglang: the event writer for %s hit an error", self.url)
                    n = len(self._pending)
                    self._pending.clear()
                    self._done(n)
        finally:
            if self._pending:
                log.warning(
                    "qinglang: %d events not written to %s at shutdown",
                    len(self._pending),
                    self.url,
                )
            if self._conn is not None:
                self._conn.close()

    def _keep(self, items: list[Event]) -> None:
        self._pending.extend(items)
        over = len(self._pending) - self.max_pending
        if over > 0:
            for _ in range(over):
                self._pending.popleft()
            self.dropped += over
            self._done(over)
            self._warn(f"{self.dropped} events dropped so far")

    def _warn(self, what: str, error: str = "") -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY:
            self._last_warning = now
            why = f" ({self.url.scrub(error)})" if error else ""
            log.warning(
                "qinglang: the event store %s is unreachable%s; filtering goes on, "
                "%d events wait to be written; %s",
                self.url,
                why,
                len(self._pending),
                what,
            )

    def _write_pending(self) -> None:
        if not self._pending:
            return
        if self._conn is None or self._conn.closed:
            if time.monotonic() < self._next_try:
                return
            try:
                self._conn = connect(self.url)
                if self._last_warning > -_WARN_EVERY:
                    log.info("qinglang: the event store %s is reachable again", self.url)
                    self._last_warning = -_WARN_EVERY
            except psycopg.Error as e:
                self._conn = None
                self._next_try = time.monotonic() + self.retry_seconds
                self._warn(f"{self.dropped} dropped so far", str(e))
                return
        while self._pending:
            items = [self._pending[i] for i in range(min(self.batch, len(self._pending)))]
            try:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    cur.execute(WRITING)
                    cur.executemany(_INSERT, [e.row() for e in items])
            except psycopg.OperationalError as e:
                # The connection is gone: keep the batch and try again later.
                self._conn.close()
                self._conn = None
                self._next_try = time.monotonic() + self.retry_seconds
                self._warn(f"{self.dropped} dropped so far", str(e))
                return
            except (psycopg.Error, ValueError, TypeError) as e:
                # A batch the server refuses (not a lost connection) would be refused again;
                # so would a row that cannot be encoded.
                log.error(
                    "qinglang: cannot write %d events to %s: %s",
                    len(items),
                    self.url,
                    self.url.scrub(str(e)),
                )
            for _ in items:
                self._pending.popleft()
            self._done(len(items))

    def _prune_pg(self, now: float) -> None:
        assert self._conn is not None
        try:
            with self._conn.transaction():
                cur = self._conn.execute(
                    "DELETE FROM events WHERE ts < %s", (now - self.retention,)
                )
            if cur.rowcount:
                log.info("qinglang: pruned %d events older than the retention", cur.rowcount)
        except psycopg.Error as e:
            log.error("qinglang: cannot prune events in %s: %s", self.url, self.url.scrub(str(e)))


class ReadOnlyEvents:
    """The dashboard's event pages (dashboard/eventlog.py) against PostgreSQL: the same
    SQL, with SQLite's ``?`` placeholders and ``instr`` translated, rows as dicts."""

    def __init__(self, url: ServerURL) -> None:
        self._conn = psycopg.connect(
            url.url, connect_timeout=CONNECT_TIMEOUT, row_factory=dict_row, autocommit=True
        )
        self._conn.read_only = True

    def execute(self, sql: str, args: Any = ()) -> psycopg.Cursor[dict[str, Any]]:
        return self._conn.execute(pg_sql(sql), tuple(args))

    def close(self) -> None:
        self._conn.close()
