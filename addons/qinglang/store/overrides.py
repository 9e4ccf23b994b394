"""Overrides: a parent's "yes" to an ask-for-access request, as signed records with an
expiry that the proxy consults before its own rules.

Scopes:

- ``page``: this host and path (no query) for this client;
- ``site``: this host and its subdomains for this client;
- ``minutes``: ``minutes`` more minutes for this client today: the daily quota grows by
  that much until ``expires`` (the end of the quota day), and a curfew or category
  schedule is lifted for ``minutes`` from the grant.

Each record carries an HMAC-SHA256 of its fields under the dashboard's secret key; a row
whose signature does not verify (edited by hand, or written by something without the
key) is ignored. ``OverrideStore`` is the proxy's side: an in-memory copy of the live
overrides, re-read only when the database changed (``PRAGMA data_version``), so a look-up
per request costs a pragma and a few comparisons.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from qinglang.policy.hosts import canonical
from qinglang.store import dashdb as dbmod
from qinglang.store import keys
from qinglang.store.events import path_only

log = logging.getLogger(__name__)

SCOPES = ("page", "site", "minutes")


@dataclass(frozen=True, slots=True)
class Override:
    id: int
    ts: float
    client: str  # peer IP address
    user: str | None  # proxy-auth user name: matched instead of the address when set
    scope: str  # page | site | minutes
    host: str
    path: str
    minutes: int
    expires: float
    granted_by: str

    def payload(self) -> bytes:
        parts = (
            str(self.id),
            repr(self.ts),
            self.client,
            self.user or "",
            self.scope,
            self.host,
            self.path,
            str(self.minutes),
            repr(self.expires),
            self.granted_by,
        )
        return "\x1f".join(parts).encode("utf-8")

    def for_client(self, client: str, user: str | None) -> bool:
        """A grant to a proxy log-in follows the pupil; one to a device holds for that
        device's requests without a log-in only: pupils who share an address (a school's
        balancer, a shared computer) never inherit each other's grants."""
        if self.user:
            return user == self.user
        return not user and client == self.client

    def covers(self, host: str, path: str) -> bool:
        if self.scope == "site":
            return host == self.host or host.endswith("." + self.host)
        if self.scope == "page":
            return host == self.host and path == self.path
        return False

    @property
    def lifted_until(self) -> float:
        """For ``minutes``: until when a curfew or schedule is lifted."""
        return min(self.expires, self.ts + self.minutes * 60) if self.scope == "minutes" else 0


def sign(key: bytes, o: Override) -> str:
    return hmac.new(key, o.payload(), hashlib.sha256).hexdigest()


def verify(key: bytes, o: Override, sig: str) -> bool:
    return hmac.compare_digest(sign(key, o), sig)


def _host_path(host: str, url: str) -> tuple[str, str]:
    """Canonical host and the path without query, from a host and a URL or a path."""
    path = url
    if "://" in url:
        parts = urlsplit(url)
        path = parts.path or "/"
        host = host or parts.hostname or ""
    return canonical(host) or "", path_only(path) or "/"


def grant(
    conn: sqlite3.Connection,
    key: bytes,
    *,
    client: str,
    user: str | None,
    scope: str,
    host: str,
    path: str,
    minutes: int,
    expires: float,
    granted_by: str,
    now: float,
) -> Override:
    if scope not in SCOPES:
        raise ValueError(f"unknown override scope {scope!r}")
    if expires <= now:
        raise ValueError("an override must expire in the future")
    h, p = _host_path(host, path)
    with conn:
        cur = conn.execute(
            "INSERT INTO overrides (ts, client, user, scope, host, path, minutes, expires,"
            " granted_by, sig) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '')",
            (now, client, user, scope, h, p, minutes, expires, granted_by),
        )
        o = Override(int(cur.lastrowid or 0), now, client, user, scope, h, p, minutes, expires,
                     granted_by)  # fmt: skip
        conn.execute("UPDATE overrides SET sig = ? WHERE id = ?", (sign(key, o), o.id))
    return o


