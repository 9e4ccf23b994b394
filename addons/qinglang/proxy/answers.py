"""What the proxy does to a flow once something is decided: the block page, the time-up
page, the rest reminder, a masked page in place of the original, and the event that records
the decision (never the page's content)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from mitmproxy import http

from qinglang.content.pipeline import ScanOutcome
from qinglang.engine.verdict import Action, Decision, Reason
from qinglang.pages import blockpage, timeup
from qinglang.pages.i18n import choose_lang
from qinglang.pages.links import time_ask_url
from qinglang.policy.hosts import page_url, request_host
from qinglang.policy.youthgate import event_path
from qinglang.proxy.identity import answered, meta_of
from qinglang.store.events import Event, EventStore

# Response headers a rewritten page drops: set again from the new body, or no longer true.
_REWRITTEN = frozenset(
    {b"content-encoding", b"content-length", b"transfer-encoding"}
    | {b"content-md5", b"digest", b"content-digest", b"repr-digest"}
)


class BlockStream:
    """Stream callable that sends a prepared block page and drops the upstream body."""

    def __init__(self, body: bytes) -> None:
        self.body: bytes | None = body

    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        out, self.body = self.body, None
        return out if out is not None else []


def _categories(outcome: ScanOutcome | None) -> dict[str, int]:
    """The event's categories; masked personal information counts as ``pii`` (the number
    of kinds found), so the overview's per-category table adds up to its masked total."""
    if outcome is None:
        return {}
    found = dict(outcome.categories)
    if outcome.pii:
        found.setdefault("pii", len(outcome.pii))
    return found


def record(
    flow: http.HTTPFlow,
    events: EventStore | None,
    action: Action,
    reason: Reason | None,
    *,
    outcome: ScanOutcome | None = None,
    detail: str | None = None,
    host: str | None = None,
) -> str:
    """Record the decision on ``flow`` in the event log; returns the event's id. ``host``:
    the host to record, when not the one the request names (``hosts.request_host``)."""
    meta = meta_of(flow)
    host = request_host(flow.request) if host is None else host
    ev = Event(
        client=meta.get("client", "") if meta else "",
        user=meta.get("user") if meta else None,
        profile=meta.get("profile", "") if meta else "",
        host=host,
        path=event_path(host, flow.request.path),
        action=action,
        reason=reason,
        categories=_categories(outcome),
        score=outcome.score if outcome else 0,
        decided_by=(outcome.decided_by + tuple(f"pii:{k}" for k in outcome.pii)) if outcome else (),
        detail=detail or (outcome.problem if outcome else None),
    )
    if meta is not None:
        meta["event"] = ev.id
    if events is not None:
        events.record(ev)
    return ev.id


def block(
    flow: http.HTTPFlow,
    events: EventStore | None,
    decision: Decision,
    kind: str | None,
    *,
    asks: bool,
    outcome: ScanOutcome | None = None,
    detail: str | None = None,
    at_headers: bool = False,
    status: int = 403,
) -> None:
    """The block page (a JSON body for programs) in place of the response. ``asks``: the
    dashboard runs and answers "ask for access"; ``at_headers``: the response's headers are
    in but not its body."""
    event_id = ""
    if status == 403:
        event_id = record(
            flow, events, Action.BLOCK, decision.reason, outcome=outcome, detail=detail
        )
    req = flow.request
    body, ctype = blockpage.block_body(
        decision,
        event_id,
        accept=req.headers.get("accept"),
        accept_language=req.headers.get("accept-language"),
        kind=kind,
        # The address as requested, port included: a "blocked by mistake" report of it
        # must be fetchable again (the corpus export).
        url=page_url(req.scheme, request_host(req), req.port, req.path),
        asks=asks,
    )
    headers = {
        "content-type": ctype,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }
    if at_headers and flow.response is not None:
        # The status and headers go out before the body arrives: send the block page as
        # the body and drop what the server sends.
        resp = flow.response
        resp.status_code = status
        resp.reason = "Forbidden"
        fields = [(k.encode(), v.encode()) for k, v in headers.items()]
        resp.headers = http.Headers([*fields, (b"content-length", str(len(body)).encode())])
        resp.stream = BlockStream(body)
        return
    flow.response = http.Response.make(status, body, headers)


