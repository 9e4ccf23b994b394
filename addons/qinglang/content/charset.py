"""Bytes to text and back without losing a byte.

mitmproxy's ``.text`` falls back to latin-1 for undeclared UTF-8 and relabels GBK
as UTF-8 after ``set_text`` (PROXY-NOTES.md), so the charset is sniffed here: BOM,
then the declared charset (header, ``<meta>``), then strict UTF-8, then
charset-normalizer. Decoding uses ``surrogateescape`` so that invalid bytes survive
the round trip: an unchanged part of a page encodes back to the same bytes.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Labels that browsers (WHATWG Encoding) read as a superset; decoding with the
# superset keeps characters the narrower codec would call invalid.
_SUPERSETS = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "euc-kr": "cp949",
}

_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I | re.S)
_ENCODING_DECL = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    charset: str  # Python codec name used
    bom: bytes  # kept as it was; not part of text
    source: str  # "bom" | "header" | "meta" | "utf-8" | "detected" | "default"
    errors: int  # bytes that did not decode (kept as surrogate escapes)


def codec_for(label: str | None) -> str | None:
    """Python codec for a charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return codec_for(m.group(1)) if m else None


def _decode(data: bytes, codec: str) -> tuple[str, int]:
    try:
        return data.decode(codec), 0  # the usual page: no counting pass needed
    except UnicodeDecodeError:
        pass
    text = data.decode(codec, "surrogateescape")
    # Count lone surrogates without a Python loop over the text.
    errors = len(text) - len(text.encode("utf-8", "ignore").decode("utf-8"))
    return text, errors


def decode(data: bytes, content_type: str | None = None, *, html: bool = False) -> Decoded:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text, errors = _decode(data[len(bom) :], codec)
            return Decoded(text, codec, bom, "bom", errors)

    declared = header_charset(content_type)
    source = "header"
    if declared is None:
        head = data[:4096]
        m = _META_CHARSET.search(head) if html or b"<meta" in head.lower() else None
        m = m or _ENCODING_DECL.match(head)
        if m:
            declared = codec_for(m.group(1).decode("ascii", "replace"))
            source = "meta"
    if declared in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        declared = None  # a <meta> cannot declare UTF-16 in a page it is readable in
    if declared:
        text, errors = _decode(data, declared)
        return Decoded(text, declared, b"", source, errors)

    try:
        return Decoded(data.decode("utf-8"), "utf-8", b"", "utf-8", 0)
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[: 256 * 1024]).best()
    guessed = codec_for(best.encoding) if best is not None else None
    if guessed:
        text, errors = _decode(data, guessed)
        return Decoded(text, guessed, b"", "detected", errors)
    text, errors = _decode(data, "utf-8")
    return Decoded(text, "utf-8", b"", "default", errors)


def encode(text: str, decoded: Decoded) -> bytes:
    """Encode text back the way it came; characters the charset lacks become references."""
    try:
        body = text.encode(decoded.charset, "surrogateescape")
    except UnicodeEncodeError:
        body = text.encode(decoded.charset, "xmlcharrefreplace")
    return decoded.bom + body
