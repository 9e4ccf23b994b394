"""The one scan pipeline: a body as received, its headers and a profile in; an outcome out.

bytes -> Content-Encoding undone (capped) -> what to scan it as (media type, sniffing) ->
charset -> the engine -> the page as the profile receives it (masked, with the risk notice)
-> charset and a cheap Content-Encoding again. The proxy's scan workers, ``qinglang scan``,
``qinglang scan --flows`` and ``qinglang lists test`` all call ``scan_body``, so a page gets
the same decision and the same bytes from each of them.

The workers run it off the proxy's event loop: only plain data crosses the process
boundary. The body as received and a few headers go in; the decision, the names of the
terms that decided it and, only when the page changed, the new body come back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from qinglang.content import charset, compression, xmldtd
from qinglang.content import mediatypes as content
from qinglang.content.settings import ResponseSettings
from qinglang.engine.scanner import Engine, ScanResult
from qinglang.engine.verdict import ALLOW, Action, Decision, Reason

Status = Literal["skip", "allow", "mask", "block", "oversize", "error"]

# (Accept-Language, page address or None) -> the HTML of the risk notice. The words are
# pages/risknotice.py's; this layer only decides where the notice goes.
Notice = Callable[[str | None, str | None], str]

# Lone surrogates stand for bytes that are not valid in the page's charset.
_UNDECODABLE = re.compile("[\udc80-\udcff]+")

# Charset labels browsers know, for Python codec names that differ.
_WEB_LABELS = {
    "big5hkscs": "big5",
    "cp1252": "windows-1252",
    "cp932": "shift_jis",
    "cp949": "euc-kr",
}


@dataclass(frozen=True, slots=True)
class ScanJob:
    body: bytes  # as received: still content-encoded
    content_type: str | None
    content_encoding: str | None
    accept_encoding: str | None  # the request's: how a changed body may be compressed
    profile: ResponseSettings
    accept_language: str | None = None  # the request's: the language of the risk notice
    url: str | None = None  # scheme://host/path (no query): the notice's report link
    fetch_dest: str | None = None  # the request's Sec-Fetch-Dest: document, iframe, empty ...

    def for_page(self, headers: Mapping[str, str], url: str) -> ScanJob:
        """This job with the request's language, what it fetches and the page's address
        (``policy.hosts.page_url``), for the risk notice."""
        return replace(
            self,
            accept_language=headers.get("accept-language"),
            fetch_dest=headers.get("sec-fetch-dest"),
            url=url,
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
    reason: Reason | None = None
    decided_by: tuple[str, ...] = ()
    pii: tuple[str, ...] = ()  # kinds of personal information found (never values)
    problem: str | None = None  # why it could not be scanned; never page content
    charset: str | None = None
    cleaned: bool = False  # bytes invalid in the charset were dropped before scanning
    seconds: float = 0.0


_NOT_SCANNED = ScanOutcome("skip", reason=Reason.NOT_SCANNED)


@dataclass(frozen=True, slots=True)
class Scanned:
    """Everything ``scan_body`` found: the outcome the proxy acts on and, for the tools
    (``details=True``), the engine's result with offsets into ``text``."""

    outcome: ScanOutcome
    text: str | None = None  # the body decoded (undecodable bytes as lone surrogates)
    result: ScanResult | None = None  # offsets are in ``text``
    served: str | None = None  # the page as the profile receives it, when it changed
    undecodable: int = 0  # bytes not valid in the charset (left out of the scan)


def precheck(raw: bytes, job: ScanJob) -> ScanOutcome | None:
    """What is decided before any decoding, without a trip to a worker: a body over the
    profile's limit, or one that is never scanned (images, fonts, scripts). None: scan."""
    over = _over_limit(raw, job)
    if over is not None:
        return over
    if (
        not compression.codings(job.content_encoding)
        and not content.plan_for(job.content_type, raw).scans
    ):
        return _NOT_SCANNED
    return None


def _over_limit(raw: bytes, job: ScanJob) -> ScanOutcome | None:
    limit = job.profile.max_scan_bytes
    if len(raw) > limit:
        return ScanOutcome("oversize", problem=f"body of {len(raw)} bytes is over {limit}")
    return None


def run_job(engine: Engine, job: ScanJob, notice: Notice | None = None) -> ScanOutcome:
    """``scan_body`` as the workers run it: timed, and a failure is an outcome."""
    t0 = time.perf_counter()
    try:
        out = scan_body(engine, job, notice=notice).outcome
    except Exception as e:  # a bug or a pathological page must not take the proxy down
        out = ScanOutcome("error", problem=f"scan failed: {type(e).__name__}")
    return replace(out, seconds=time.perf_counter() - t0)


