"""``qinglang scan --flows FILE``: replay the responses of a saved mitmproxy flow file.

A maintainer who is told "this page was blocked" saves the traffic with
``mitmdump -w FILE`` (or from the mitmproxy UI) and runs it through the same
steps the proxy takes: Content-Encoding, which bodies are scanned and as what,
charset sniffing, the engine with the chosen profile. One JSON line per HTTP
flow says what the proxy would do and which terms decided it. Page text is not
printed: only term names, as in the proxy's own records.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from qinglang.engine.lists import ListSet
from qinglang.policy.config import Profile
from qinglang.policy.reqhost import request_host

ALLOW, BLOCK = "allow", "block"


def _decode_body(raw: bytes, encoding: str | None, limit: int) -> tuple[bytes | None, str | None]:
    """(body, problem): Content-Encoding undone the way the proxy does it."""
    try:
        from qinglang.content.compression import BadEncoding, BodyTooLarge
        from qinglang.content.compression import decode as cdecode
    except ImportError:  # pragma: no cover - older tree: mitmproxy's own decoder
        from mitmproxy.net.encoding import decode as mdecode

        try:
            body = mdecode(raw, encoding) if encoding else raw
        except ValueError:
            return None, "bad content-encoding"
        if len(body) > limit:
            return None, "oversize"
        return body, None
    try:
        return cdecode(raw, encoding, limit), None
    except BodyTooLarge:
        return None, "oversize"
    except BadEncoding:
        return None, "bad content-encoding"


class _SimplePlan:
    """Used only where content.py (the proxy's own choice of what to scan) is absent."""

    def __init__(self, content_type: str | None, body: bytes) -> None:
        ct = (content_type or "").split(";")[0].strip().lower()
        textual = ct.startswith("text/") or "json" in ct or "xml" in ct or not ct
        self.content_type = content_type
        self.scans = textual and b"\x00" not in body[:4096] and ct not in _SCRIPTS
        self.kind = "html" if "html" in ct else None


_SCRIPTS = ("text/javascript", "application/javascript", "text/css")


def _plan(content_type: str | None, body: bytes) -> Any:
    try:
        from qinglang.content import mediatypes as content
    except ImportError:  # pragma: no cover - tree without content.py
        return _SimplePlan(content_type, body)
    return content.plan_for(content_type, body)


def _resolve(plan: Any, text: str) -> str | None:
    if isinstance(plan, _SimplePlan):
        from qinglang.cli.main import kind_for

        return kind_for(plan.content_type, text)
    from qinglang.content import mediatypes as content

    return content.resolve(plan, text)


def replay(flow: Any, engine: Any, profile: Profile, domains: Any = None) -> dict[str, Any]:
    """The decision for one HTTP flow, as a JSON-ready dict."""
    from qinglang.content.charset import decode

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
    if not profile.filter:
        out.update(action=ALLOW, score=0, categories={}, decided_by=[], reason="not filtered")
        return out
    raw = resp.raw_content
    if raw is None:
        out.update(action=None, reason="body not saved in the flow file")
        return out
    body, problem = _decode_body(raw, resp.headers.get("content-encoding"), profile.max_scan_bytes)
    if body is None:
        rule = profile.on_oversize if problem == "oversize" else profile.on_error
        action = BLOCK if rule == "block" else ALLOW
        out.update(action=action, score=0, categories={}, decided_by=[], reason=problem)
        return out
    plan = _plan(ct, body)
    if not plan.scans:
        out.update(action=ALLOW, score=0, categories={}, decided_by=[], reason="not scanned")
        return out
    dec = decode(body, ct, html=plan.kind == "html")
    kind = _resolve(plan, dec.text)
    if kind is None:
        out.update(action=ALLOW, score=0, categories={}, decided_by=[], reason="not scanned")
        return out
    r = engine.scan(dec.text, kind, profile)
    out.update(
        kind=kind,
        charset=dec.charset,
        action=r.action,
        score=r.score,
        categories=r.categories,
        decided_by=r.decided_by(),
    )
    if r.pii:
        out["pii"] = sorted({p.kind for p in r.pii})
    if r.reason:
        out["reason"] = r.reason
    if r.problem:
        out["problem"] = r.problem
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

    from qinglang.engine.scanner import Engine
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
