"""A parent's answers in the proxy: the dashboard's signed overrides (dashboard/overrides.py)
consulted by ``Qinglang.request`` before its own rules.

- ``this page`` / ``this site``: the request passes without the request rules, the time
  rules or the scan of its response;
- ``30 more minutes today``: the daily quota grows by the granted minutes, and a curfew or
  a category schedule is lifted for that long (the quota still counts).

The store lives in the dashboard's database and key file, found as the dashboard finds
them (its ``dashboard:`` section, relative to the config file, else mitmproxy's confdir).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from qinglang.engine.verdict import ALLOW, Action, Decision, Reason
from qinglang.policy import timerules
from qinglang.policy.config import Config
from qinglang.policy.timerules import QuotaState
from qinglang.policy.urlrules import RequestRules
from qinglang.store import keys
from qinglang.store.overrides import Override, OverrideStore
from qinglang.store.paths import dashboard_files

log = logging.getLogger(__name__)


class Overrides(Protocol):
    """What the proxy asks of the overrides: the dashboard's SQLite file (OverrideStore)
    or, for several workers, Redis (redisstate.RedisOverrides)."""

    def lookup(
        self, client: str, host: str, url: str, now: float, user: str | None = None
    ) -> Override | None: ...

    def extra_minutes(self, client: str, now: float, user: str | None = None) -> int: ...

    def time_lifted(self, client: str, now: float, user: str | None = None) -> bool: ...

    def close(self) -> None: ...


def store_paths(cfg: Config, config_path: str | None, confdir: str) -> tuple[Path, Path]:
    """(state database, key file) as the dashboard resolves them."""
    d = cfg.dashboard
    s = dashboard_files(d.db, d.secret_key, config_path=config_path, confdir=confdir)
    return s.state_db, s.secret_key_file


def open_store(state_db: Path, key_file: Path) -> OverrideStore | None:
    """The store; None (logged) when its files cannot be opened: no overrides then."""
    try:
        return OverrideStore(state_db, keys.load_or_create(key_file))
    except (OSError, ValueError, sqlite3.Error) as e:
        # A warning: mitmdump exits on an error logged at start-up; filtering goes on.
        log.warning("qinglang: cannot read the dashboard's overrides (%s): %s", state_db, e)
        return None


def with_extra(
    store: Overrides, quota: QuotaState | None, client: str, user: str | None, ts: float
) -> QuotaState | None:
    """The quota state with granted minutes taken off what was used (limit + extra)."""
    if quota is None:
        return None
    extra = store.extra_minutes(client, ts, user)
    return replace(quota, used=max(0, quota.used - extra)) if extra else quota


def lift(
    d: Decision,
    rules: RequestRules,
    now: datetime,
    quota: QuotaState | None,
    store: Overrides,
    client: str,
    user: str | None,
) -> Decision:
    """A curfew or schedule verdict, lifted while granted minutes last; the daily quota
    (with the granted minutes added) still holds."""
    if d.action != Action.TIMEUP or d.reason not in (Reason.CURFEW, Reason.SCHEDULE):
        return d
    if not store.time_lifted(client, now.timestamp(), user):
        return d
    t = rules.rules.time
    if timerules.quota_exhausted(t, now, quota):
        return Decision(Action.TIMEUP, Reason.QUOTA, returns_at=timerules.next_reset(t, now))
    return ALLOW