def revoke(conn: sqlite3.Connection, override_id: int) -> bool:
    with conn:
        return (
            conn.execute(
                "UPDATE overrides SET revoked = 1 WHERE id = ? AND revoked = 0", (override_id,)
            ).rowcount
            > 0
        )


def live(conn: sqlite3.Connection, key: bytes, now: float) -> list[Override]:
    """Unexpired, unrevoked overrides whose signature verifies."""
    out = []
    for r in conn.execute(
        "SELECT id, ts, client, user, scope, host, path, minutes, expires, granted_by, sig"
        " FROM overrides WHERE expires > ? AND revoked = 0 ORDER BY id",
        (now,),
    ):
        o = Override(*tuple(r)[:10])
        if verify(key, o, r[10]):
            out.append(o)
        else:
            log.warning("qinglang: override %d has a bad signature; ignored", o.id)
    return out


def find(
    overrides: Iterable[Override],
    client: str,
    host: str,
    url: str,
    now: float,
    user: str | None = None,
) -> Override | None:
    """The override that lets this request through (page or site scope), if any. Pure."""
    h, p = _host_path(host, url)
    for o in overrides:
        if o.expires > now and o.for_client(client, user) and o.covers(h, p):
            return o
    return None


def extra_minutes(
    overrides: Iterable[Override], client: str, now: float, user: str | None = None
) -> int:
    """Minutes added to today's quota for this client. Pure."""
    return sum(
        o.minutes
        for o in overrides
        if o.scope == "minutes" and o.expires > now and o.for_client(client, user)
    )


def time_lifted(
    overrides: Iterable[Override], client: str, now: float, user: str | None = None
) -> bool:
    """Whether a curfew or category schedule is lifted for this client now. Pure."""
    return any(
        o.scope == "minutes" and o.for_client(client, user) and now < o.lifted_until
        for o in overrides
    )


class OverrideStore:
    """The proxy's view of the overrides: cached, re-read when the file changed."""

    def __init__(self, path: str | Path, key: bytes) -> None:
        self.path = Path(path)
        self.key = key
        self._lock = threading.Lock()
        dbmod.connect(self.path).close()  # create the file and tables
        self._conn = sqlite3.connect(str(self.path), timeout=5, check_same_thread=False)
        self._version = -1
        self._items: tuple[Override, ...] = ()
        self._loaded_at = 0.0

    def _current(self, now: float) -> tuple[Override, ...]:
        with self._lock:
            (version,) = self._conn.execute("PRAGMA data_version").fetchone()
            # Re-read on a change by another connection, and hourly so expired ones go.
            if version != self._version or now - self._loaded_at > 3600:
                try:
                    self._items = tuple(live(self._conn, self.key, now))
                except sqlite3.Error as e:
                    log.error("qinglang: cannot read overrides from %s: %s", self.path, e)
                self._version, self._loaded_at = version, now
            return self._items

    def lookup(
        self, client: str, host: str, url: str, now: float, user: str | None = None
    ) -> Override | None:
        items = self._current(now)
        return find(items, client, host, url, now, user) if items else None

    def extra_minutes(self, client: str, now: float, user: str | None = None) -> int:
        items = self._current(now)
        return extra_minutes(items, client, now, user) if items else 0

    def time_lifted(self, client: str, now: float, user: str | None = None) -> bool:
        items = self._current(now)
        return time_lifted(items, client, now, user) if items else False

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_store(state_db: Path, key_file: Path) -> OverrideStore | None:
    """The dashboard's overrides for the proxy; None (logged) when their files cannot be
    opened: the proxy then runs without a parent's answers."""
    try:
        return OverrideStore(state_db, keys.load_or_create(key_file))
    except (OSError, ValueError, sqlite3.Error) as e:
        # A warning: mitmdump exits on an error logged at start-up; filtering goes on.
        log.warning("qinglang: cannot read the dashboard's overrides (%s): %s", state_db, e)
        return None
