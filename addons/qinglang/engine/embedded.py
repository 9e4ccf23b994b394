"""Documents carried inside an attribute: ``data:`` and ``javascript:`` URLs.

A frame, an object or an embed whose address is a ``data:`` URL with a text media type
shows that text as a page of its own; a ``javascript:`` URL that evaluates to a string
shows the string. ``_htmltext`` hands such attribute values here and scans what comes
back as an embedded document (masking one empties the attribute: docs/matching.md).

The ``data:`` URL is read the way the Fetch standard's data URL processor reads it
(the media type up to the first comma, then percent-decoding, then forgiving base64 when
the type ends in ``;base64``); the standard library's ``base64`` and ``urllib.parse``
do the decoding.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from urllib.parse import unquote_to_bytes

# ASCII whitespace the URL parser strips, and the tab/newline it drops anywhere.
_STRIP = "\t\n\f\r "
_TAB_NL = re.compile("[\t\n\r]")
_B64_SPACE = re.compile(rb"[\t\n\f\r ]")
_BASE64 = re.compile(r";\s*base64\s*$", re.I)

# Media types a frame shows as a document: HTML-like ones are scanned as HTML.
_HTML_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml")


def url_scheme(value: str) -> str | None:
    """``data`` or ``javascript`` when ``value`` is such a URL (as the URL parser reads
    it: surrounding whitespace, tabs and newlines anywhere, any case), else None."""
    v = _TAB_NL.sub("", value.strip(_STRIP))
    head = v[:11].lower()
    if head.startswith("data:"):
        return "data"
    if head.startswith("javascript:"):
        return "javascript"
    return None


def decode_url(value: str) -> tuple[str, str] | None:
    """(kind, text) of the document a ``data:`` or ``javascript:`` URL shows: kind is
    ``html`` or ``text``; None when it shows no text (an image, a font, a broken URL)."""
    v = _TAB_NL.sub("", value.strip(_STRIP))
    scheme = url_scheme(v)
    if scheme == "javascript":
        # The script's text, percent-decoded as the browser does before running it; a
        # string literal in it is what a frame would show.
        return "text", unquote_to_bytes(v[len("javascript:") :]).decode("utf-8", "replace")
    if scheme != "data":
        return None
    rest = v[len("data:") :]
    comma = rest.find(",")
    if comma < 0:
        return None
    mime, body = rest[:comma].strip(_STRIP), unquote_to_bytes(rest[comma + 1 :])
    if _BASE64.search(mime):
        mime = _BASE64.sub("", mime)
        try:
            body = base64.b64decode(_B64_SPACE.sub(b"", body) + b"==", validate=False)
        except (binascii.Error, ValueError):
            return None
    essence, _, params = mime.partition(";")
    essence = essence.strip(_STRIP).lower() or "text/plain"
    if essence in _HTML_TYPES or essence.endswith("+xml"):
        kind = "html"
    elif essence.startswith("text/"):
        kind = "text"
    else:
        return None
    return kind, "\n".join(_decodings(body, params, kind))


def _decodings(body: bytes, params: str, kind: str) -> list[str]:
    """The text under the charset the URL names; without one (the browser then looks at
    a ``<meta>`` or guesses), under each charset it might use: UTF-8, the ``<meta>``'s,
    GB18030. Scanning every reading is the safe side of a guess."""
    named = _label(params, "charset")
    if named:
        return [body.decode(named, "replace")]
    try:
        return [body.decode("utf-8")]
    except UnicodeDecodeError:
        pass
    labels = ["utf-8", "gb18030"]
    if kind == "html":
        m = _META.search(body[:1024])
        if m:
            meta = _lookup(m.group(1).decode("ascii", "replace"))
            if meta and meta not in labels:
                labels.append(meta)
    return [body.decode(label, "replace") for label in labels]


_META = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def _label(params: str, key: str) -> str | None:
    for p in params.split(";"):
        name, _, val = p.partition("=")
        if name.strip(_STRIP).lower() == key:
            return _lookup(val.strip(_STRIP + '"'))
    return None


def _lookup(label: str) -> str | None:
    """Python's codec for a charset label, or None when it knows none."""
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None
