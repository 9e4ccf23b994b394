"""Ask a parent: a child's request for access, and a parent's answer to it.

``create`` is what the proxy calls when a child sends the "ask for access" form from the
block page or the time-is-up page; the dashboard lists open requests and answers them
with ``grant`` (which writes a signed override) or ``refuse``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from qinglang.store import overrides
from qinglang.store.events import path_only

KINDS = ("block", "time")
MAX_OPEN_PER_CLIENT = 20  # a child (or a script on a page) cannot flood the queue
MAX_MESSAGE = 200


@dataclass(frozen=True, slots=True)
class Choice:
    """One way to grant: the override scope and how long it lasts."""

    scope: str
    seconds: int | None  # None: until the end of the day given to ``grant``
    minutes: int = 0


# Name -> choice, as the dashboard's buttons offer them.
CHOICES = {
    "page-hour": Choice("page", 3600),
    "page-today": Choice("page", None),
    "page-week": Choice("page", 7 * 86400),
    "site-hour": Choice("site", 3600),
    "site-today": Choice("site", None),
    "site-week": Choice("site", 7 * 86400),
    "minutes-30": Choice("minutes", None, 30),
}


class TooMany(Exception):
    """This client already has too many open requests."""


def create(
    conn: sqlite3.Connection,
    *,
    client: str,
    user: str | None,
    profile: str,
    kind: str,
    host: str,
    path: str,
    now: float,
    reason: str | None = None,
    message: str | None = None,
    event_id: str | None = None,
) -> int:
    """Queue a request (or refresh the same open one); returns its id."""
    if kind not in KINDS:
        raise ValueError(f"unknown request kind {kind!r}")
    p = path_only(path) or "/"
    msg = (message or "").strip()[:MAX_MESSAGE] or None
    with conn:
        row = conn.execute(
            # One open request per pupil (several can share an address) and page.
            "SELECT id FROM asks WHERE status = 'open' AND client = ? AND user IS ?"
            " AND kind = ? AND host = ? AND path = ?",
            (client, user, kind, host, p),
        ).fetchone()
        if row:
            conn.execute(
                "UPDATE asks SET ts = ?, message = COALESCE(?, message) WHERE id = ?",
                (now, msg, row[0]),
            )
            return int(row[0])
        (n,) = conn.execute(
            "SELECT COUNT(*) FROM asks WHERE status = 'open' AND client = ? AND user IS ?",
            (client, user),
        ).fetchone()
        if n >= MAX_OPEN_PER_CLIENT:
            raise TooMany(client)
        cur = conn.execute(
            "INSERT INTO asks (ts, client, user, profile, kind, host, path, reason, message,"
            " event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now, client, user, profile, kind, host, p, reason, msg, event_id),
        )
        return int(cur.lastrowid or 0)


def open_requests(conn: sqlite3.Connection, limit: int = 200) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM asks WHERE status = 'open' ORDER BY ts DESC LIMIT ?", (limit,)
    ).fetchall()


def answered(conn: sqlite3.Connection, limit: int = 50) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT a.*, o.scope, o.expires FROM asks a LEFT JOIN overrides o"
        " ON o.id = a.override_id WHERE a.status != 'open' ORDER BY a.decided_ts DESC LIMIT ?",
        (limit,),
    ).fetchall()


def get(conn: sqlite3.Connection, ask_id: int) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM asks WHERE id = ?", (ask_id,)).fetchone()
    return row


def grant(
    conn: sqlite3.Connection,
    key: bytes,
    ask_id: int,
    choice: str,
    *,
    by: str,
    now: float,
    day_end: float,
) -> overrides.Override:
    """Answer yes: write the override and close the request. ``day_end`` is when "today"
    ends for this child (the end of its quota day)."""
    c = CHOICES.get(choice)
    if c is None:
        raise ValueError(f"unknown choice {choice!r}")
    ask = get(conn, ask_id)
    if ask is None or ask["status"] != "open":
        raise LookupError(ask_id)
    if c.scope == "minutes" and ask["kind"] != "time":
        # More minutes lift time limits; a page blocked for its content stays blocked.
        raise ValueError("more minutes answer only a request for more time")
    expires = day_end if c.seconds is None else now + c.seconds
    o = overrides.grant(
        conn,
        key,
        client=ask["client"],
        user=ask["user"],
        scope=c.scope,
        host=ask["host"],
        path=ask["path"],
        minutes=c.minutes,
        expires=expires,
        granted_by=by,
        now=now,
    )
    with conn:
        conn.execute(
            "UPDATE asks SET status = 'granted', decided_by = ?, decided_ts = ?, override_id = ?"
            " WHERE id = ?",
            (by, now, o.id, ask_id),
        )
    return o


def refuse(conn: sqlite3.Connection, ask_id: int, *, by: str, now: float) -> None:
    with conn:
        n = conn.execute(
            "UPDATE asks SET status = 'refused', decided_by = ?, decided_ts = ?"
            " WHERE id = ? AND status = 'open'",
            (by, now, ask_id),
        ).rowcount
    if not n:
        raise LookupError(ask_id)


def open_count(conn: sqlite3.Connection) -> int:
    (n,) = conn.execute("SELECT COUNT(*) FROM asks WHERE status = 'open'").fetchone()
    return int(n)
