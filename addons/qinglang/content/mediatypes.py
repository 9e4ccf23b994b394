"""Which responses are scanned, and as what: from the Content-Type and the bytes themselves.

The header is a claim, not a fact. A page a browser renders as HTML is scanned as HTML
whatever else it carries in front; a body labelled as an image, a font or a download, or
with no label at all, is sniffed (binary signatures, the markup a browser would take for
HTML, JSON, plain text) so that a lying ``Content-Type`` cannot carry text past the filter.
JavaScript and CSS source are never scored (script code is the best-known source of false
positives), but JSON served as ``text/javascript`` or ``text/plain`` is recognised by parsing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from qinglang.engine.extract import Kind, json_span

Family = Literal["html", "json", "text", "script", "style", "stream", "binary", "unknown"]

# Bytes looked at to sniff a body; enough for every signature and HTML marker below.
SNIFF_BYTES = 4096

_HTML_MIMES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "application/xml",
        "text/xml",
        "image/svg+xml",  # text inside <text> elements is shown to the user
    }
)
_JSON_MIMES = frozenset(
    {"application/json", "text/json", "text/x-json", "application/x-json", "application/jsonp"}
)
_SCRIPT_MIMES = frozenset(
    {
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "text/ecmascript",
        "application/ecmascript",
        "application/x-ecmascript",
        "text/jscript",
        "text/x-javascript",
        "text/livescript",
    }
)
_BINARY_TOPS = frozenset({"image", "audio", "video", "font", "model", "multipart"})

# (offset, signature) of formats that are never text.
_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"RIFF"),  # WebP, WAV, AVI
    (0, b"\x00\x00\x01\x00"),  # ICO
    (0, b"%PDF-"),
    (0, b"PK\x03\x04"),  # zip, docx, apk, jar
    (0, b"\x1f\x8b"),  # gzip (a .gz download, not Content-Encoding)
    (0, b"BZh"),
    (0, b"7z\xbc\xaf\x27\x1c"),
    (0, b"Rar!\x1a\x07"),
    (0, b"\xfd7zXZ\x00"),
    (0, b"\x28\xb5\x2f\xfd"),  # zstd frame
    (0, b"wOFF"),
    (0, b"wOF2"),
    (0, b"OTTO"),
    (0, b"\x00\x01\x00\x00"),  # TrueType
    (0, b"\x1aE\xdf\xa3"),  # Matroska / WebM
    (0, b"ID3"),  # MP3
    (0, b"OggS"),
    (0, b"fLaC"),
    (0, b"\x00asm"),  # WebAssembly
    (0, b"\x7fELF"),
    (0, b"\xca\xfe\xba\xbe"),
    (4, b"ftyp"),  # MP4, MOV, AVIF, HEIC
)

# Markers a browser takes for HTML (WHATWG MIME sniffing), compared case-insensitively and
# followed by a space or ">".
_HTML_MARKERS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<!--",
)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# Control bytes that never appear in text (tab, LF, FF, CR and ESC do).
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 12, 13, 27))
_WS = b" \t\r\n\x0c"


@dataclass(frozen=True, slots=True)
class Plan:
    """How to scan a body: as ``kind``; or, with ``maybe_json``, as JSON if it parses."""

    kind: Kind | None  # None: never scanned, passes byte for byte
    maybe_json: bool = False

    @property
    def scans(self) -> bool:
        return self.kind is not None or self.maybe_json


SKIP = Plan(None)


def is_xml(content_type: str | None) -> bool:
    """Served as XML (XHTML, SVG, RSS ...): the browser's XML parser reads it."""
    mime = mime_of(content_type)
    return mime in ("application/xml", "text/xml") or mime.endswith("+xml")


