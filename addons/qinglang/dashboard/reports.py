"""Reports (举报入口): "blocked by mistake" from the block page, "harmful" from any page
(a bookmarklet or the proxy's short URL), "pii" from the risk notice, queued for a
maintainer and exported as a labelled corpus that ``qinglang lists test`` reads.

The proxy's report entry (``reportentry.py``) records them in the ``reports`` table of
the event database; the dashboard reads that table and keeps a maintainer's labels
(status: open, exported, dismissed; a category) in its own database, so each file has
one writer. With the events in PostgreSQL (a school's workers, ``qinglang_store``) the
reports and the labels are both there (``pgstore.py``), so every dashboard of the school
shows the same queue; these functions take either connection (``pgevents.Db``).

The event log keeps no page content, so the export fetches each reported address again
(``fetch`` is given by the caller: the dashboard's uses plain HTTP(S) with a size cap)
and writes it under ``allow/`` (blocked by mistake: must not be blocked) or ``block/``
(harmful; in ``block/<category>/`` once a maintainer gave it a category), with
``reports.json`` beside the folders saying where each document came from.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qinglang.store import reports as reportstore

KINDS = ("mistake", "harmful", "pii")
MAX_URL = 2048
_CATEGORY = re.compile(r"^[a-z0-9_-]{1,64}$")
_SUFFIX = {"html": ".html", "json": ".json", "text": ".txt"}
_EVENT_COLUMNS = "e.action AS action, e.categories AS categories, e.decided_by AS decided_by"
_NO_EVENT_COLUMNS = "NULL AS action, NULL AS categories, NULL AS decided_by"

# (url) -> (body, content type); raises OSError or ValueError when it cannot.
Fetch = Callable[[str], tuple[bytes, str | None]]


def connect(events_db: str | Path, state_db: str | Path) -> sqlite3.Connection:
    """The event database (whose ``reports`` table the proxy's report entry writes) with
    the dashboard's database attached as ``dash`` (a maintainer's labels)."""
    conn = reportstore.connect(events_db)
    conn.row_factory = sqlite3.Row
    conn.execute("ATTACH DATABASE ? AS dash", (str(state_db),))  # report_labels: db.py
    return conn


# Where the two stores differ (the rest of the SQL is the same): in SQLite the labels are in
# the dashboard's file, attached as ``dash``; in PostgreSQL (pgstore.py) they are beside the
# reports and the events table is always there.


def _labels(conn: Any) -> str:
    return "dash.report_labels" if isinstance(conn, sqlite3.Connection) else "report_labels"


def _has_events(conn: Any) -> bool:
    if not isinstance(conn, sqlite3.Connection):
        return True
    row = conn.execute(
        "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'events'"
    ).fetchone()
    return row is not None


def queue(conn: Any, status: str = "open", limit: int = 200) -> list[dict[str, Any]]:
    """Reports with this status, newest first, with the decision and the terms of the
    event the block page named (joined from the event log)."""
    joined = _has_events(conn)
    rows = conn.execute(
        'SELECT r.id, r.ts, r.client, r."user", r.profile, r.kind, r.url, r.host, r.event_id,'
        f" {_EVENT_COLUMNS if joined else _NO_EVENT_COLUMNS},"
        " coalesce(l.status, 'open') AS status, l.category AS label"
        " FROM reports r"
        + (" LEFT JOIN events e ON e.id = r.event_id" if joined else "")
        + f" LEFT JOIN {_labels(conn)} l ON l.report_id = r.id"
        " WHERE coalesce(l.status, 'open') = ? ORDER BY r.ts DESC, r.id DESC LIMIT ?",
        (status, limit),
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["categories"] = json.loads(d["categories"] or "{}")
        d["decided_by"] = json.loads(d["decided_by"] or "[]")
        cats = d["categories"]
        # Harmful reports of a scored page default to its top category.
        top = max(cats, key=lambda c: cats[c]) if cats and d["kind"] == "harmful" else None
        d["category"] = d.pop("label") or top
        out.append(d)
    return out


def _label(conn: Any, report_id: int, column: str, value: str | None) -> None:
    conn.execute(
        f"INSERT INTO {_labels(conn)} (report_id, {column}) VALUES (?, ?)"
        f" ON CONFLICT (report_id) DO UPDATE SET {column} = excluded.{column}",
        (report_id, value),
    )


def set_category(conn: Any, report_id: int, category: str | None) -> None:
    if category and not _CATEGORY.match(category):
        raise ValueError("a category is lower-case letters, digits, - or _")
    with conn:
        _label(conn, report_id, "category", category or None)


def dismiss(conn: Any, report_id: int) -> bool:
    with conn:
        row = conn.execute(
            "SELECT coalesce(l.status, 'open') FROM reports r"
            f" LEFT JOIN {_labels(conn)} l ON l.report_id = r.id WHERE r.id = ?",
            (report_id,),
        ).fetchone()
        if row is None or row[0] != "open":
            return False
        _label(conn, report_id, "status", "dismissed")
        return True


NOT_INCLUDED = "NOT-INCLUDED.txt"


@dataclass(slots=True)
class Exported:
    written: list[str] = field(default_factory=list)  # paths relative to the corpus
    failed: list[tuple[str, str]] = field(default_factory=list)  # url, why


def _suffix(content_type: str | None, body: bytes) -> str:
    from qinglang.content.mediatypes import kind_for

    head = body[:2048].decode("utf-8", "replace")
    return _SUFFIX.get(kind_for(content_type, head), ".txt")


def export(conn: Any, dest: Path, fetch: Fetch, *, until: float | None = None) -> Exported:
    """Write the open reports as a labelled corpus under ``dest``; mark them exported.
    Past ``until`` (a ``time.monotonic()`` moment) the rest are left open, as failed."""
    result = Exported()
    manifest: list[dict[str, Any]] = []
    for r in queue(conn, "open", limit=10_000):
        if until is not None and time.monotonic() >= until:
            result.failed.append((r["url"], "the export ran out of time; export again"))
            continue
        try:
            body, ctype = fetch(r["url"])
        except (OSError, ValueError) as e:
            result.failed.append((r["url"], str(e) or type(e).__name__))
            continue
        # Blocked by mistake: must not be blocked; harmful or exposing people: must be.
        folder = Path("allow") if r["kind"] == "mistake" else Path("block")
        if r["kind"] != "mistake" and r["category"]:
            folder = folder / r["category"]
        rel = folder / f"report-{r['id']}{_suffix(ctype, body)}"
        (dest / folder).mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes(body)
        result.written.append(rel.as_posix())
        manifest.append(
            {
                "path": rel.as_posix(),
                "url": r["url"],
                "kind": r["kind"],
                "reported": r["ts"],
                "event_id": r["event_id"],
                "decision": r["action"],
                "categories": r["categories"],
                "decided_by": r["decided_by"],
            }
        )
        with conn:
            _label(conn, r["id"], "status", "exported")
    if result.failed:
        # Every open report is in the export or named here with why; it stays open, so the
        # next export tries it again.
        dest.mkdir(parents=True, exist_ok=True)
        (dest / NOT_INCLUDED).write_text(
            "Reports not included (still open; the next export tries them again)\n"
            "未包含的举报（仍待处理，下次导出会再试）\n\n"
            + "".join(f"{url}\n    {why}\n" for url, why in result.failed),
            encoding="utf-8",
        )
    if manifest:
        index = dest / "reports.json"
        old = json.loads(index.read_text(encoding="utf-8")) if index.exists() else []
        index.write_text(
            json.dumps(old + manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    return result
