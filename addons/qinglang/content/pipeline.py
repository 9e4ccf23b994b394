"""One response body through the engine: raw bytes in, a verdict (and new bytes) out.

Runs inside a scan worker, so that decompression, charset decoding, scanning and
re-encoding all happen off the proxy's event loop. Only plain data crosses the process
boundary: the body as received and a few headers go in; the decision, the names of the
terms that decided it and, only when the page changed, the new body come back.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from qinglang.content import charset, compression
from qinglang.content import mediatypes as content
from qinglang.engine.scanner import BLOCK, Engine
from qinglang.pages import blockpage, risknotice
from qinglang.policy.config import Profile

Status = Literal["skip", "allow", "mask", "block", "oversize", "error"]

# Lone surrogates stand for bytes that are not valid in the page's charset.
_UNDECODABLE = re.compile("[\udc80-\udcff]+")

# Charset labels browsers know, for Python codec names that differ.
_WEB_LABELS = {
    "big5hkscs": "big5",
    "cp1252": "windows-1252",
    "cp932": "shift_jis",
    "cp949": "euc-kr",
}


class _Headers(Protocol):
    def get(self, key: str, default: None = None) -> str | None: ...


class _Request(Protocol):
    """What ``ScanJob.for_page`` reads of a ``mitmproxy.http.Request``."""

    scheme: str
    port: int
    path: str

    @property
    def headers(self) -> _Headers: ...


@dataclass(frozen=True, slots=True)
class ScanJob:
    body: bytes  # as received: still content-encoded
    content_type: str | None
    content_encoding: str | None
    accept_encoding: str | None  # the request's: how a changed body may be compressed
    profile: Profile
    accept_language: str | None = None  # the request's: the language of the risk notice
    url: str | None = None  # scheme://host/path (no query): the notice's report link
    fetch_dest: str | None = None  # the request's Sec-Fetch-Dest: document, iframe, empty ...

    def for_page(self, request: _Request, host: str) -> ScanJob:
        """This job with the request's language and the page's address (risk notice);
        ``host`` is the request's (``reqhost.request_host``)."""
        return replace(
            self,
            accept_language=request.headers.get("accept-language"),
            fetch_dest=request.headers.get("sec-fetch-dest"),
            url=risknotice.page_url(request.scheme, host, request.port, request.path),
        )


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    status: Status
    kind: str | None = None  # html | json | text, when the body was scanned
    body: bytes | None = None  # the new body, only when the page changed
    content_encoding: str = ""  # of ``body``
    content_type: str | None = None  # a new Content-Type (charset label), when needed
    score: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    top_category: str | None = None
    reason: str | None = None
    decided_by: tuple[str, ...] = ()
    pii: tuple[str, ...] = ()  # kinds of personal information found (never values)
    problem: str | None = None  # why it could not be scanned; never page content
    charset: str | None = None
    cleaned: bool = False  # bytes invalid in the charset were dropped before scanning
    seconds: float = 0.0


def run_job(engine: Engine, job: ScanJob) -> ScanOutcome:
    t0 = time.perf_counter()
    try:
        out = _run(engine, job)
    except Exception as e:  # a bug or a pathological page must not take the proxy down
        out = ScanOutcome("error", problem=f"scan failed: {type(e).__name__}")
    return replace(out, seconds=time.perf_counter() - t0)


def _run(engine: Engine, job: ScanJob) -> ScanOutcome:
    limit = job.profile.max_scan_bytes
    try:
        raw = compression.decode(job.body, job.content_encoding, limit)
    except compression.BodyTooLarge:
        return ScanOutcome("oversize", problem=f"decoded body is larger than {limit} bytes")
    except compression.BadEncoding as e:
        return ScanOutcome("error", problem=str(e))

    plan = content.plan_for(job.content_type, raw)
    if not plan.scans:
        return ScanOutcome("skip")
    ctype = job.content_type
    if not charset.header_charset(ctype) and _utf8_but_cut(raw):  # the cheap test first
        # A range or a cut-off download can start or end inside a UTF-8 character; the
        # strict UTF-8 check would then hand the page to the detector, which guesses wrong.
        ctype = f"{ctype or 'text/plain'}; charset=utf-8"
    dec = charset.decode(raw, ctype, html=plan.kind == "html")
    kind = content.resolve(plan, dec.text)
    if kind is None:
        return ScanOutcome("skip")

    doc = dec.text
    cleaned = False
    if dec.errors:
        # An invalid byte inside a word would hide it from the matcher; the browser shows
        # it as a replacement character and the reader still sees the word. Scan without
        # such bytes, and leave them out of the page if it has to be rewritten anyway.
        doc = _UNDECODABLE.sub("", doc)
        cleaned = True

    result = engine.scan(doc, kind, job.profile, details=False)  # names, not occurrences
    common = {
        "kind": kind,
        "score": result.score,
        "categories": dict(result.categories),
        "top_category": result.top_category,
        "decided_by": tuple(result.decided_by()),
        "pii": tuple(sorted({p.kind for p in result.pii})),
        "charset": dec.charset,
        "cleaned": cleaned,
        "problem": result.problem,
    }
    if result.action == BLOCK:
        return ScanOutcome("block", reason=result.reason, **common)  # type: ignore[arg-type]
    if not result.changed:
        # Nothing to hide: the response goes on exactly as it came.
        return ScanOutcome("allow", **common)  # type: ignore[arg-type]

    doc = result.body
    if kind == "html" and result.pii and job.profile.pii_notice and _is_page(job):
        lang = blockpage.choose_lang(job.accept_language)
        doc = risknotice.insert_notice(doc, risknotice.notice_html(lang, job.url)) or doc
    new = charset.encode(doc, dec)
    body, encoding = compression.encode_cheap(new, job.content_encoding, job.accept_encoding)
    return ScanOutcome(
        "mask",
        body=body,
        content_encoding=encoding,
        content_type=_labelled(job.content_type, dec, kind),
        **common,  # type: ignore[arg-type]
    )


def _is_page(job: ScanJob) -> bool:
    """A page the browser shows as a whole, as HTML: ``text/html`` or unlabelled, never XML
    or SVG (a notice there would break the document); and, when the browser says what it
    fetches, a page of the tab, not a frame (an ad or a widget) or a script's request."""
    if job.fetch_dest and job.fetch_dest.lower() != "document":
        return False
    return content.mime_of(job.content_type) in ("text/html", "")


def _utf8_but_cut(raw: bytes) -> bool:
    """Valid UTF-8 apart from a character cut at either end (and not plain ASCII)."""
    try:
        raw.decode("utf-8")
        return False  # whole: charset.decode sees it as UTF-8 itself
    except UnicodeDecodeError:
        pass
    head = 0
    while head < 3 and head < len(raw) and 0x80 <= raw[head] < 0xC0:
        head += 1
    body = raw[head:]
    try:
        body.decode("utf-8")
        return head > 0
    except UnicodeDecodeError as e:
        return (
            e.start >= len(body) - 3
            and e.reason == "unexpected end of data"
            and (_valid_utf8(body[: e.start]))
        )


def _valid_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _labelled(content_type: str | None, dec: charset.Decoded, kind: str) -> str | None:
    """Name the charset in the header when the page did not, so the rewritten page is read
    the way it was read before (a masked page can sniff differently)."""
    if not content_type or kind == "json" or dec.source in ("header", "meta", "bom"):
        return None
    if "charset=" in content_type.lower():
        return None
    label = _WEB_LABELS.get(dec.charset, dec.charset)
    return f"{content_type.rstrip('; ')}; charset={label}"