def mime_of(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


# Types that say nothing: Chromium sniffs these (and any value without a "/") exactly like a
# missing Content-Type (net/base/mime_sniffer.cc, IsUnknownMimeType).
_UNKNOWN_MIMES = frozenset({"", "unknown/unknown", "application/unknown", "*/*"})


def is_unknown(content_type: str | None) -> bool:
    mime = mime_of(content_type)
    return mime in _UNKNOWN_MIMES or "/" not in mime


def nosniff(value: str | None) -> bool:
    """``X-Content-Type-Options`` says ``nosniff`` (its first value, as Fetch reads it)."""
    return (value or "").split(",", 1)[0].strip(" \t").lower() == "nosniff"


def scan_type(content_type: str | None, nosniff: bool) -> str | None:
    """The Content-Type a body is scanned under: with ``X-Content-Type-Options: nosniff``
    Chromium shows a body of unknown type as plain text, markup and all (measured), so it
    is scanned as text, not sniffed."""
    if nosniff and is_unknown(content_type):
        return "text/plain"
    return content_type


def family(content_type: str | None) -> Family:
    """What the Content-Type header claims, before looking at the body."""
    mime = mime_of(content_type)
    if is_unknown(content_type):
        return "unknown"
    if mime in _HTML_MIMES or mime.endswith("+xml"):
        return "html"
    if mime in _JSON_MIMES or mime.endswith("+json"):
        return "json"
    if mime in _SCRIPT_MIMES:
        return "script"
    if mime == "text/css":
        return "style"
    if mime == "text/event-stream":
        return "stream"
    top = mime.split("/", 1)[0]
    if top == "text":
        return "text"
    if top in _BINARY_TOPS or top == "application":
        return "binary"
    return "unknown"


def has_signature(head: bytes) -> bool:
    """The body starts like a binary format (image, media, font, archive, executable)."""
    if any(head.startswith(sig, off) for off, sig in _SIGNATURES):
        return True
    # MPEG transport stream: a sync byte every 188 bytes.
    return len(head) > 376 and head[0] == head[188] == head[376] == 0x47


def _strip(head: bytes) -> bytes:
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            break
    return head.lstrip(_WS)


def looks_html(head: bytes) -> bool:
    h = _strip(head)[:512].lower()
    if h.startswith(b"<?xml"):
        return True
    for marker in _HTML_MARKERS:
        if h.startswith(marker):
            nxt = h[len(marker) : len(marker) + 1]
            if nxt in (b" ", b">", b"\t", b"\n", b"\r", b"\x0c") or marker == b"<!--":
                return True
    return False


def looks_json(head: bytes) -> bool:
    return _strip(head)[:1] in (b"{", b"[")


def wrapped_json(head: bytes) -> bool:
    """JSON behind an anti-hijacking prefix or in a JSONP callback (``json_span``)."""
    return json_span(_strip(head).decode("latin-1")) is not None


def looks_text(head: bytes) -> bool:
    """No control bytes that text never has (NUL above all), or a Unicode BOM."""
    if head.startswith(_BOMS):
        return True
    return not any(c in _CONTROL for c in head)


def is_json(text: str) -> bool:
    s = text.lstrip(" \t\r\n\ufeff")
    span = json_span(s)
    if span is not None:
        s = s[span[0] : span[1]].lstrip(" \t\r\n")
    if not s or s[0] not in "{[":
        return False
    try:
        json.loads(s)
    except (ValueError, RecursionError):
        return False
    return True


def disguised(head: bytes) -> Plan:
    """A plan for a body labelled as an image, media or a download: scanned when it is
    text in disguise (the label is a claim, and a sniffing client may show the text)."""
    if not head:
        return SKIP
    if has_signature(head):
        return SKIP
    if looks_html(head):
        return Plan("html")
    if not looks_text(head):
        return SKIP
    return Plan("text", maybe_json=True)


# Chromium's "sniffable tags" (mime_sniffer.cc): a case-insensitive prefix of the first
# 512 bytes after leading ASCII whitespace, with no check of the byte that follows
# (measured: "<ab>" and "<!--x" are rendered as HTML). "<?xml" is rendered as XML.
_CHROMIUM_TAGS = (
    b"<?xml", b"<!doctype html", b"<script", b"<html", b"<!--", b"<head", b"<iframe",
    b"<h1", b"<div", b"<font", b"<table", b"<a", b"<style", b"<title", b"<b", b"<body",
    b"<br", b"<p",
)  # fmt: skip
HTML_SNIFF_BYTES = 512
# Chromium looks for a binary byte in the first 1024 bytes only (kMaxBytesToSniff; the
# standard's resource header is 1445 bytes): a control byte after that is shown as text.
BINARY_SNIFF_BYTES = 1024
# The standard's "binary data bytes" (Chromium's kByteLooksBinary): 0x00-0x08, 0x0B,
# 0x0E-0x1A, 0x1C-0x1F.
_BINARY_BYTES = bytes([*range(0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_ASCII_WS = b" \t\n\x0b\x0c\r"


def sniff(head: bytes) -> Plan:
    """What Chromium renders a body of unknown type as (no Content-Type,
    ``unknown/unknown``, ``application/unknown``, ``*/*``), from its first bytes: HTML or
    XML by the tags above; otherwise plain text unless a binary byte is in the first 1024
    bytes (then it is downloaded or shown as an image or media, never as text).

    Chromium also has a table of magic numbers (images, PDF, media, archives) that it
    renders as what they are; a body with one of them and no binary byte is still scanned
    here as text: scanning it costs nothing a child sees, and a table that disagreed with
    Chromium's by one entry would let text through (``BZh``, ``RIFF``, ELF and font
    signatures followed by text are all shown as text by Chromium)."""
    if not head:
        return SKIP
    h = head[:HTML_SNIFF_BYTES].lstrip(_ASCII_WS)[:14].lower()
    if h.startswith(_CHROMIUM_TAGS):
        return Plan("html")
    if head.startswith(_BOMS):
        return Plan("text", maybe_json=True)
    first = head[:BINARY_SNIFF_BYTES]
    if len(first.translate(None, _BINARY_BYTES)) != len(first):
        return SKIP
    return Plan("text", maybe_json=True)


def plan_for(content_type: str | None, body: bytes) -> Plan:
    """How a (decompressed) body is scanned. ``body`` may be just its first bytes."""
    head = body[:SNIFF_BYTES]
    fam = family(content_type)
    if fam == "html":
        return Plan("html")
    if fam == "json":
        # JSON extraction reads string literals only: a "JSON" body that is really a page
        # would otherwise be scanned as nothing at all.
        if looks_json(head) or _strip(head)[:1] == b'"' or wrapped_json(head):
            return Plan("json")
        return Plan("html") if looks_html(head) else Plan("text")
    if fam == "text":
        return Plan("text", maybe_json=True)
    if fam == "script":
        # JSON and JSONP served as script are data a page shows; script code is not.
        return Plan(None, maybe_json=True) if looks_json(head) or wrapped_json(head) else SKIP
    if fam == "style":
        return Plan("html") if looks_html(head) else SKIP
    if fam == "stream":
        return Plan("text")  # a stream navigated to as a page (headplan): shown as text
    if fam == "binary":
        return disguised(head)
    return sniff(head)


# Namespaces whose documents Chromium renders (XHTML, SVG, MathML) instead of showing the
# XML source tree.
_RENDERED_NS = (
    b"http://www.w3.org/1999/xhtml",
    b"http://www.w3.org/2000/svg",
    b"http://www.w3.org/1998/Math/MathML",
)
_RENDERED_XML = frozenset({"image/svg+xml", "application/xhtml+xml"})
_PROLOG_ROOT = re.compile(
    rb"""(?P<prolog>(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)*)"""
    rb"""<[A-Za-z_][\w.:-]*(?P<attrs>(?:[^>"']|"[^"]*"|'[^']*')*)>""",
    re.S | re.I,
)
_XMLNS = re.compile(rb"""\sxmlns\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_RENDERED_DEST = frozenset({"document", "iframe", "frame", "embed", "object"})


def xml_source_shown(content_type: str | None, head: bytes, fetch_dest: str | None) -> bool:
    """Chromium shows this XML's source, not a rendering of it (measured): a page of
    ``text/xml`` or ``application/xml`` with no ``<?xml-stylesheet?>`` and a root element
    outside the XHTML, SVG and MathML namespaces is shown as its source tree (element
    names, attribute values, comments and all), and other ``+xml`` types (RSS, Atom) as
    plain text. Only for what the browser opens as a page; a script's XML is data."""
    if fetch_dest and fetch_dest.strip().lower() not in _RENDERED_DEST:
        return False
    mime = mime_of(content_type)
    if mime in _RENDERED_XML:
        return False
    if mime.endswith("+xml"):
        return True
    if mime not in ("text/xml", "application/xml") and not (
        is_unknown(content_type) and _strip(head).startswith(b"<?xml")
    ):
        return False
    m = _PROLOG_ROOT.match(_strip(head))
    if m is None:
        return True  # no root element in sight: whatever there is, is shown as source
    if b"<?xml-stylesheet" in m.group("prolog").lower():
        return False
    ns = _XMLNS.search(m.group("attrs"))
    return ns is None or (ns.group(1) or ns.group(2) or b"").strip() not in _RENDERED_NS


def resolve(plan: Plan, text: str) -> Kind | None:
    """The final kind once the body is decoded."""
    if plan.maybe_json and is_json(text):
        return "json"
    return plan.kind


def kind_for(content_type: str | None, body: str = "") -> Kind:
    """The extractor for a document someone asked to scan (``qinglang scan``): never None."""
    raw = body[:SNIFF_BYTES].encode("utf-8", "surrogateescape")
    plan = plan_for(content_type, raw)
    if not content_type and plan.kind is None and not plan.maybe_json:
        plan = Plan("text", maybe_json=True)
    return resolve(plan, body) or "text"
