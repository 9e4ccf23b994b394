"""Reports ("blocked by mistake", "harmful", "pii"): the queue, dismissing or labelling
one, and exporting them all as a zip.
"""

from __future__ import annotations

import io
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from qinglang.dashboard import accounts, reports
from qinglang.dashboard.fetch import EXPORT_SECONDS, fetch_page
from qinglang.dashboard.web import client_address, dash_of, posted, render, signed_in


@signed_in
async def reports_page(request: Request, user: str) -> Response:
    dash = dash_of(request)

    def work() -> list[dict[str, Any]]:
        with dash.reports() as conn:
            return reports.queue(conn)

    rows = await run_in_threadpool(work)
    return await render(
        request, "reports.html", {"rows": rows, "exported": request.query_params.get("exported")}
    )


@posted
async def report_update(request: Request, user: str, form: FormData) -> Response:
    dash = dash_of(request)
    rid = int(request.path_params["report_id"])
    what = str(form.get("do", ""))

    def work() -> None:
        with dash.reports() as rconn, dash.db() as conn:
            if what == "dismiss":
                if reports.dismiss(rconn, rid):
                    accounts.audit(conn, user, "report.dismiss", f"#{rid}", client_address(request))
            else:
                cat = str(form.get("category", "")).strip() or None
                reports.set_category(rconn, rid, cat)
                accounts.audit(
                    conn, user, "report.category", f"#{rid} {cat or '-'}", client_address(request)
                )

    try:
        await run_in_threadpool(work)
    except ValueError as e:
        return await render(request, "message.html", {"message": str(e)}, status=400)
    return RedirectResponse("/reports", status_code=303)


@posted
async def reports_export(request: Request, user: str, form: FormData) -> Response:
    dash = dash_of(request)

    def work() -> tuple[bytes, reports.Exported]:
        with tempfile.TemporaryDirectory() as tmp, dash.reports() as rconn, dash.db() as conn:
            end = time.monotonic() + EXPORT_SECONDS
            result = reports.export(
                rconn, Path(tmp), lambda url: fetch_page(url, until=end), until=end
            )
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for p in sorted(Path(tmp).rglob("*")):
                    if p.is_file():
                        z.write(p, Path("qinglang-reports") / p.relative_to(tmp))
            accounts.audit(
                conn, user, "reports.export",
                f"{len(result.written)} written, {len(result.failed)} failed",
                client_address(request),
            )  # fmt: skip
            return buf.getvalue(), result

    data, _result = await run_in_threadpool(work)
    stamp = datetime.fromtimestamp(dash.now(), dash.s.tz).strftime("%Y%m%d-%H%M")
    return Response(
        data,
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="qinglang-reports-{stamp}.zip"'},
    )
