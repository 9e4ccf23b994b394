"""New devices on the overview: a device the proxy has seen that no device entry or
client rule names (it got the default profile), and the one-click "this is Mei's tablet
-> child" that writes a ``devices:`` entry (docs/dashboard.md)."""

from __future__ import annotations

import ipaddress
import re
import sqlite3
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qinglang.dashboard import configedit, eventlog
from qinglang.dashboard.state import Dash
from qinglang.dashboard.views.configfile import write_config
from qinglang.dashboard.web import dash_of, posted
from qinglang.deploy.neighbors import Neighbors
from qinglang.policy.clients import ClientMap
from qinglang.policy.config import Config

NEW_DAYS = 7
MAX_SHOWN = 10


def new_devices(cfg: Config, conn: object, now: float) -> list[str]:
    """Addresses seen in the last week that no device entry or client rule covers."""
    if not isinstance(conn, sqlite3.Connection):  # none yet, or PostgreSQL (scale-out)
        return []
    clients = ClientMap(cfg)
    neighbors = Neighbors() if clients.uses_mac else None
    out: list[str] = []
    for client in eventlog.distinct_values(conn, "client", now - NEW_DAYS * 86400):
        try:
            ip = ipaddress.ip_address(client)
        except ValueError:  # wg:NAME and the like are named already
            continue
        mac = neighbors.mac_of(ip) if neighbors is not None else None
        if not clients.is_known(ip, None, mac):
            out.append(ip.compressed)
        if len(out) >= MAX_SHOWN:
            break
    return out


def slug(label: str, taken: set[str]) -> str:
    """A device name (``[A-Za-z0-9_-]``, 32 characters) from the label the parent typed."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-_")[:24] or "device"
    name, n = base, 2
    while name.lower() in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def overview_part(dash: Dash, cfg: Config, now: float) -> dict[str, Any]:
    """What the overview shows of new devices (called in its worker thread)."""
    with dash.events() as conn:
        found = new_devices(cfg, conn, now)
    return {"new_devices": found, "profiles": list(cfg.profiles)}


@posted
async def device_add(request: Request, user: str, form: FormData) -> Response:
    dash = dash_of(request)
    cfg = dash.config.get()
    ip_text = str(form.get("ip", "")).strip()
    label = str(form.get("label", "")).strip()[:40]
    profile = str(form.get("profile", ""))
    try:
        ip = ipaddress.ip_address(ip_text).compressed
    except ValueError:
        return RedirectResponse("/?device_error=ip", status_code=303)
    if not label or profile not in cfg.profiles:
        return RedirectResponse("/?device_error=form", status_code=303)
    entry = {
        "name": slug(label, {d.name.lower() for d in cfg.devices}),
        "label": label,
        "ip": ip,
        "profile": profile,
    }
    try:
        await run_in_threadpool(
            write_config, dash, request, user,
            lambda text, path: configedit.add_device(text, path, entry),
            None, f"devices added {entry['name']} ({ip})",
        )  # fmt: skip
    except configedit.EditError:
        return RedirectResponse("/?device_error=save", status_code=303)
    return RedirectResponse("/?device_added=1", status_code=303)


@posted
async def devices_edit(request: Request, user: str, form: FormData) -> Response:
    """The Devices page's named devices: a new label or profile, or removed."""
    dash = dash_of(request)
    cfg = dash.config.get()
    changes: dict[str, dict[str, Any] | None] = {}
    for d in cfg.devices:
        if f"label:{d.name}" not in form:
            continue
        if form.get(f"remove:{d.name}") == "on":
            changes[d.name] = None
            continue
        label = str(form.get(f"label:{d.name}", "")).strip()[:40]
        profile = str(form.get(f"profile:{d.name}", d.profile))
        changes[d.name] = {"label": label or None, "profile": profile}
    try:
        await run_in_threadpool(
            write_config, dash, request, user,
            lambda text, path: configedit.edit_devices(text, path, changes),
            str(form.get("digest", "")), "devices edited",
        )  # fmt: skip
    except configedit.EditError:
        return RedirectResponse("/clients?devices_error=1", status_code=303)
    return RedirectResponse("/clients?saved=1", status_code=303)
