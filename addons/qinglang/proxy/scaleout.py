"""Several workers behind a balancer: the options that point every worker at shared servers.

- ``qinglang_store`` = ``postgresql://user:password@host/db``: the event log in PostgreSQL
  (pgevents.py) instead of the SQLite file;
- ``qinglang_state`` = ``redis://:password@host:6379/0``: quota minutes and a parent's
  overrides in Redis (redisstate.py) instead of the SQLite files;
- ``qinglang_config_sha256``: the pinned SHA-256 of a config bundle given by URL as
  ``qinglang_config`` (bundle.py).

Empty options keep the embedded defaults. The modules for the servers (psycopg, redis) are
imported only when an option names one. Every message shows URLs without their passwords.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from mitmproxy import ctx, exceptions
from mitmproxy.addonmanager import Loader

from qinglang.deploy import bundle
from qinglang.policy.forwarded import Forwarded, parse_networks
from qinglang.store import keys
from qinglang.store.backends import ServerURL
from qinglang.store.events import EventStore

if TYPE_CHECKING:
    from qinglang.policy.quota import QuotaTracker
    from qinglang.store.redisstate import RedisOverrides, RedisQuotaStore

log = logging.getLogger(__name__)

OPTIONS = frozenset({"qinglang_store", "qinglang_state"})


def add_options(loader: Loader) -> None:
    loader.add_option(
        "qinglang_store",
        str,
        "",
        "Where events go when several workers share them: postgresql://USER:PASSWORD@HOST"
        "/DB. Empty: the SQLite file (events.db in the config, else confdir).",
    )
    loader.add_option(
        "qinglang_state",
        str,
        "",
        "Where quota minutes and a parent's overrides are shared between workers: "
        "redis://:PASSWORD@HOST:6379/0. Empty: the SQLite files.",
    )
    loader.add_option(
        "qinglang_trusted_proxies",
        str,
        "",
        "Balancers (IP addresses or CIDRs, comma-separated) whose X-Forwarded-For names "
        "the device (HAProxy in HTTP mode with option forwardfor). Empty: none.",
    )
    loader.add_option(
        "qinglang_config_sha256",
        str,
        "",
        "The SHA-256 a config bundle given by URL (qinglang_config=https://...) must have.",
    )


def store_option() -> ServerURL | None:
    value = str(getattr(ctx.options, "qinglang_store", "") or "").strip()
    if not value:
        return None
    from qinglang.store.pgevents import store_url

    return store_url(value)


def state_option() -> ServerURL | None:
    value = str(getattr(ctx.options, "qinglang_state", "") or "").strip()
    if not value:
        return None
    from qinglang.store.redisstate import state_url

    return state_url(value)


def check_options(updated: set[str]) -> None:
    """A malformed URL stops start-up, with the URL shown without its password."""
    try:
        if "qinglang_store" in updated:
            store_option()
        if "qinglang_state" in updated:
            state_option()
    except ValueError as e:
        log.error("qinglang: %s", e)
        raise exceptions.OptionsError(f"qinglang: {e}") from None


def forwarded_option() -> Forwarded:
    try:
        nets = parse_networks(str(getattr(ctx.options, "qinglang_trusted_proxies", "") or ""))
    except ValueError as e:
        log.error("qinglang: %s", e)
        raise exceptions.OptionsError(f"qinglang: {e}") from None
    return Forwarded(nets)


def fetch_config(url: str, sha256: str) -> Path:
    cache = Path(ctx.options.confdir).expanduser() / "bundles"
    try:
        path = bundle.fetch(url, sha256, cache)
    except (bundle.BundleError, OSError) as e:
        log.error("qinglang: %s", e)
        ctx.master.shutdown()  # never run without the pinned rules
        raise exceptions.OptionsError(f"qinglang: {e}") from None
    log.info("qinglang: config bundle %s (SHA-256 verified) in %s", bundle.redact(url), path)
    return path


def event_store(url: ServerURL | None, path: str, retention_days: float) -> EventStore:
    if url is None:
        return EventStore(path, retention_days)
    from qinglang.store.pgevents import PgEventStore

    return PgEventStore(url, retention_days)


def quota_store(url: ServerURL, retention_days: int) -> RedisQuotaStore:
    from qinglang.store.redisstate import RedisQuotaStore

    store = RedisQuotaStore(url, retention_days=retention_days)
    if not store.ping():  # the guarded call logged why
        log.warning("qinglang: quota minutes will be shared through %s once it answers", url)
    return store


def shared_overrides(url: ServerURL, key_file: Path) -> RedisOverrides | None:
    """A parent's overrides from Redis, verified with the dashboard's key (the same key
    file on every worker); None (logged) when the key cannot be read."""
    from qinglang.store.redisstate import RedisOverrides

    try:
        return RedisOverrides(url, keys.load_or_create(key_file))
    except (OSError, ValueError) as e:
        log.warning("qinglang: cannot read the dashboard's key %s: %s", key_file, e)
        return None


def where_quota(tracker: QuotaTracker | None, key: tuple[str, int] | None) -> str:
    if tracker is not None and getattr(tracker.store, "shared", False):
        return str(getattr(tracker.store, "url", "(shared)"))
    return key[0] if key and key[0] else "(memory)"
