"""Reports (举报入口): "blocked by mistake" from the block page, "harmful" from any page
(a bookmarklet or the proxy's short URL), queued for a maintainer and exported as a
labelled corpus that ``qinglang lists test`` reads.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

KINDS = ("mistake", "harmful")
MAX_URL = 2048
MAX_OPEN_PER_CLIENT = 50
_CATEGORY = re.compile(r"^[a-z0-9_-]{1,64}$")
_SUFFIX = {"html": ".html", "json": ".json", "text": ".txt"}

# (url) -> (body, content type); raises OSError or ValueError when it cannot.
Fetch = Callable[[str], tuple[bytes, str | None]]


class TooMany(Exception):
    pass


def clean_url(url: str) -> str:
    u = url.strip()[:MAX_URL]
    parts = urlsplit(u)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("a report needs an http:// or https:// address")
    return u


def create(
    conn: sqlite3.Connection,
    *,
    client: str,
    user: str | None,
    profile: str,
    kind: str,
    url: str,
    now: float,
    event: dict[str, Any] | None = None,
) -> int:
    """Queue a report; ``event`` is the event log row the block page named, if any."""
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r}")
    u = clean_url(url)
    host = (urlsplit(u).hostname or "").lower()
    with conn:
        row = conn.execute(
            "SELECT id FROM reports WHERE status = 'open' AND client = ? AND kind = ? AND url = ?",
            (client, kind, u),
        ).fetchone()
        if row:
            return int(row[0])
        (n,) = conn.execute(
            "SELECT COUNT(*) FROM reports WHERE status = 'open' AND client = ?", (client,)
        ).fetchone()
        if n >= MAX_OPEN_PER_CLIENT:
            raise TooMany(client)
        ev = event or {}
        cats = ev.get("categories") or {}
        top = max(cats, key=lambda c: cats[c]) if cats and kind == "harmful" else None
        cur = conn.execute(
            "INSERT INTO reports (ts, client, user, profile, kind, url, host, event_id, action,"
            " categories, decided_by, category) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now,
                client,
                user,
                profile,
                kind,
                u,
                host,
                ev.get("id"),
                ev.get("action"),
                json.dumps(cats, ensure_ascii=False),
                json.dumps(list(ev.get("decided_by") or []), ensure_ascii=False),
                top,
            ),
        )
        return int(cur.lastrowid or 0)


def queue(conn: sqlite3.Connection, status: str = "open", limit: int = 200) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT * FROM reports WHERE status = ? ORDER BY ts DESC LIMIT ?", (status, limit)
    ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["categories"] = json.loads(d["categories"] or "{}")
        d["decided_by"] = json.loads(d["decided_by"] or "[]")
        out.append(d)
    return out


def set_category(conn: sqlite3.Connection, report_id: int, category: str | None) -> None:
    if category and not _CATEGORY.match(category):
        raise ValueError("a category is lower-case letters, digits, - or _")
    with conn:
        conn.execute("UPDATE reports SET category = ? WHERE id = ?", (category or None, report_id))


def dismiss(conn: sqlite3.Connection, report_id: int) -> bool:
    with conn:
        return (
            conn.execute(
                "UPDATE reports SET status = 'dismissed' WHERE id = ? AND status = 'open'",
                (report_id,),
            ).rowcount
            > 0
        )


@dataclass(slots=True)
class Exported:
    written: list[str] = field(default_factory=list)  # paths relative to the corpus
    failed: list[tuple[str, str]] = field(default_factory=list)  # url, why


def _suffix(content_type: str | None, body: bytes) -> str:
    from ..content import kind_for

    head = body[:2048].decode("utf-8", "replace")
    return _SUFFIX.get(kind_for(content_type, head), ".txt")


def export(conn: sqlite3.Connection, dest: Path, fetch: Fetch) -> Exported:
    """Write the open reports as a labelled corpus under ``dest``; mark them exported."""
    result = Exported()
    manifest: list[dict[str, Any]] = []
    for r in queue(conn, "open", limit=10_000):
        try:
            body, ctype = fetch(r["url"])
        except (OSError, ValueError) as e:
            result.failed.append((r["url"], str(e) or type(e).__name__))
            continue
        folder = Path("allow") if r["kind"] == "mistake" else Path("block")
        if r["kind"] == "harmful" and r["category"]:
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
            conn.execute("UPDATE reports SET status = 'exported' WHERE id = ?", (r["id"],))
    if manifest:
        index = dest / "reports.json"
        old = json.loads(index.read_text(encoding="utf-8")) if index.exists() else []
        index.write_text(
            json.dumps(old + manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    return result
