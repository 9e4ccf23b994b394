"""Decisions land in the SQLite event log, with an id the block page shows, and no content."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import Any

import pytest

from .conftest import CHILD, TEEN, Proxy
from .upstream import BLOCK_TERMS, MASK_TERM, Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def wait_for_event(proxy: Proxy, where: str, args: tuple[Any, ...]) -> dict[str, Any]:
    """Poll the database (events are written in batches, off the event loop)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proxy.events_db.exists():
            db = sqlite3.connect(proxy.events_db)
            db.row_factory = sqlite3.Row
            try:
                row = db.execute(f"SELECT * FROM events WHERE {where}", args).fetchone()
            except sqlite3.OperationalError:
                row = None
            finally:
                db.close()
            if row:
                return dict(row)
        time.sleep(0.2)
    raise AssertionError(f"no event where {where} {args}")


def test_block_event_matches_the_block_page(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        r = c.get(upstream.url("/block.html", True) + "?q=secret-search")
    assert r.status_code == 403
    m = re.search(r"<code>([0-9A-Z]{10})</code>", r.text)
    assert m
    ev = wait_for_event(proxy, "id = ?", (m.group(1),))
    assert ev["action"] == "block" and ev["reason"] == "keywords"
    assert ev["client"] == CHILD and ev["profile"] == "child"
    assert ev["host"] == "127.0.0.1" and ev["path"] == "/block.html"  # no query
    assert json.loads(ev["categories"]) == {"gambling": 70, "porn": 60}
    assert ev["score"] == 130
    assert sorted(json.loads(ev["decided_by"])) == sorted(BLOCK_TERMS.split())
    # Never page content or the query: only list term names and structure.
    row = json.dumps(ev, ensure_ascii=False)
    assert "secret-search" not in row and "weather" not in row


def test_mask_and_policy_events(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(TEEN) as c:
        c.get(upstream.url("/mask.html") + "?id=1")
        c.get(upstream.url("/large.html"))
    mask = wait_for_event(proxy, "path = ? AND client = ?", ("/mask.html", TEEN))
    assert mask["action"] == "mask" and mask["profile"] == "teen"
    assert json.loads(mask["decided_by"]) == [MASK_TERM]
    oversize = wait_for_event(proxy, "path = ? AND client = ?", ("/large.html", TEEN))
    assert oversize["action"] == "pass" and oversize["reason"] == "too large to check"
    assert "Content-Length" in oversize["detail"]


def test_database_is_in_wal_mode(proxy: Proxy, upstream: Upstream) -> None:
    with proxy.client(CHILD) as c:
        c.get(upstream.url("/mask.html"))
    wait_for_event(proxy, "path = ?", ("/mask.html",))
    db = sqlite3.connect(proxy.events_db)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
