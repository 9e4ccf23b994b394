"""Admin accounts: names and argon2id password hashes, and the audit log of changes.

argon2-cffi's ``PasswordHasher`` gives each hash its own random salt and records its
parameters in the hash, so stronger defaults in a later version still verify old hashes
(and ``check_needs_rehash`` upgrades them at the next sign-in).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8
SESSION_SECONDS = 12 * 3600  # a sign-in lasts this long (the cookie's and the row's)
# Verifying against this when the name is unknown costs the same time as a real check,
# so the response time does not tell which admin names exist.
_DUMMY_HASH = _HASHER.hash("qinglang-no-such-admin")


@dataclass(frozen=True, slots=True)
class Admin:
    name: str
    generation: int


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError("an admin name is 1-64 letters, digits or . _ @ -")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def set_password(db: sqlite3.Connection, name: str, password: str) -> bool:
    """Create the admin or change its password; True if the admin is new."""
    check_name(name)
    check_password(password)
    h = _HASHER.hash(password)
    now = time.time()
    with db:
        cur = db.execute(
            "UPDATE admins SET hash = ?, generation = generation + 1, updated = ? WHERE name = ?",
            (h, now, name),
        )
        if cur.rowcount:
            return False
        db.execute(
            "INSERT INTO admins (name, hash, generation, created, updated) VALUES (?, ?, 1, ?, ?)",
            (name, h, now, now),
        )
    return True


def verify(db: sqlite3.Connection, name: str, password: str) -> Admin | None:
    row = db.execute("SELECT hash, generation FROM admins WHERE name = ?", (name,)).fetchone()
    try:
        _HASHER.verify(row[0] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _HASHER.check_needs_rehash(row[0]):
        with db:
            db.execute("UPDATE admins SET hash = ? WHERE name = ?", (_HASHER.hash(password), name))
    return Admin(name, int(row[1]))


def current(db: sqlite3.Connection, name: str) -> Admin | None:
    row = db.execute("SELECT generation FROM admins WHERE name = ?", (name,)).fetchone()
    return Admin(name, int(row[0])) if row else None


def names(db: sqlite3.Connection) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM admins ORDER BY name")]


def remove(db: sqlite3.Connection, name: str) -> bool:
    with db:
        return db.execute("DELETE FROM admins WHERE name = ?", (name,)).rowcount > 0


def audit(
    db: sqlite3.Connection, user: str, action: str, detail: str = "", address: str | None = None
) -> None:
    """One line of the audit log: who changed what, when. ``detail`` never holds secrets."""
    with db:
        db.execute(
            "INSERT INTO audit (ts, user, address, action, detail) VALUES (?, ?, ?, ?, ?)",
            (time.time(), user, address, action, detail[:2000]),
        )


def audit_log(db: sqlite3.Connection, limit: int = 200) -> list[sqlite3.Row]:
    return db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()


def _sid_key(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def open_session(db: sqlite3.Connection, name: str) -> str:
    """A new session for ``name``: its random id, for the (signed) cookie."""
    sid = secrets.token_urlsafe(32)
    now = time.time()
    with db:
        db.execute("DELETE FROM sessions WHERE created < ?", (now - SESSION_SECONDS,))
        db.execute(
            "INSERT INTO sessions (sid, user, created) VALUES (?, ?, ?)",
            (_sid_key(sid), name, now),
        )
    return sid


def session_live(db: sqlite3.Connection, sid: object, name: str) -> bool:
    """Whether ``sid`` is a session of ``name`` that has not been signed out or expired."""
    if not isinstance(sid, str):
        return False
    row = db.execute(
        "SELECT user, created FROM sessions WHERE sid = ?", (_sid_key(sid),)
    ).fetchone()
    return row is not None and row[0] == name and row[1] >= time.time() - SESSION_SECONDS


def end_session(db: sqlite3.Connection, sid: object) -> None:
    """Sign a session out on the server: its cookie no longer signs anyone in."""
    if isinstance(sid, str):
        with db:
            db.execute("DELETE FROM sessions WHERE sid = ?", (_sid_key(sid),))
