"""Where the dashboard finds its files and how it listens.

``DashboardConfig`` is the proposed ``dashboard:`` section of ``qinglang.yaml`` (see
README.md); ``Settings`` is what ``create_app`` takes, with every path resolved.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictBool, StrictStr

DB_NAME = "qinglang-dashboard.sqlite"
KEY_NAME = "qinglang-dashboard.key"
QUOTA_NAME = "qinglang-quota.sqlite"
EVENTS_NAME = "qinglang-events.sqlite"
DEFAULT_CONFDIR = "~/.mitmproxy"
# The machine itself may always sign in (the parent at the proxy's own screen); a child
# reaching the loopback address through the proxy is stopped by the proxy (see
# README.md, "Who can reach it").
DEFAULT_ADMIN_NETWORKS = ("127.0.0.1/32", "::1/128")


def _listen(v: str) -> str:
    parse_listen(v)
    return v


def _network(v: str) -> str:
    try:
        return str(ipaddress.ip_network(v, strict=False))
    except ValueError:
        raise ValueError(f"not an IP address or CIDR: {v!r}") from None


class DashboardConfig(BaseModel):
    """The ``dashboard:`` section of the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: StrictBool = True
    listen: Annotated[StrictStr, AfterValidator(_listen)] = "0.0.0.0:8081"
    db: StrictStr | None = None  # default: qinglang-dashboard.sqlite in confdir
    secret_key: StrictStr | None = None  # default: qinglang-dashboard.key in confdir
    tls_cert: StrictStr | None = None  # PEM certificate chain: serve HTTPS (Secure cookies)
    tls_key: StrictStr | None = None
    admin_networks: list[Annotated[StrictStr, AfterValidator(_network)]] = list(
        DEFAULT_ADMIN_NETWORKS
    )


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` -> (host, port)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"listen is host:port, e.g. 0.0.0.0:8081, not {text!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


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


def _under(base: Path, value: str | None, default: str) -> Path:
    p = Path(value).expanduser() if value else Path(default)
    return p if p.is_absolute() else (base / p)


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
    base = cfg.parent if cfg else cdir
    extra.setdefault("data_dir", cdir)
    return Settings(
        config_path=cfg,
        events_db=Path(events_db) if events_db else cdir / EVENTS_NAME,
        state_db=_under(base, dash.db, str(cdir / DB_NAME)),
        secret_key_file=_under(base, dash.secret_key, str(cdir / KEY_NAME)),
        quota_db=Path(quota_db) if quota_db else cdir / QUOTA_NAME,
        tls=bool(dash.tls_cert),
        admin_networks=tuple(dash.admin_networks),
        **extra,
    )
