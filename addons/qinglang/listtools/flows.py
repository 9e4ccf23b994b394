"""``qinglang scan --flows FILE``: replay the responses of a saved mitmproxy flow file.

A maintainer who is told "this page was blocked" saves the traffic with
``mitmdump -w FILE`` (or from the mitmproxy UI) and runs it through the steps the proxy
takes, with the proxy's own functions: the head plan (``content.headplan``: no body, event
streams, bodies over the size limit), then the scan pipeline (``content.pipeline``:
Content-Encoding, what is scanned and as what, charset, the engine, the page as the profile
receives it) and the verdict. One JSON line per HTTP flow says what the proxy would do and
which terms decided it. Page text is not printed: only term names, as in the proxy's own
records.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from qinglang.content.headplan import content_length, navigated, plan_head, range_is_partial
from qinglang.content.mediatypes import nosniff, plan_for, scan_type
from qinglang.content.pipeline import (
    ScanJob,
    ScanOutcome,
    reported,
    scan_body,
    served,
    verdict,
)
from qinglang.engine.lists import ListSet
from qinglang.engine.scanner import Engine
from qinglang.engine.verdict import Action, Decision, Reason
from qinglang.pages.risknotice import notice_for
from qinglang.policy.config import Profile
from qinglang.policy.domains import DomainLists
from qinglang.policy.hosts import host_matches, page_url, request_host


def replay(
    flow: Any, engine: Engine, profile: Profile, domains: DomainLists | None = None
) -> dict[str, Any]:
    """The decision for one HTTP flow, as a JSON-ready dict."""
    req, resp = flow.request, flow.response
    out: dict[str, Any] = {"url": req.pretty_url, "method": req.method}
    if domains:
        cats = sorted(domains.categories_for(request_host(req)))
        if cats:
            out["domain_categories"] = cats
    if resp is None:
        out.update(status=None, action=None, reason="no response saved")
        if flow.error is not None:
            out["error"] = flow.error.msg
        return out
    ct = resp.headers.get("content-type")
    out.update(status=resp.status_code, content_type=ct)
    raw = resp.raw_content
    if raw is None:
        out.update(action=None, reason="body not saved in the flow file")
        return out
    job = ScanJob(
        raw,
        scan_type(ct, nosniff(resp.headers.get("x-content-type-options"))),
        resp.headers.get("content-encoding"),
        req.headers.get("accept-encoding"),
        profile,
    ).for_page(req.headers, page_url(req.scheme, request_host(req), req.port, req.path))
    head = plan_head(
        method=req.method,
        status=resp.status_code,
        content_type=ct,
        content_encoding=job.content_encoding,
        length=content_length(resp.headers.get("content-length")),
        profile=profile,
        page=navigated(req.headers.get("sec-fetch-dest"), req.headers.get("accept")),
    )
    if profile.filter and host_matches(request_host(req), profile.passthrough_hosts):
        return _done(out, job, ScanOutcome("skip"), ALLOWED, Reason.PASSTHROUGH)
    if head.action in ("none", "pass", "stream"):
        reason = {
            "none": Reason.NO_BODY,
            "pass": Reason.NOT_FILTERED,
            "stream": Reason.EVENT_STREAM,
        }
        return _done(out, job, ScanOutcome("skip"), ALLOWED, reason[head.action])
    if head.action == "oversize" or (head.action == "sniff" and plan_for(ct, raw[:4096]).scans):
        # Text in a body the proxy streams: what the sniffer finds at the first bytes.
        too_big = ScanOutcome("oversize", problem=head.detail)
        return _done(out, job, too_big, verdict(too_big, profile), None)
    if head.action == "sniff":
        return _done(out, job, ScanOutcome("skip"), ALLOWED, Reason.NOT_SCANNED)
    result = scan_body(engine, job, notice=notice_for).outcome
    partial = resp.status_code == 206 and range_is_partial(resp.headers.get("content-range"))
    return _done(out, job, result, verdict(result, profile, partial=partial), None)


ALLOWED = Decision(Action.ALLOW)


def _done(
    out: dict[str, Any], job: ScanJob, o: ScanOutcome, d: Decision, why: Reason | None
) -> dict[str, Any]:
    if o.kind:
        out.update(kind=o.kind, charset=o.charset)
    out.update(
        action=reported(d), score=o.score, categories=o.categories, decided_by=list(o.decided_by)
    )
    if o.pii:
        out["pii"] = list(o.pii)
    reason = d.reason or why
    if reason:
        out["reason"] = reason
    if o.problem:
        out["problem"] = o.problem
    body = served(job, o, d)
    if body is not None:
        out["served_sha256"] = hashlib.sha256(body).hexdigest()
    return out


def http_flows(path: str | Path) -> Iterator[Any]:
    """The HTTP flows of a mitmproxy flow file (other flow types are skipped)."""
    from mitmproxy import http, io

    with open(path, "rb") as f:
        for flow in io.FlowReader(f).stream():
            if isinstance(flow, http.HTTPFlow):
                yield flow


def scan_flows(
    path: str,
    lists: ListSet,
    profile: Profile,
    list_dirs: list[str] | None = None,
    out: TextIO | None = None,
) -> int:
    from mitmproxy.exceptions import FlowReadException

    from qinglang.engine.yamlloc import SourceError
    from qinglang.policy.domains import load_domains

    out = out or sys.stdout
    engine = Engine(lists)
    domains = None
    if list_dirs:
        try:
            domains = load_domains(list_dirs)
        except SourceError as e:
            print(f"qinglang: {e}", file=sys.stderr)
            return 2
    n = 0
    try:
        for flow in http_flows(path):
            line = json.dumps(replay(flow, engine, profile, domains), ensure_ascii=False)
            out.write(line.encode("utf-8", "replace").decode("utf-8") + "\n")
            n += 1
    except OSError as e:
        print(f"qinglang: cannot read {path}: {e.strerror}", file=sys.stderr)
        return 2
    except FlowReadException as e:
        print(f"qinglang: {path} is not a mitmproxy flow file ({e})", file=sys.stderr)
        return 2
    if n == 0:
        print(f"qinglang: {path} holds no HTTP flows", file=sys.stderr)
    return 0