def scan_body(
    engine: Engine, job: ScanJob, *, notice: Notice | None = None, details: bool = False
) -> Scanned:
    """The pipeline. ``notice`` renders the risk notice for a page whose personal data was
    masked; ``details`` keeps every occurrence with its offsets (the proxy needs only the
    decision and the names of the terms)."""
    if not job.profile.filter:
        return Scanned(ScanOutcome("skip", reason=Reason.NOT_FILTERED))
    # Only the size before decoding: what is scanned, and as what, is decided once, on the
    # decoded body (for an identity body ``precheck`` would read the same bytes again).
    over = _over_limit(job.body, job)
    if over is not None:
        return Scanned(over)
    limit = job.profile.max_scan_bytes
    try:
        raw = compression.decode(job.body, job.content_encoding, limit)
    except compression.BodyTooLarge:
        return Scanned(
            ScanOutcome("oversize", problem=f"decoded body is larger than {limit} bytes")
        )
    except compression.BadEncoding as e:
        return Scanned(ScanOutcome("error", problem=str(e)))

    plan = content.plan_for(job.content_type, raw)
    if not plan.scans:
        return Scanned(_NOT_SCANNED)
    if plan.kind == "html" and content.xml_source_shown(
        job.content_type, raw[: content.SNIFF_BYTES], job.fetch_dest
    ):
        plan = content.Plan("text")  # its tags, attributes and comments are on screen
    ctype = job.content_type
    if not charset.header_charset(ctype) and _utf8_but_cut(raw):  # the cheap test first
        # A range or a cut-off download can start or end inside a UTF-8 character; the
        # strict UTF-8 check would then hand the page to the detector, which guesses wrong.
        ctype = f"{ctype or 'text/plain'}; charset=utf-8"
    dec = charset.decode(raw, ctype, html=plan.kind == "html")
    kind = content.resolve(plan, dec.text)
    if kind is None:
        return Scanned(_NOT_SCANNED, dec.text, undecodable=dec.errors)

    doc = dec.text
    cleaned = False
    if dec.errors:
        # An invalid byte inside a word would hide it from the matcher; the browser shows
        # it as a replacement character and the reader still sees the word. Scan without
        # such bytes, and leave them out of the page if it has to be rewritten anyway.
        doc = _UNDECODABLE.sub("", doc)
        cleaned = True

    xml = kind == "html" and content.is_xml(ctype)
    if xml:
        try:
            expanded = xmldtd.expand(doc, limit)
        except xmldtd.DtdError as e:
            return Scanned(ScanOutcome("error", problem=str(e)), dec.text, undecodable=dec.errors)
        if expanded is not None:
            return _scan_expanded(engine, job, expanded, dec, details)
    result = engine.scan(doc, kind, job.profile, details=details, xml=xml)
    if details and cleaned:
        _to_decoded_offsets(result, dec.text)
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
    if result.action == Action.BLOCK:
        out = ScanOutcome("block", reason=result.reason, **common)  # type: ignore[arg-type]
        return Scanned(out, dec.text, result, undecodable=dec.errors)
    if not result.changed:
        # Nothing to hide: the response goes on exactly as it came.
        out = ScanOutcome("allow", **common)  # type: ignore[arg-type]
        return Scanned(out, dec.text, result, undecodable=dec.errors)

    doc = result.body
    if kind == "html" and result.pii and job.profile.pii_notice and notice and _is_page(job):
        doc = insert_notice(doc, notice(job.accept_language, job.url)) or doc
    new = charset.encode(doc, dec)
    body, encoding = compression.encode_cheap(new, job.content_encoding, job.accept_encoding)
    out = ScanOutcome(
        "mask",
        body=body,
        content_encoding=encoding,
        content_type=_labelled(job.content_type, dec, kind),
        **common,  # type: ignore[arg-type]
    )
    return Scanned(out, dec.text, result, doc, dec.errors)


