"""The event list: filters and keyset paging over the event log (read-only).

Paging is by (ts, id) from the last row shown, not by OFFSET, so page 500 costs what
page 1 costs. Client and host filters use the indexes ``stats.EVENT_INDEXES`` adds.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACTIONS = ("block", "mask", "pass")
PAGE = 50
_CURSOR = re.compile(r"^(\d+(?:\.\d+)?):([0-9A-Z]{1,32})$")
_CATEGORY = re.compile(r"^[a-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Filters:
    since: float | None = None
    until: float | None = None
    client: str | None = None
    profile: str | None = None
    category: str | None = None
    action: str | None = None
    host: str | None = None  # a host; ``*.example.com``: with its subdomains
    cursor: str | None = None  # "ts:id" of the last row of the previous page
    dns: bool = False  # only DNS mode's queries (their path is dns:TYPE)

    def query_args(self) -> dict[str, str]:
        """The filters (without the cursor) as URL query arguments."""
        out = {}
        for k in ("client", "profile", "category", "action", "host"):
            v = getattr(self, k)
            if v:
                out[k] = v
        return out


@dataclass(slots=True)
class Page:
    rows: list[dict[str, Any]] = field(default_factory=list)
    next_cursor: str | None = None


def _where(f: Filters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if f.since is not None:
        clauses.append("ts >= ?")
        args.append(f.since)
    if f.until is not None:
        clauses.append("ts < ?")
        args.append(f.until)
    if f.client:
        clauses.append("client = ?")
        args.append(f.client)
    if f.dns:  # a parameter, not a literal: PostgreSQL's driver reads % in the SQL
        clauses.append("path LIKE ?")
        args.append("dns:%")
    if f.profile:
        clauses.append("profile = ?")
        args.append(f.profile)
    if f.action in ACTIONS:
        clauses.append("action = ?")
        args.append(f.action)
    if f.category and _CATEGORY.match(f.category):
        clauses.append("instr(categories, ?) > 0")
        args.append(json.dumps(f.category) + ":")
    if f.host:
        # ``example.com`` is that host (the host index answers it); ``*.example.com`` also
        # takes its subdomains, which needs a scan.
        raw = f.host.strip().lower().rstrip(".")
        h = raw.removeprefix("*.").removeprefix(".")
        if h != raw:
            escaped = h.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("(host = ? OR host LIKE ? ESCAPE '\\')")
            args.extend([h, "%." + escaped])
        else:
            clauses.append("host = ?")
            args.append(h)
    m = _CURSOR.match(f.cursor or "")
    if m:
        clauses.append("(ts < ? OR (ts = ? AND id < ?))")
        ts = float(m.group(1))
        args.extend([ts, ts, m.group(2)])
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def connect(events_db: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{Path(events_db).resolve().as_posix()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def query(conn: sqlite3.Connection, f: Filters, limit: int = PAGE) -> Page:
    where, args = _where(f)
    try:
        rows = conn.execute(
            f"SELECT * FROM events{where} ORDER BY ts DESC, id DESC LIMIT ?", [*args, limit + 1]
        ).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return Page()
        raise
    page = Page()
    for r in rows[:limit]:
        d = dict(r)
        d["categories"] = _json(d["categories"], {})
        d["decided_by"] = _json(d["decided_by"], [])
        page.rows.append(d)
    if len(rows) > limit:
        last = page.rows[-1]
        page.next_cursor = f"{last['ts']!r}:{last['id']}"
    return page


def one(conn: sqlite3.Connection, event_id: str) -> dict[str, Any] | None:
    r = conn.execute("SELECT * FROM events WHERE id = ?", (event_id.strip().upper(),)).fetchone()
    if r is None:
        return None
    d = dict(r)
    d["categories"] = _json(d["categories"], {})
    d["decided_by"] = _json(d["decided_by"], [])
    return d


def _json(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def distinct_values(conn: sqlite3.Connection, column: str, since: float) -> list[str]:
    """Clients or profiles seen since ``since``, for the filter menus."""
    if column not in ("client", "profile"):
        raise ValueError(column)
    try:
        return [
            r[0]
            for r in conn.execute(
                f"SELECT DISTINCT {column} FROM events WHERE ts >= ? ORDER BY 1", (since,)
            )
        ]
    except sqlite3.OperationalError:
        return []
