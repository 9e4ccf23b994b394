"""A child's asks: answering them (grant or refuse), and revoking live overrides."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qinglang.dashboard import accounts, asks
from qinglang.dashboard.web import client_address, dash_of, posted, render, signed_in
from qinglang.store import overrides


@signed_in
async def asks_page(request: Request, user: str) -> Response:
    dash = dash_of(request)
    now = dash.now()

    def work() -> dict[str, Any]:
        with dash.db() as conn:
            return {
                "open": asks.open_requests(conn),
                "answered": asks.answered(conn),
                "live": overrides.live(conn, dash.key, now),
            }

    data = await run_in_threadpool(work)
    done = request.query_params.get("done")
    return await render(request, "asks.html", {**data, "done": done, "choices": asks.CHOICES})


@posted
async def ask_answer(request: Request, user: str, form: FormData) -> Response:
    dash = dash_of(request)
    ask_id = int(request.path_params["ask_id"])
    choice = str(form.get("choice", ""))
    now = dash.now()

    def work() -> str:
        with dash.db() as conn:
            ask = asks.get(conn, ask_id)
            if ask is None or ask["status"] != "open":
                return "gone"
            where = f"#{ask_id} {ask['client']} {ask['host']}{ask['path']}"
            if choice == "refuse":
                asks.refuse(conn, ask_id, by=user, now=now)
                accounts.audit(conn, user, "ask.refuse", where, client_address(request))
                return "refuse"
            o = asks.grant(
                conn, dash.key, ask_id, choice, by=user, now=now,
                day_end=dash.day_end_for(ask["profile"], now),
            )  # fmt: skip
            accounts.audit(
                conn, user, "ask.grant", f"{where} {o.scope} until {dash.when(o.expires)}",
                client_address(request),
            )  # fmt: skip
            dash.share(o)
            return "grant"

    try:
        done = await run_in_threadpool(work)
    except ValueError:
        done = "gone"
    return RedirectResponse(f"/asks?done={done}", status_code=303)


@posted
async def override_revoke(request: Request, user: str, form: FormData) -> Response:
    dash = dash_of(request)
    oid = int(request.path_params["override_id"])

    def work() -> None:
        with dash.db() as conn:
            gone = [o for o in overrides.live(conn, dash.key, dash.now()) if o.id == oid]
            if overrides.revoke(conn, oid):
                accounts.audit(conn, user, "override.revoke", f"#{oid}", client_address(request))
                for o in gone:
                    dash.share(o, revoked=True)

    await run_in_threadpool(work)
    return RedirectResponse("/asks", status_code=303)
