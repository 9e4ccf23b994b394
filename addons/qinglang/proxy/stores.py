"""The proxy's stores: the event log, the quota minutes and a parent's overrides, each
opened once and again only when the config or an option moves it (SQLite files in the
confdir by default; PostgreSQL and Redis for several workers, see ``scaleout``)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from mitmproxy import ctx

from qinglang.policy.config import Config
from qinglang.policy.decide import Overrides
from qinglang.policy.quota import QuotaTracker
from qinglang.proxy import scaleout
from qinglang.store.events import EventStore
from qinglang.store.overrides import open_store
from qinglang.store.paths import EVENTS_NAME, dashboard_files, quota_db_path
from qinglang.store.quota import SqliteQuotaStore

log = logging.getLogger(__name__)


class Stores:
    def __init__(self) -> None:
        self.events: EventStore | None = None
        self._events_key: tuple[str, float] | None = None
        self.quota: QuotaTracker | None = None
        self._quota_key: tuple[str, int] | None = None
        # A parent's answers from the dashboard; None: no dashboard.
        self.overrides: Overrides | None = None
        self._overrides_key: tuple[str, str] | None = None

    def open(self, cfg: Config, *, overrides: bool = True) -> None:
        self.open_events(cfg)
        self.open_quota(cfg)
        if overrides:
            self.open_overrides(cfg)

    def close(self) -> None:
        if self.events is not None:
            self.events.close()
            self.events = None
        if self.quota is not None:
            self.quota.store.close()
            self.quota, self._quota_key = None, None
        if self.overrides is not None:
            self.overrides.close()
            self.overrides, self._overrides_key = None, None

    def open_events(self, cfg: Config) -> None:
        ev = cfg.events
        if not ev.enabled:
            if self.events is not None:
                self.events.close()
            self.events, self._events_key = None, None
            return
        url = scaleout.store_option()
        if url is not None:
            key: tuple[str, float] = (url.url, ev.retention_days)
        else:
            db = ev.db or str(Path(ctx.options.confdir).expanduser() / EVENTS_NAME)
            key = (str(Path(db).expanduser()), ev.retention_days)
        if key == self._events_key:
            return
        new = scaleout.event_store(url, key[0], ev.retention_days)
        if self.events is not None:
            self.events.close()
        self.events, self._events_key = new, key

    def open_overrides(self, cfg: Config) -> None:
        """The dashboard's overrides (opened once, again only when their files move)."""
        option = str(getattr(ctx.options, "qinglang_dashboard", "") or "").strip().lower()
        state = scaleout.state_option()
        # With the shared state every worker enforces the grants, whether or not it runs a
        # dashboard of its own (qinglang_dashboard=off on the others of one machine).
        on = state is not None or (option != "off" and (bool(option) or cfg.dashboard.enabled))
        d = cfg.dashboard
        files = dashboard_files(
            d.db,
            d.secret_key,
            config_path=ctx.options.qinglang_config or None,
            confdir=ctx.options.confdir,
        )
        where = state.url if state is not None else str(files.state_db)
        key = (where, str(files.secret_key_file)) if on else None
        if key == self._overrides_key and (key is None or self.overrides is not None):
            return
        if self.overrides is not None:
            self.overrides.close()
        if not on:
            self.overrides = None
        elif state is not None:
            self.overrides = scaleout.shared_overrides(state, files.secret_key_file)
        else:
            self.overrides = open_store(files.state_db, files.secret_key_file)
        self._overrides_key = key

    def open_quota(self, cfg: Config) -> QuotaTracker:
        """The quota database (opened once, again only when its path changes)."""
        state = scaleout.state_option()
        path = quota_db_path(cfg, ctx.options.confdir)
        key = (state.url if state else str(path), cfg.quota.retention_days)
        if self.quota is not None and key == self._quota_key:
            return self.quota
        if state is not None:
            shared = scaleout.quota_store(state, cfg.quota.retention_days)
            if self.quota is not None:
                self.quota.store.close()
            self.quota, self._quota_key = QuotaTracker(shared), key
            return self.quota
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            store = SqliteQuotaStore(path, retention_days=cfg.quota.retention_days)
        except (OSError, sqlite3.Error) as e:
            # Limits still hold while the proxy runs; only a restart forgets the minutes.
            log.error(
                "qinglang: cannot open the quota database %s (%s); minutes are kept "
                "in memory until it can be opened",
                path,
                e,
            )
            store = SqliteQuotaStore(":memory:", retention_days=cfg.quota.retention_days)
            key = ("", 0)
        if self.quota is not None:
            self.quota.store.close()
        self.quota, self._quota_key = QuotaTracker(store), key
        return self.quota

    def where_quota(self) -> str:
        return scaleout.where_quota(self.quota, self._quota_key)
