"""The audit log page: who did what, when, from where."""

from __future__ import annotations

import sqlite3

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from qinglang.dashboard import accounts
from qinglang.dashboard.web import dash_of, render, signed_in


@signed_in
async def audit_page(request: Request, user: str) -> Response:
    dash = dash_of(request)

    def work() -> list[sqlite3.Row]:
        with dash.db() as conn:
            return accounts.audit_log(conn)

    return await render(request, "audit.html", {"rows": await run_in_threadpool(work)})
