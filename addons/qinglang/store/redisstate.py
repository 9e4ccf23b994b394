"""Quota minutes and a parent's overrides in Redis, shared by every worker (``qinglang_state``).

- ``RedisQuotaStore`` (quota.QuotaStore): one sorted set of counted epoch minutes per client
  (``qinglang:quota:<client>``), so a minute counted through one worker is seen by all; a
  ``ZADD NX`` says whether the minute is new. Keys expire after the retention.
- ``RedisOverrides``: the dashboard publishes each signed override (dashboard/overrides.py)
  to the hash ``qinglang:overrides`` and bumps ``qinglang:overrides:version``; each worker
  keeps a copy, checks the version at most once a second and verifies every signature with
  the dashboard's secret key (the same key file on every worker).

The proxy calls these from its event loop, so every call is bounded: half a second to
connect or answer, and after a failure the server is left alone for ``retry_seconds`` (calls
fail at once with ``StateUnavailable``) instead of making every request wait. What a
request then gets is the profile's ``on_error`` (proxyaddon.py); overrides keep the last
copy read.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import redis

from qinglang.policy.quota import StateUnavailable, epoch_minute
from qinglang.policy.timerules import QuotaPeriod
from qinglang.store import overrides as ov
from qinglang.store.backends import STATE_SCHEMES, ServerURL, parse

log = logging.getLogger(__name__)

PREFIX = "qinglang:"
OVERRIDES = PREFIX + "overrides"
VERSION = PREFIX + "overrides:version"
CLIENTS = PREFIX + "quota:clients"  # sorted set: client -> latest counted minute
PROFILES = PREFIX + "quota:profiles"  # hash: client -> profile of that minute
TIMEOUT = 0.5  # seconds, to connect and to answer
_T = TypeVar("_T")


def state_url(url: str) -> ServerURL:
    return parse(url, STATE_SCHEMES, "qinglang_state")


def client_for(url: ServerURL) -> redis.Redis:
    return redis.Redis.from_url(
        url.url,
        socket_timeout=TIMEOUT,
        socket_connect_timeout=TIMEOUT,
        health_check_interval=30,
        decode_responses=True,
    )


class _Guarded:
    """Calls to one Redis server; after a failure it is skipped for ``retry_seconds``."""

    def __init__(self, url: ServerURL, retry_seconds: float) -> None:
        self.url = url
        self.retry_seconds = retry_seconds
        self.redis = client_for(url)
        self._down_until = 0.0
        self._lock = threading.Lock()

    def call(self, what: Callable[[redis.Redis], _T]) -> _T:
        if time.monotonic() < self._down_until:
            raise StateUnavailable(f"{self.url} is unreachable")
        try:
            return what(self.redis)
        except redis.RedisError as e:
            with self._lock:
                first = self._down_until == 0.0
                self._down_until = time.monotonic() + self.retry_seconds
            if first:
                log.warning(
                    "qinglang: the shared state %s is unreachable (%s); each profile's "
                    "on_error applies until it answers",
                    self.url,
                    self.url.scrub(str(e)),
                )
            raise StateUnavailable(f"{self.url} is unreachable") from None

    def up(self) -> None:
        if self._down_until:
            self._down_until = 0.0
            log.info("qinglang: the shared state %s answers again", self.url)

    def close(self) -> None:
        self.redis.close()


class RedisQuotaStore:
    """Active minutes in Redis, shared by every worker (quota.QuotaStore)."""

    shared = True  # QuotaTracker re-reads the count once a minute per client

    def __init__(
        self, url: ServerURL, *, retention_days: int = 40, retry_seconds: float = 5.0
    ) -> None:
        self.url = url
        self.retention = retention_days * 1440
        self._r = _Guarded(url, retry_seconds)

    def _key(self, client: str) -> str:
        return f"{PREFIX}quota:{client}"

    def ping(self) -> bool:
        try:
            return bool(self._r.call(lambda r: r.ping()))
        except StateUnavailable:
            return False

    def record_minute(self, client: str, profile: str, minute: int) -> bool:
        key = self._key(client)

        def work(r: redis.Redis) -> Any:
            p = r.pipeline(transaction=False)
            p.zadd(key, {str(minute): minute}, nx=True)
            p.zremrangebyscore(key, "-inf", minute - self.retention)
            p.expire(key, self.retention * 60)
            # Who was active when, and in which profile: the dashboard's quota page.
            p.zadd(CLIENTS, {client: minute})
            p.hset(PROFILES, client, profile)
            return p.execute()

        added = self._r.call(work)[0]
        self._r.up()
        return int(added) > 0

    def used_minutes(self, client: str, day: QuotaPeriod) -> int:
        start, end = epoch_minute(day.start), epoch_minute(day.end)
        n = self._r.call(lambda r: r.zcount(self._key(client), start, f"({end}"))
        self._r.up()
        return int(n)

    def recent_minutes(self, client: str, since: int) -> list[int]:
        found = self._r.call(lambda r: r.zrangebyscore(self._key(client), since, "+inf"))
        self._r.up()
        return sorted(int(m) for m in cast(list[str], found))

    def clients_since(self, since: int) -> list[tuple[str, str]]:
        """(client, profile of its latest minute) for clients active since ``since``."""

        def work(r: redis.Redis) -> list[tuple[str, str]]:
            r.zremrangebyscore(CLIENTS, "-inf", since - self.retention)
            found: list[str] = sorted(cast(list[str], r.zrangebyscore(CLIENTS, since, "+inf")))
            profiles = cast(list[str | None], r.hmget(PROFILES, found)) if found else []
            return [(c, p or "") for c, p in zip(found, profiles, strict=True)]

        return self._r.call(work)

    def close(self) -> None:
        self._r.close()


def _fields(o: ov.Override) -> tuple[Any, ...]:
    return (
        o.id,
        o.ts,
        o.client,
        o.user,
        o.scope,
        o.host,
        o.path,
        o.minutes,
        o.expires,
        o.granted_by,
    )


def publish(url: ServerURL, key: bytes, o: ov.Override, now: float) -> None:
    """Share a granted override with every worker (called by the dashboard). Expired
    records are removed on the way."""
    sig = ov.sign(key, o)
    r = client_for(url)
    try:
        every = cast(dict[str, str], r.hgetall(OVERRIDES))
        stale = [f for f, v in every.items() if _expired(v, now)]
        p = r.pipeline()
        if stale:
            p.hdel(OVERRIDES, *stale)
        p.hset(OVERRIDES, sig, json.dumps({"fields": _fields(o), "sig": sig}))
        p.incr(VERSION)
        p.execute()
    finally:
        r.close()


def withdraw(url: ServerURL, key: bytes, o: ov.Override) -> None:
    """Take a revoked override back from every worker."""
    r = client_for(url)
    try:
        p = r.pipeline()
        p.hdel(OVERRIDES, ov.sign(key, o))
        p.incr(VERSION)
        p.execute()
    finally:
        r.close()


def share(url: ServerURL, key: bytes, o: ov.Override, now: float, *, revoked: bool) -> None:
    """``publish`` or ``withdraw`` for the dashboard: a Redis failure is logged, and the
    grant stays in the dashboard's own database (its worker applies it; the others when
    it is granted again)."""
    try:
        if revoked:
            withdraw(url, key, o)
        else:
            publish(url, key, o, now)
    except redis.RedisError as e:
        log.warning(
            "qinglang: cannot share override %d through %s: %s", o.id, url, url.scrub(str(e))
        )


def _expired(value: str, now: float) -> bool:
    try:
        return float(json.loads(value)["fields"][8]) <= now
    except (ValueError, KeyError, IndexError, TypeError):
        return True


class RedisOverrides:
    """The proxy's view of the shared overrides: a copy, re-read when the version moved
    (checked at most every ``check_seconds``). Same questions as OverrideStore."""

    def __init__(
        self,
        url: ServerURL,
        key: bytes,
        *,
        check_seconds: float = 1.0,
        retry_seconds: float = 5.0,
    ) -> None:
        self.url = url
        self.key = key
        self.check_seconds = check_seconds
        self._r = _Guarded(url, retry_seconds)
        self._version: str | None = None
        self._checked = -check_seconds
        self._items: tuple[ov.Override, ...] = ()

    def _read(self, r: redis.Redis) -> tuple[str | None, dict[str, str]]:
        p = r.pipeline()
        p.get(VERSION)
        p.hgetall(OVERRIDES)
        version, found = p.execute()
        return version, found

    def _current(self, now: float) -> tuple[ov.Override, ...]:
        tick = time.monotonic()
        if tick - self._checked < self.check_seconds:
            return self._items
        self._checked = tick
        try:
            version = self._r.call(lambda r: r.get(VERSION))
            if version != self._version or not version:
                version, found = self._r.call(self._read)
                self._items = tuple(self._verified(found, now))
                self._version = version
            self._r.up()
        except StateUnavailable:
            pass  # the last copy holds; their expiry times still apply
        return self._items

    def _verified(self, found: dict[str, str], now: float) -> list[ov.Override]:
        out = []
        for value in found.values():
            try:
                rec = json.loads(value)
                o = ov.Override(*rec["fields"])
                sig = str(rec["sig"])
            except (ValueError, KeyError, TypeError):
                continue
            if o.expires <= now:
                continue
            if ov.verify(self.key, o, sig):
                out.append(o)
            else:
                log.warning("qinglang: shared override %d has a bad signature; ignored", o.id)
        return out

    def lookup(
        self, client: str, host: str, url: str, now: float, user: str | None = None
    ) -> ov.Override | None:
        items = self._current(now)
        return ov.find(items, client, host, url, now, user) if items else None

    def extra_minutes(self, client: str, now: float, user: str | None = None) -> int:
        items = self._current(now)
        return ov.extra_minutes(items, client, now, user) if items else 0

    def time_lifted(self, client: str, now: float, user: str | None = None) -> bool:
        items = self._current(now)
        return ov.time_lifted(items, client, now, user) if items else False

    def close(self) -> None:
        self._r.close()
