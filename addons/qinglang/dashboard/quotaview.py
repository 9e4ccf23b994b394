"""Minutes used today against each child's daily quota, read from the quota store."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qinglang.policy.config import Config
from qinglang.policy.presets import resolve
from qinglang.policy.quota import QuotaStore, StateUnavailable, epoch_minute
from qinglang.policy.timerules import daily_limit, quota_period
from qinglang.store.backends import ServerURL
from qinglang.store.quota import SqliteQuotaStore


@dataclass(frozen=True, slots=True)
class Usage:
    client: str
    profile: str
    used: int
    limit: int | None  # None: no daily quota for this profile
    extra: int = 0  # minutes granted on top today

    @property
    def percent(self) -> int:
        if not self.limit and not self.extra:
            return 0
        return min(100, round(100 * self.used / max(1, (self.limit or 0) + self.extra)))


def _clients(path: Path, since_minute: int) -> list[tuple[str, str]]:
    """(client, profile of its latest minute) for clients active since ``since_minute``.

    quota.py's store has no "which clients" call; this one read-only query fills that
    gap (see the report: ``QuotaStore.clients_since`` would replace it)."""
    conn = sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro", uri=True, timeout=5)
    try:
        return [
            (c, p)
            for c, p, _m in conn.execute(
                "SELECT client, profile, MAX(minute) FROM quota_minutes WHERE minute >= ?"
                " GROUP BY client ORDER BY client",
                (since_minute,),
            )
        ]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def usage(
    path: Path | None, cfg: Config, now: float, extra: dict[str, int] | None = None
) -> list[Usage]:
    """Today's use per client seen in the last day; ``extra``: granted minutes per client."""
    if path is None or not path.exists():
        return []
    moment = datetime.fromtimestamp(now, UTC)
    clients = _clients(path, epoch_minute(moment) - 24 * 60)
    if not clients:
        return []
    store = SqliteQuotaStore(path)
    try:
        return _usage(store, clients, cfg, moment, extra)
    finally:
        store.close()


def shared_usage(
    url: ServerURL, cfg: Config, now: float, extra: dict[str, int] | None = None
) -> list[Usage]:
    """``usage`` from Redis, where several workers count minutes (qinglang_state); empty
    (logged by the store) while Redis cannot be reached."""
    from qinglang.store.redisstate import RedisQuotaStore

    moment = datetime.fromtimestamp(now, UTC)
    store = RedisQuotaStore(url)
    try:
        clients = store.clients_since(epoch_minute(moment) - 24 * 60)
        return _usage(store, clients, cfg, moment, extra)
    except StateUnavailable:
        return []
    finally:
        store.close()


def _usage(
    store: QuotaStore,
    clients: list[tuple[str, str]],
    cfg: Config,
    moment: datetime,
    extra: dict[str, int] | None,
) -> list[Usage]:
    rules = {}
    out = []
    for client, profile_name in clients:
        profile = cfg.profiles.get(profile_name) or cfg.profile(None)
        if profile_name not in rules:
            rules[profile_name] = resolve(profile).time
        time_rules = rules[profile_name]
        used = store.used_minutes(client, quota_period(time_rules, moment))
        limit = daily_limit(time_rules, moment)
        out.append(Usage(client, profile_name, used, limit, (extra or {}).get(client, 0)))
    return out
