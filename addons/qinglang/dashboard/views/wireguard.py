"""WireGuard devices: their setup page and each device's .conf download."""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from qinglang.dashboard import wgpage
from qinglang.dashboard.state import Dash
from qinglang.dashboard.web import dash_of, lang_of, record_audit, render, signed_in
from qinglang.pages.i18n import translator


def _wg_host(request: Request) -> str:
    """The Endpoint host: the address this browser reached the dashboard at, unless the
    proxy says otherwise (``qinglang_lan_host``, or its outgoing address for loopback)."""
    dash = dash_of(request)
    server = request.scope.get("server") or ("", 0)
    seen = str(server[0]) if server[0] else None
    if dash.s.wireguard_endpoint is not None:
        return dash.s.wireguard_endpoint(seen)
    return seen or "127.0.0.1"


def _wg_dir(dash: Dash) -> Path:
    return dash.s.data_dir or dash.s.secret_key_file.parent


@signed_in
async def wireguard_page(request: Request, user: str) -> Response:
    dash = dash_of(request)
    cfg = dash.config.get()
    host = _wg_host(request)
    rows = await run_in_threadpool(wgpage.views, cfg, _wg_dir(dash), host)
    if rows:
        names = ", ".join(d.name for d in cfg.wireguard_devices)
        await run_in_threadpool(record_audit, dash, request, user, "wireguard.view", names)
    return await render(request, "wireguard.html", {"rows": rows, "host": host})


@signed_in
async def wireguard_conf(request: Request, user: str) -> Response:
    dash = dash_of(request)
    device = wgpage.find(dash.config.get(), request.path_params["name"])
    conf = None
    if device is not None:
        try:
            conf = await run_in_threadpool(
                wgpage.device_conf, device, _wg_dir(dash), _wg_host(request)
            )
        except ValueError:
            conf = None
    if device is None or conf is None:
        t = translator(lang_of(request))
        return await render(request, "message.html", {"message": t("wg.none")}, status=404)
    await run_in_threadpool(record_audit, dash, request, user, "wireguard.download", device.name)
    return Response(
        conf,
        media_type="text/plain; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="qinglang-{device.name}.conf"'},
    )