def refuse(
    flow: http.HTTPFlow,
    events: EventStore | None,
    d: Decision,
    *,
    asks: bool,
    outcome: ScanOutcome | None = None,
    detail: str | None = None,
) -> None:
    """The block page for a request refused before anything was fetched (a CONNECT gets
    the same 403). Keyword verdicts carry the list terms in the outcome; other rules name
    the listed domain, pattern or category that decided."""
    if detail is None and outcome is None:
        detail = d.rule
    block(flow, events, d, None, asks=asks, outcome=outcome, detail=detail)
    answered(flow)


def bad_request(flow: http.HTTPFlow, events: EventStore | None, problem: str) -> None:
    """A 400 for a request whose destination cannot be told (``policy.destination``)."""
    # The host mitmproxy parsed, not the Host header that may be what is wrong.
    event_id = record(
        flow, events, Action.BLOCK, Reason.BAD_REQUEST, detail=problem, host=flow.request.host
    )
    req = flow.request
    body, ctype = blockpage.block_body(
        Decision(Action.BLOCK, Reason.BAD_REQUEST),
        event_id,
        accept=req.headers.get("accept"),
        accept_language=req.headers.get("accept-language"),
        asks=False,
    )
    flow.response = http.Response.make(
        400,
        body,
        {"content-type": ctype, "cache-control": "no-store", "x-content-type-options": "nosniff"},
    )
    answered(flow)


def misdirected(flow: http.HTTPFlow) -> None:
    """421 Misdirected Request: the client retries on a connection of its own (RFC 9110,
    15.5.20). Nothing was fetched, so nothing is recorded."""
    flow.response = http.Response.make(
        421, b"", {"content-type": "text/plain; charset=utf-8", "cache-control": "no-store"}
    )
    answered(flow)


def timeup_page(
    flow: http.HTTPFlow,
    events: EventStore | None,
    d: Decision,
    now: datetime,
    tz: tzinfo | None,
    *,
    asks: bool,
) -> None:
    req = flow.request
    reply = timeup.timeup_reply(
        d.reason or Reason.CURFEW,
        d.returns_at,
        now,
        method=req.method,
        path=req.path,
        headers=req.headers,
        category=d.category,
        tz=tz,
        ask=time_ask_url(page_url(req.scheme, request_host(req), req.port, req.path))
        if asks
        else None,
    )
    if reply.headers.get("Content-Type", "").startswith("text/html"):
        # Page loads only: apps polling through the night would flood the log.
        back = d.returns_at.isoformat() if d.returns_at else "not within a week"
        record(flow, events, Action.BLOCK, d.reason, detail=f"time is up; access returns {back}")
    flow.response = http.Response.make(reply.status, reply.body, reply.headers)
    answered(flow)


def rest_reminder(flow: http.HTTPFlow, minutes: int) -> None:
    lang = choose_lang(flow.request.headers.get("accept-language"))
    body = timeup.render_rest_reminder(minutes, lang).encode("utf-8")
    flow.response = http.Response.make(
        200,
        body,
        {
            "content-type": "text/html; charset=utf-8",
            "cache-control": "no-store",
            "x-qinglang": "rest-reminder",
        },
    )
    answered(flow)


def masked(flow: http.HTTPFlow, out: ScanOutcome) -> None:
    """The masked page in place of the response's body, its headers set to match."""
    assert flow.response is not None and out.body is not None
    resp = flow.response
    resp.raw_content = out.body
    # One pass over the fields: each look-up, set or delete in mitmproxy's Headers walks
    # all of them (measured: 30 us for this block done name by name).
    drop = _REWRITTEN
    if out.content_type:
        drop = drop | {b"content-type"}
    if resp.status_code == 206:  # a whole-resource range, now rewritten: a plain 200
        resp.status_code = 200
        resp.reason = "OK"
        drop = drop | {b"content-range"}
    fields = [(k, v) for k, v in resp.headers.fields if k.lower() not in drop]
    if out.content_encoding:
        fields.append((b"content-encoding", out.content_encoding.encode("ascii")))
    fields.append((b"content-length", str(len(out.body)).encode("ascii")))
    if out.content_type:
        fields.append((b"content-type", out.content_type.encode("utf-8", "surrogateescape")))
    resp.headers = http.Headers(fields)