def _scan_expanded(
    engine: Engine, job: ScanJob, expanded: str, dec: charset.Decoded, details: bool
) -> Scanned:
    """An XML document whose DTD declares entities, scanned with them expanded
    (``xmldtd``). What would be masked cannot be masked in the entity declarations, so
    such a page is blocked instead; a clean one goes on exactly as it came."""
    result = engine.scan(expanded, "html", job.profile, details=details, xml=True)
    common = {
        "kind": "html",
        "score": result.score,
        "categories": dict(result.categories),
        "top_category": result.top_category,
        "decided_by": tuple(result.decided_by()),
        "pii": tuple(sorted({p.kind for p in result.pii})),
        "charset": dec.charset,
        "problem": result.problem,
    }
    if result.action == Action.BLOCK or result.changed:
        reason = result.reason or (
            Reason.PII if result.pii and not result.decided_by() else Reason.KEYWORDS
        )
        out = ScanOutcome("block", reason=reason, **common)  # type: ignore[arg-type]
    else:
        out = ScanOutcome("allow", **common)  # type: ignore[arg-type]
    # Offsets in ``result`` are in the expanded document, which is what ``text`` holds.
    return Scanned(out, expanded, result, undecodable=dec.errors)


def verdict(out: ScanOutcome, profile: ResponseSettings, *, partial: bool = False) -> Decision:
    """What the proxy does with a scanned response, in the one vocabulary: the engine's
    decision, or the profile's ``on_oversize`` / ``on_error`` for a body that could not be
    checked. ``partial``: the response is a fragment of the resource (a 206), which is only
    let through whole and unchanged."""
    if out.status == "oversize":
        return Decision(_policy(profile.on_oversize), Reason.OVERSIZE)
    if out.status == "error":
        return Decision(_policy(profile.on_error), Reason.ERROR)
    if out.status == "skip":
        return Decision(Action.ALLOW, out.reason)  # passed on as it came, and why
    if out.status == "block":
        return Decision(Action.BLOCK, out.reason, out.top_category)
    if partial and (profile.on_error == "block" or out.status == "mask"):
        # A fragment can split a word at either end, and a masked fragment no longer fits
        # its Content-Range.
        return Decision(Action.BLOCK, Reason.PARTIAL)
    if out.status == "allow":
        return ALLOW
    reason = Reason.PII if out.pii and not out.decided_by else Reason.KEYWORDS
    return Decision(Action.MASK, reason, out.top_category)


def reported(d: Decision) -> Action:
    """The action as ``qinglang scan`` and ``scan --flows`` print it (allow, mask or block,
    DESIGN.md): a body the profile lets through unchecked is served as it came."""
    return Action.ALLOW if d.action == Action.PASS else d.action


def _policy(rule: str) -> Action:
    return Action.PASS if rule == "pass" else Action.BLOCK


def served(job: ScanJob, out: ScanOutcome, decision: Decision) -> bytes | None:
    """The body the client receives: the new one when the page was masked, the body as it
    came when it passes (unchanged, unscanned, or by the profile's policy); None when it is
    replaced by a block page."""
    if decision.action == Action.BLOCK:
        return None
    if decision.action == Action.MASK:
        return out.body
    return job.body


def _to_decoded_offsets(result: ScanResult, text: str) -> None:
    """Offsets found in the text without its undecodable bytes, moved to ``text`` (what
    ``qinglang scan`` reports: offsets in the decoded input)."""
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
    kept = np.flatnonzero((cps < 0xDC80) | (cps > 0xDCFF))  # index in text of each kept one
    for m in result.matches:
        m.start, m.end = int(kept[m.start]), int(kept[m.end - 1]) + 1
        m.text = text[m.start : m.end]
    for p in result.pii:
        p.start, p.end = int(kept[p.start]), int(kept[p.end - 1]) + 1


# The first <body> start tag that is not inside a comment, a script or a style element
# (those are skipped as whole matches). Attribute values may hold ">".
_BODY_SCAN = re.compile(
    r"<!--.*?-->|<script\b.*?</script\s*>|<style\b.*?</style\s*>"
    r"|(?P<body><body(?=[\s/>])(?:[^>\"']|\"[^\"]*\"|'[^']*')*>)",
    re.I | re.S,
)
# A whole document, as opposed to a fragment that a script puts into another page (a
# notice there would be repeated on every such request).
_DOCUMENT = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]", re.I)


def insert_notice(doc: str, notice: str) -> str | None:
    """``doc`` with ``notice`` right after its ``<body ...>`` tag, or at the end of a whole
    document that has no body tag; None for an HTML fragment."""
    for m in _BODY_SCAN.finditer(doc):
        if m.group("body") is not None:
            return doc[: m.end()] + notice + doc[m.end() :]
    if _DOCUMENT.search(doc) is None:
        return None
    return doc + notice


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
