"""What the dashboard app is given: ``Settings``, with every path resolved from the config's
``dashboard:`` section (``policy.config.DashboardConfig``) and mitmproxy's confdir."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from qinglang.policy.config import DEFAULT_ADMIN_NETWORKS, DashboardConfig
from qinglang.store.paths import DEFAULT_CONFDIR, EVENTS_NAME, QUOTA_NAME, dashboard_files


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``create_app`` needs. Paths are absolute."""

    config_path: Path | None  # qinglang.yaml; None: the built-in default (read-only)
    events_db: Path
    state_db: Path  # admins, audit, asks, overrides, reports, roll-ups
    secret_key_file: Path
    quota_db: Path | None = None
    tls: bool = False  # served over HTTPS: cookies get the Secure flag
    admin_networks: tuple[str, ...] = DEFAULT_ADMIN_NETWORKS
    tz: tzinfo | None = None  # days of the overview; None: this machine's local time
    clock: Callable[[], float] = field(default=time.time)
    # Where the dashboard is reachable, shown on the child's pages' links (proxy-answered).
    public_url: str | None = None
    # Where the WireGuard key files are (``DATA/wireguard/NAME.conf``); None: confdir.
    data_dir: Path | None = None
    # The host a device's WireGuard Endpoint names, from the local address the parent's
    # browser reached; None: that address itself.
    wireguard_endpoint: Callable[[str | None], str] | None = None


def settings_for(
    dash: DashboardConfig,
    *,
    config_path: str | Path | None,
    confdir: str | Path = DEFAULT_CONFDIR,
    events_db: str | Path | None = None,
    quota_db: str | Path | None = None,
    **extra: Any,
) -> Settings:
    """Resolve the section's paths: relative to the config file's folder when set there,
    else in mitmproxy's confdir (where the CA and the event log live)."""
    cdir = Path(confdir).expanduser().resolve()
    cfg = Path(config_path).resolve() if config_path else None
    files = dashboard_files(dash.db, dash.secret_key, config_path=config_path, confdir=confdir)
    extra.setdefault("data_dir", cdir)
    return Settings(
        config_path=cfg,
        events_db=Path(events_db) if events_db else cdir / EVENTS_NAME,
        state_db=files.state_db,
        secret_key_file=files.secret_key_file,
        quota_db=Path(quota_db) if quota_db else cdir / QUOTA_NAME,
        tls=bool(dash.tls_cert),
        admin_networks=tuple(dash.admin_networks),
        **extra,
    )
