"""The DNS query log (DNS mode's events, docs/dns-mode.md) per device, with "block this
site" and "allow this site", which write the device's profile's lists."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qinglang.dashboard import configedit, eventlog
from qinglang.dashboard.views.configfile import write_config
from qinglang.dashboard.web import dash_of, posted, render, signed_in
from qinglang.policy.urlrules import normalize_domain

ROWS = 100


@signed_in
async def dns_page(request: Request, user: str) -> Response:
    dash = dash_of(request)
    q = request.query_params
    f = eventlog.Filters(client=q.get("client") or None, host=q.get("host") or None, dns=True)

    def work() -> dict[str, Any]:
        with dash.events() as conn:
            if conn is None:
                return {"rows": [], "clients": []}
            page = eventlog.query(conn, f, limit=ROWS)
            try:
                rows = conn.execute(
                    "SELECT DISTINCT client FROM events WHERE path LIKE ? ORDER BY 1", ("dns:%",)
                )
                clients = [r["client"] if isinstance(r, dict) else r[0] for r in rows]
            except Exception:  # an event log of another schema (PostgreSQL): no menu
                clients = []
        return {"rows": page.rows, "clients": clients}

    data = await run_in_threadpool(work)
    cfg = dash.config.get()
    lists = {name: (set(p.allow_domains), set(p.deny_domains)) for name, p in cfg.profiles.items()}
    return await render(
        request,
        "dnslog.html",
        {
            **data,
            "q": q,
            "lists": lists,
            "saved": q.get("saved"),
            "error": q.get("error"),
            "editable": dash.s.config_path is not None,
        },
    )


@posted
async def dns_site(request: Request, user: str, form: FormData) -> Response:
    """Block or allow a site (and its subdomains) for a profile."""
    dash = dash_of(request)
    cfg = dash.config.get()
    profile = str(form.get("profile", ""))
    verb = str(form.get("do", ""))
    back = str(form.get("client", ""))
    try:
        host = normalize_domain(str(form.get("host", "")))
    except ValueError:
        return RedirectResponse("/dns?error=host", status_code=303)
    p = cfg.profiles.get(profile)
    if p is None or verb not in ("block", "allow"):
        return RedirectResponse("/dns?error=form", status_code=303)
    allow = [d for d in p.allow_domains if d != host]
    deny = [d for d in p.deny_domains if d != host]
    (deny if verb == "block" else allow).append(host)
    changes = {"allow_domains": allow or None, "deny_domains": deny or None}
    try:
        await run_in_threadpool(
            write_config, dash, request, user,
            lambda text, path: configedit.edit_profile(text, path, profile, changes),
            None, f"profile {verb} {host} for {profile}",
        )  # fmt: skip
    except configedit.EditError:
        return RedirectResponse("/dns?error=save", status_code=303)
    suffix = f"&client={back}" if back else ""
    return RedirectResponse(f"/dns?saved={verb}{suffix}", status_code=303)
