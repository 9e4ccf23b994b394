"""What the dashboard's pages share: ``Dash`` (settings, secret key, databases, config,
templates, sign-in limiter) and ``ConfigCache``; ``StoreUnavailable`` when PostgreSQL
does not answer.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2

from qinglang.dashboard import access, eventlog, reports, stats
from qinglang.dashboard.ratelimit import SlidingWindow
from qinglang.dashboard.settings import Settings
from qinglang.engine.yamlloc import SourceError
from qinglang.policy.clients import ClientMap
from qinglang.policy.config import Config, default_config, load_config
from qinglang.policy.presets import resolve
from qinglang.policy.timerules import quota_period
from qinglang.store import dashdb as dbmod
from qinglang.store import keys, overrides
from qinglang.store.backends import ServerURL

HERE = Path(__file__).resolve().parent
SIGNIN_LIMIT = 5  # failed attempts per address ...
SIGNIN_WINDOW = 300.0  # ... per this many seconds


class ConfigCache:
    """The config file, re-read when it changes; the last good one if an edit broke it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._sig: tuple[int, int] | None = None
        self.config: Config = default_config()
        self.clients = ClientMap(self.config)
        self.error: str | None = None
        self.problem: SourceError | None = None  # the error itself: its text in each language

    def get(self) -> Config:
        if self.path is None:
            return self.config
        try:
            st = self.path.stat()
            sig = (st.st_mtime_ns, st.st_size)
        except OSError:
            sig = (-1, -1)
        if sig != self._sig:
            self._sig = sig
            try:
                self.config = load_config(self.path)
                self.clients = ClientMap(self.config)
                self.error = None
                self.problem = None
            except SourceError as e:
                self.error = str(e)
                self.problem = e
        return self.config


class StoreUnavailable(Exception):
    """PostgreSQL (qinglang_store) does not answer: a page says so (``store_down``)."""

    def __init__(self, where: str) -> None:
        super().__init__(where)
        self.where = where  # the URL without its password


class Dash:
    """What the routes share."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.key = keys.load_or_create(settings.secret_key_file)
        dbmod.connect(settings.state_db).close()
        stats.ensure_event_indexes(settings.events_db)
        self.rollup = stats.Rollup(settings.state_db, settings.events_db, settings.tz)
        self.limiter = SlidingWindow(SIGNIN_LIMIT, SIGNIN_WINDOW)
        self.admin_networks = access.networks(settings.admin_networks)
        self.config = ConfigCache(settings.config_path)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = self.when
        # qinglang_state (scale-out): grants and revocations also go to every worker.
        self.shared: ServerURL | None = None
        # qinglang_store (scale-out): the event list, an event's page, the overview's
        # roll-ups and the reports are in PostgreSQL.
        self.store: ServerURL | None = None
        self._pg_rollup: Any = None  # pgstore.PgRollup for self.store

    def share(self, o: overrides.Override, *, revoked: bool = False) -> None:
        if self.shared is not None:
            from qinglang.store.redisstate import share

            share(self.shared, self.key, o, self.now(), revoked=revoked)

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        conn = dbmod.connect(self.s.state_db, create=False)
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def reports(self) -> Iterator[Any]:
        """The event database's reports (written by the proxy) with this database's labels;
        (qinglang_store) both in PostgreSQL."""
        if self.store is not None:
            from qinglang.dashboard.pgstore import open_db

            with self._pg(open_db) as pg:
                yield pg
            return
        conn = reports.connect(self.s.events_db, self.s.state_db)
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _pg(self, opener: Callable[[ServerURL], Any]) -> Iterator[Any]:
        """A connection to qinglang_store; StoreUnavailable when it is down."""
        import psycopg

        assert self.store is not None
        try:
            conn = opener(self.store)
            try:
                yield conn
            finally:
                conn.close()
        except psycopg.OperationalError:
            raise StoreUnavailable(str(self.store)) from None

    @contextlib.contextmanager
    def rollups(self) -> Iterator[Any]:
        """The overview's roll-ups, brought up to date: in this database, or
        (qinglang_store) in PostgreSQL beside the events."""
        if self.store is None:
            self.rollup.catch_up()
            with self.db() as conn:
                yield conn
            return
        from qinglang.dashboard.pgstore import PgRollup, open_db

        if self._pg_rollup is None or self._pg_rollup.url != self.store:
            self._pg_rollup = PgRollup(self.store, self.s.tz)
        with self._pg(open_db) as pg:
            self._pg_rollup.catch_up(pg)
            yield pg

    @contextlib.contextmanager
    def events(self) -> Iterator[Any]:
        """The event log: the SQLite file, or (qinglang_store) PostgreSQL; None: none yet."""
        if self.store is not None:
            from qinglang.store.pgevents import ReadOnlyEvents

            with self._pg(ReadOnlyEvents) as pg:
                yield pg
            return
        if not self.s.events_db.exists():
            yield None
            return
        conn = eventlog.connect(self.s.events_db)
        try:
            yield conn
        finally:
            conn.close()

    def now(self) -> float:
        return self.s.clock()

    def when(self, ts: float | None) -> str:
        if ts is None:
            return ""
        return datetime.fromtimestamp(ts, self.s.tz).strftime("%Y-%m-%d %H:%M")

    def day_start(self, day: date) -> float:
        tz = self.s.tz
        moment = datetime(day.year, day.month, day.day, tzinfo=tz)
        return moment.timestamp()

    def day_end_for(self, profile_name: str, now: float) -> float:
        """When "today" ends for a child: the end of its profile's quota day."""
        cfg = self.config.get()
        profile = cfg.profiles.get(profile_name) or cfg.profile(None)
        rules = resolve(profile).time
        moment = datetime.fromtimestamp(now, UTC)
        return quota_period(rules, moment).end.timestamp()
