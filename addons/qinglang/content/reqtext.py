"""The text a request carries out: its URL and its body, decoded the way a server reads them.

For the outbound guard (``outbound.py``). The path and the query are percent-decoded (the
query with ``+`` as a space, and once more when a value was encoded twice). Bodies:
form-urlencoded (decoded like a query), JSON (every string, key and number, so ``\\u``
escapes and numbers written without quotes are seen), multipart (each part on its own,
in its own charset; images, audio, video and fonts skipped), and anything else that is
not media as text. At most ``MAX_TEXT`` characters of a body are looked at.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from urllib.parse import unquote_to_bytes

from qinglang.content import charset
from qinglang.content import mediatypes as content

MAX_TEXT = 1 << 20  # characters of one body looked at; enough for any form a child fills in
MAX_PARTS = 200  # multipart parts looked at
_PERCENT = re.compile(rb"%[0-9A-Fa-f]{2}")
_MEDIA_TOPS = ("image/", "audio/", "video/", "font/", "model/")


def decode_bytes(raw: bytes, declared: str | None = None) -> str:
    """Text from bytes of an unknown charset: UTF-8, the declared charset (read through
    ``charset.codec_for``, the one table of labels: ``gbk`` is GB18030, ``latin1`` is
    windows-1252, as browsers read them), GB18030 (forms of GBK pages carry no label), and
    as a last resort UTF-8 with replacement characters (keeps the ASCII digits of a binary
    body in place)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for enc in (charset.codec_for(declared), "gb18030"):
        if enc:
            try:
                return raw.decode(enc)
            except (UnicodeDecodeError, LookupError):
                pass
    return raw.decode("utf-8", "replace")


def unquote_text(raw: bytes, plus: bool = False, declared: str | None = None) -> str:
    """Percent-decoded text; twice when the result still holds ``%XX`` escapes."""
    b = raw.replace(b"+", b" ") if plus else raw
    for _ in range(2):
        if not _PERCENT.search(b):
            break
        b = unquote_to_bytes(b)
    return decode_bytes(b, declared)


def url_texts(path: str) -> list[str]:
    """The decoded path and query of a request target (``/a/b?x=1``)."""
    p, _, query = path.partition("?")
    p = p.split("#", 1)[0]
    out = [unquote_text(p.encode("utf-8", "surrogateescape"))]
    if query:
        out.append(unquote_text(query.split("#", 1)[0].encode("utf-8", "surrogateescape"), True))
    return out


def body_texts(body: bytes, content_type: str | None) -> list[str]:
    """The text pieces of a request body."""
    if not body:
        return []
    mime = content.mime_of(content_type)
    declared = charset.header_charset(content_type)
    if mime.startswith("multipart/"):
        return _multipart(body, content_type or "")
    if mime == "application/x-www-form-urlencoded":
        return [unquote_text(body[: MAX_TEXT * 3], plus=True, declared=declared)]
    if _is_media(mime, body):
        return []
    text = decode_bytes(body[: MAX_TEXT * 4], declared)[:MAX_TEXT]
    if "json" in mime or text.lstrip()[:1] in ("{", "["):
        try:
            return _with_unquoted(_json_texts(json.loads(text)))
        except (ValueError, RecursionError):
            pass  # not JSON after all (or cut at the limit): read as text below
    return _with_unquoted([text])


def _with_unquoted(pieces: list[str]) -> list[str]:
    """The pieces, and a percent-decoded copy of those that hold ``%XX`` escapes (a query
    string inside a JSON value, an analytics beacon sent as text/plain)."""
    out = list(pieces)
    for p in pieces:
        raw = p.encode("utf-8", "surrogateescape")
        if _PERCENT.search(raw):
            out.append(unquote_text(raw, plus=True))
    return out


def _is_media(mime: str, body: bytes) -> bool:
    return mime.startswith(_MEDIA_TOPS) or content.has_signature(body[: content.SNIFF_BYTES])


def _json_texts(value: object) -> list[str]:
    """Every string, key and number in a JSON value (iteratively: no depth limit)."""
    out: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            out.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out.append(str(v))
    out.reverse()
    return out


def _multipart(body: bytes, content_type: str) -> list[str]:
    """Each part's text: its own charset, its own transfer encoding; media parts skipped.

    The standard library's MIME parser, because the parts carry their own headers
    (charset, Content-Transfer-Encoding) that a split on the boundary would ignore.
    """
    head = f"Content-Type: {content_type}\r\n\r\n".encode("utf-8", "replace")
    try:
        msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head + body)
    except Exception:  # a broken body: read what there is as text
        return [decode_bytes(body[: MAX_TEXT * 4])[:MAX_TEXT]]
    if not msg.is_multipart():
        return [decode_bytes(body[: MAX_TEXT * 4])[:MAX_TEXT]]
    out: list[str] = []
    left = MAX_TEXT
    for i, part in enumerate(msg.walk()):
        if i > MAX_PARTS or left <= 0:
            break
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        ctype = part.get("content-type")
        if ctype is not None and _is_media(content.mime_of(ctype), payload):
            continue
        if ctype is None and content.has_signature(payload[: content.SNIFF_BYTES]):
            continue
        text = decode_bytes(payload[: left * 4], part.get_content_charset())[:left]
        left -= len(text)
        out.append(text)
    return out
