"""Bytes to text and back without losing a byte, in the charset the browser uses.

A filter that decodes a page in another charset than the browser reads other words than
the child sees. The order is the browser's (WHATWG Encoding and HTML standards, checked
against Chromium): a BOM; the ``charset`` parameter of the Content-Type (parsed, see
``mimetype``), if it is a label browsers know; for HTML the ``<meta>`` prescan
(``metascan``); for XML the ``<?xml encoding?>`` declaration; then strict UTF-8 and
charset-normalizer (browsers run a detector there too). Labels are resolved through the
Encoding standard's table (``webencodings``, the table html5lib uses): ``latin1`` and
``ascii`` are windows-1252, ``gb2312`` is GBK, ``iso-2022-kr`` is the replacement
encoding; labels only Python knows (``latin_1``, ``utf-7``, ``cp037``) count as not given.

Decoding uses ``surrogateescape`` so that invalid bytes survive the round trip: an
unchanged part of a page encodes back to the same bytes.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache

import webencodings
from charset_normalizer import from_bytes

from qinglang.content import metascan, mimetype

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Encoding standard names whose decoder is a superset of the Python codec of the same
# name, or that Python spells differently. GBK is decoded by the gb18030 decoder in the
# standard; Big5 includes the HKSCS extension; Shift_JIS and EUC-KR are Microsoft's.
_PYTHON = {
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "shift_jis": "cp932",
    "euc-kr": "cp949",
    "windows-1252": "cp1252",
    "utf-16le": "utf-16-le",
    "utf-16be": "utf-16-be",
    "iso-8859-8-i": "iso-8859-8",
    "x-mac-cyrillic": "mac-cyrillic",
    "macintosh": "mac-roman",
    "windows-874": "cp874",
}
# Encodings with no Python codec of that name: webencodings' own.
_CUSTOM = ("x-user-defined", "replacement")

_ENCODING_DECL = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    charset: str  # Python codec name used ("x-user-defined", "replacement": webencodings')
    bom: bytes  # kept as it was; not part of text
    source: str  # "bom" | "header" | "meta" | "utf-8" | "detected" | "default"
    errors: int  # bytes that did not decode (kept as surrogate escapes)


def web_name(label: str | None) -> str | None:
    """The Encoding standard's name for a label (``latin1`` -> ``windows-1252``), or None
    for a label browsers do not know."""
    if not label:
        return None
    enc = webencodings.lookup(label.strip("\"'"))
    return enc.name if enc is not None else None


def codec_for(label: str | None) -> str | None:
    """The Python codec that decodes a charset label as browsers do, or None if browsers do
    not know the label."""
    name = web_name(label)
    if name is None:
        return None
    if name in _CUSTOM:
        return name
    return codecs.lookup(_PYTHON.get(name, name)).name


def _codec(name: str) -> codecs.CodecInfo:
    if name in _CUSTOM:
        return webencodings.lookup(name).codec_info
    return codecs.lookup(name)


@lru_cache(maxsize=1024)
def header_charset(content_type: str | None) -> str | None:
    """The codec named by the Content-Type's ``charset`` parameter, if browsers know it.
    Cached: a page is read with it several times, and sites repeat a few values."""
    m = mimetype.parse(content_type)
    return codec_for(m.params.get("charset")) if m is not None else None


def _decode(data: bytes, codec: str) -> tuple[str, int]:
    if codec == "replacement":
        return ("\ufffd" if data else ""), 0  # the whole document shows as one U+FFFD
    if codec == "x-user-defined":
        return _codec(codec).decode(data)[0], 0  # a one-to-one table: every byte decodes
    try:
        return data.decode(codec), 0  # the usual page: no counting pass needed
    except UnicodeDecodeError:
        pass
    text = data.decode(codec, "surrogateescape")
    # Count lone surrogates without a Python loop over the text.
    errors = len(text) - len(text.encode("utf-8", "ignore").decode("utf-8"))
    return text, errors


def _is_xml(essence: str) -> bool:
    return essence.endswith(("/xml", "+xml"))


def decode(data: bytes, content_type: str | None = None, *, html: bool = False) -> Decoded:
    """``data`` as the browser reads it. ``html``: the body is scanned as markup, so a
    ``<meta>`` (HTML) or the XML declaration (an XML type, or a sniffed ``<?xml``) may
    name the charset; never for plain text or JSON."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text, errors = _decode(data[len(bom) :], codec)
            return Decoded(text, codec, bom, "bom", errors)

    declared = header_charset(content_type)
    source = "header"
    if declared is None and html:
        essence = mimetype.essence(content_type)
        if _is_xml(essence) or (essence != "text/html" and data.lstrip()[:5] == b"<?xml"):
            m = _ENCODING_DECL.match(data[:1024])
            declared = codec_for(m.group(1).decode("ascii")) if m else None
            if declared in ("utf-16-le", "utf-16-be"):
                declared = None  # an ASCII declaration cannot be read in UTF-16 bytes
        else:
            declared = codec_for(metascan.prescan(data))
        source = "meta"
    if declared:
        text, errors = _decode(data, declared)
        return Decoded(text, declared, b"", source, errors)

    try:
        return Decoded(data.decode("utf-8"), "utf-8", b"", "utf-8", 0)
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[: 256 * 1024]).best()
    guessed = codec_for(best.encoding) if best is not None else None
    if guessed in _CUSTOM or guessed in ("utf-16-le", "utf-16-be"):
        guessed = None  # a detector's guess, not a declaration: never these
    if guessed:
        text, errors = _decode(data, guessed)
        return Decoded(text, guessed, b"", "detected", errors)
    text, errors = _decode(data, "utf-8")
    return Decoded(text, "utf-8", b"", "default", errors)


def encode(text: str, decoded: Decoded) -> bytes:
    """Encode text back the way it came; characters the charset lacks become references."""
    if decoded.charset in _CUSTOM:
        if decoded.charset == "replacement":
            return text.encode("utf-8", "surrogateescape")
        return decoded.bom + _codec(decoded.charset).encode(text, "xmlcharrefreplace")[0]
    try:
        body = text.encode(decoded.charset, "surrogateescape")
    except UnicodeEncodeError:
        body = text.encode(decoded.charset, "xmlcharrefreplace")
    return decoded.bom + body
