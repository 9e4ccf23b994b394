"""The client map editor: which device gets which profile, and the default."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qinglang.dashboard import configedit
from qinglang.dashboard.views.configfile import write_config
from qinglang.dashboard.web import dash_of, lang_of, posted, render, signed_in
from qinglang.policy.config import Device, NamedDevice


@signed_in
async def clients_page(request: Request, user: str) -> Response:
    return await _clients_form(request, None, None)


async def _clients_form(
    request: Request, error: str | None, rows: list[dict[str, str]] | None, status: int = 200
) -> Response:
    dash = dash_of(request)
    cfg = dash.config.get()
    path = dash.s.config_path
    text = configedit.read(path) if path else ""
    if rows is None:
        rows = [
            {"kind": "match" if r.match else "user" if r.user else "listener",
             "value": r.match or r.user or str(r.listener or ""), "profile": r.profile}
            for r in cfg.clients
        ]  # fmt: skip
    return await render(
        request,
        "clients.html",
        {
            "rows": rows,
            "profiles": list(cfg.profiles),
            "default_profile": cfg.default_profile,
            "error": error,
            "saved": request.query_params.get("saved"),
            "editable": path is not None,
            "digest": configedit.digest(text),
            "devices": [_device_row(d) for d in cfg.devices],
            "devices_error": request.query_params.get("devices_error"),
        },
        status=status,
    )


def _device_row(d: Device | NamedDevice) -> dict[str, Any]:
    """A ``devices:`` entry as the Devices page shows it."""
    if isinstance(d, Device):
        key, removable = f"WireGuard UDP {d.wireguard_port}", False
    else:
        key = d.ip or (f"MAC {d.mac}" if d.mac else f"user {d.user}")
        removable = True
    return {"name": d.name, "label": d.label or "", "profile": d.profile, "key": key,
            "removable": removable}  # fmt: skip


@posted
async def clients_save(request: Request, user: str, form: FormData) -> Response:
    dash = dash_of(request)
    count = min(int(str(form.get("count", "0")) or 0), 1000)
    rows: list[dict[str, Any] | None] = []
    shown: list[dict[str, str]] = []
    for i in range(count + 1):  # the last row is the empty "add" row
        kind = str(form.get(f"kind{i}", "match"))
        value = str(form.get(f"value{i}", "")).strip()
        profile = str(form.get(f"profile{i}", ""))
        removed = form.get(f"remove{i}") == "on"
        if kind not in ("match", "user", "listener"):
            kind = "match"
        if removed or not value:
            rows.append(None)
            continue
        # A listener is a port number in the config (validated there).
        rule: dict[str, Any] = {kind: int(value) if kind == "listener" and value.isdigit()
                                else value, "profile": profile}  # fmt: skip
        rows.append(rule)
        shown.append({"kind": kind, "value": value, "profile": profile})
    default = str(form.get("default_profile", "")) or None
    try:
        await run_in_threadpool(
            write_config, dash, request, user,
            lambda text, path: configedit.edit_clients(text, path, rows, default),
            str(form.get("digest", "")), "clients edited",
        )  # fmt: skip
    except configedit.EditError as e:
        return await _clients_form(request, e.text(lang_of(request)), shown, status=400)
    return RedirectResponse("/clients?saved=1", status_code=303)
