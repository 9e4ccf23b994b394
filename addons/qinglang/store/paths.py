"""Where each store lives when the config does not say: file names, mitmproxy's confdir, and
the dashboard's database and key file (found by the dashboard and by the proxy alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qinglang.policy.config import Config

DB_NAME = "qinglang-dashboard.sqlite"
KEY_NAME = "qinglang-dashboard.key"
QUOTA_NAME = "qinglang-quota.sqlite"
EVENTS_NAME = "qinglang-events.sqlite"
DEFAULT_CONFDIR = "~/.mitmproxy"


def _under(base: Path, value: str | None, default: str) -> Path:
    p = Path(value).expanduser() if value else Path(default)
    return p if p.is_absolute() else (base / p)


@dataclass(frozen=True, slots=True)
class DashboardFiles:
    state_db: Path  # admins, audit, asks, overrides, reports, roll-ups
    secret_key_file: Path


def dashboard_files(
    db: str | None, secret_key: str | None, *, config_path: str | Path | None, confdir: str | Path
) -> DashboardFiles:
    """The ``dashboard:`` section's ``db`` and ``secret_key``: relative to the config file's
    folder when set there, else in mitmproxy's confdir (where the CA and the event log
    live)."""
    cdir = Path(confdir).expanduser().resolve()
    cfg = Path(config_path).resolve() if config_path else None
    base = cfg.parent if cfg else cdir
    return DashboardFiles(
        state_db=_under(base, db, str(cdir / DB_NAME)),
        secret_key_file=_under(base, secret_key, str(cdir / KEY_NAME)),
    )


def events_db_path(cfg: Config, confdir: str | Path) -> Path:
    if cfg.events.db:
        return Path(cfg.events.db).expanduser()
    return Path(confdir).expanduser() / EVENTS_NAME


def quota_db_path(cfg: Config, confdir: str | Path) -> Path:
    """``quota.db`` from the config, else next to the event log (mitmproxy's confdir
    unless ``events.db`` puts the log elsewhere)."""
    if cfg.quota.db:
        return Path(cfg.quota.db).expanduser()
    return events_db_path(cfg, confdir).parent / QUOTA_NAME
