"""Reports (举报入口) as kept: a ``reports`` table beside the events, in the event database
(SQLite) or, for a school's workers, in PostgreSQL.

What is kept: the page's address without its query or fragment, the kind (``harmful``,
``pii`` or ``mistake``), the time, the device's address, its proxy log-in and profile, and
the event id when the report came from a block page. Repeated reports of one page by one
device within a day are recorded once, and a device can file at most ``MAX_PER_HOUR``
reports an hour (a page could otherwise fill the table through hidden links).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from qinglang.policy.hosts import PROXY_HOST
from qinglang.store.backends import ServerURL

MAX_URL = 2048
MAX_PER_HOUR = 30
REPEAT_SECONDS = 86400.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id       INTEGER PRIMARY KEY,
    ts       REAL NOT NULL,
    client   TEXT NOT NULL,
    user     TEXT,
    profile  TEXT,
    kind     TEXT NOT NULL,
    url      TEXT NOT NULL,
    host     TEXT NOT NULL,
    event_id TEXT
);
CREATE INDEX IF NOT EXISTS reports_ts ON reports (ts);
"""


@dataclass(frozen=True, slots=True)
class Report:
    client: str
    kind: str  # harmful | pii
    url: str  # scheme://host/path, no query
    host: str
    user: str | None = None
    profile: str | None = None
    event_id: str | None = None
    ts: float = 0.0


def clean_url(raw: str) -> str | None:
    """``scheme://host[:port]/path`` of a reported address; None when it is not one.

    Query, fragment and any user name or password are dropped: they can carry searches,
    tokens and personal data. An address without a scheme (the block page shows
    ``host/path``) is taken as ``http://``, which a server moves to https itself."""
    u = raw.strip()[:MAX_URL]
    if not u:
        return None
    if "://" not in u:
        u = "http://" + u.lstrip("/")
    try:
        parts = urlsplit(u)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or host == PROXY_HOST:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port:
        netloc = f"{netloc}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", "", ""))


def connect(path: str | Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), timeout=10)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    return db


# Shared by both stores: PostgreSQL takes them through pgevents.pg_sql.
_REPEAT = "SELECT COUNT(*) FROM reports WHERE client = ? AND kind = ? AND url = ? AND ts > ?"
_RECENT = "SELECT COUNT(*) FROM reports WHERE client = ? AND ts > ?"
_INSERT = (
    'INSERT INTO reports (ts, client, "user", profile, kind, url, host, event_id) '
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _add(db: Any, report: Report) -> bool:
    """The checks and the insert, inside the caller's transaction."""
    (repeat,) = db.execute(
        _REPEAT, (report.client, report.kind, report.url, report.ts - REPEAT_SECONDS)
    ).fetchone()
    (recent,) = db.execute(_RECENT, (report.client, report.ts - 3600.0)).fetchone()
    if repeat or recent >= MAX_PER_HOUR:
        return False
    db.execute(
        _INSERT,
        (
            report.ts,
            report.client,
            report.user,
            report.profile,
            report.kind,
            report.url,
            report.host,
            report.event_id,
        ),
    )
    return True


def add_report(where: str | Path | ServerURL, report: Report) -> bool:
    """Record a report in the SQLite event database, or (scale-out) in PostgreSQL; False
    when it repeats a recent one or the device is over its hourly limit (the child is
    thanked either way). A PostgreSQL error is raised as ``OSError`` without the password."""
    if isinstance(where, ServerURL):
        return _add_pg(where, report)
    db = connect(where)
    try:
        with db:
            return _add(db, report)
    finally:
        db.close()


def _add_pg(url: ServerURL, report: Report) -> bool:
    import psycopg

    from qinglang.store import pgevents

    try:
        db = pgevents.open_db(url)
        try:
            with db:
                # Workers take reports side by side: one device's reports in turn, so that
                # two workers cannot both let a repeat or a 31st report of the hour in.
                db.execute(
                    "SELECT pg_advisory_xact_lock(hashtext('qinglang.reports'), hashtext(?))",
                    (report.client,),
                )
                return _add(db, report)
        finally:
            db.close()
    except psycopg.Error as e:
        raise OSError(url.scrub(str(e))) from None
