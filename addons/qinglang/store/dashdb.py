"""The dashboard's own SQLite database: admin accounts, audit log, ask-a-parent requests,
overrides, labels of reports, and the overview's daily roll-ups of the event log.

It is a separate file from the event log (``events.py`` owns that one and its writer
thread); the proxy only reads the ``overrides`` table of this file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS admins (
    name       TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,      -- argon2id, with its own salt and parameters
    generation INTEGER NOT NULL,   -- bumped on every password change: old sessions end
    created    REAL NOT NULL,
    updated    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id      INTEGER PRIMARY KEY,
    ts      REAL NOT NULL,
    user    TEXT NOT NULL,
    address TEXT,
    action  TEXT NOT NULL,
    detail  TEXT
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
-- Signed-in sessions: the cookie is signed, and this row is what signing out deletes,
-- so a copied cookie stops working when its admin signs out (accounts.py).
CREATE TABLE IF NOT EXISTS sessions (
    sid     TEXT PRIMARY KEY,      -- SHA-256 of the session's random id (the cookie holds it)
    user    TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS asks (
    id          INTEGER PRIMARY KEY,
    ts          REAL NOT NULL,
    client      TEXT NOT NULL,
    user        TEXT,
    profile     TEXT NOT NULL,
    kind        TEXT NOT NULL,     -- block | time
    host        TEXT NOT NULL,
    path        TEXT NOT NULL,
    reason      TEXT,              -- a decision's reason or the time rule (never content)
    message     TEXT,              -- what the child wrote, short
    event_id    TEXT,
    status      TEXT NOT NULL DEFAULT 'open',   -- open | granted | refused
    decided_by  TEXT,
    decided_ts  REAL,
    override_id INTEGER
);
CREATE INDEX IF NOT EXISTS asks_status ON asks (status, ts);
CREATE TABLE IF NOT EXISTS overrides (
    id         INTEGER PRIMARY KEY,
    ts         REAL NOT NULL,
    client     TEXT NOT NULL,
    user       TEXT,
    scope      TEXT NOT NULL,      -- page | site | minutes
    host       TEXT NOT NULL,
    path       TEXT NOT NULL,
    minutes    INTEGER NOT NULL,
    expires    REAL NOT NULL,
    granted_by TEXT NOT NULL,
    sig        TEXT NOT NULL,      -- HMAC-SHA256 of the fields above (overrides.py)
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS overrides_expires ON overrides (expires);
-- A maintainer's labels of the reports the proxy records in the event database
-- (reportentry.py, table reports): one row once a report is labelled, dismissed or exported.
CREATE TABLE IF NOT EXISTS report_labels (
    report_id  INTEGER PRIMARY KEY,  -- reports.id in the event database
    status     TEXT NOT NULL DEFAULT 'open',   -- open | exported | dismissed
    category   TEXT                 -- label for the corpus, set by a maintainer
);
CREATE TABLE IF NOT EXISTS rollup_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rollup_actions (
    day     INTEGER NOT NULL,      -- local date as an ordinal
    client  TEXT NOT NULL,
    profile TEXT NOT NULL,
    action  TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (day, client, profile, action)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_categories (
    day      INTEGER NOT NULL,
    category TEXT NOT NULL,
    action   TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (day, category, action)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_hosts (
    day    INTEGER NOT NULL,
    host   TEXT NOT NULL,
    action TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (day, host, action)
) WITHOUT ROWID;
"""


def connect(path: str | Path, *, create: bool = True) -> sqlite3.Connection:
    """A connection with rows as ``sqlite3.Row``; creates the file and tables unless
    ``create`` is False (they exist: the dashboard made them at start)."""
    if not create:
        db = sqlite3.connect(str(path), timeout=5)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        private(Path(path))
        db = sqlite3.connect(str(path), timeout=5)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
    db.row_factory = sqlite3.Row
    return db


def private(path: Path) -> None:
    """Make the database file readable by its owner only (0600), created so from the
    start: it holds password hashes, sessions and what children asked for. SQLite gives
    its -wal and -shm files the database's mode; files from an older version are fixed."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for extra in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + extra)
        if side.exists():
            side.chmod(0o600)
