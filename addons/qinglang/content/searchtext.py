"""The text of a search as the engine reads it: from a query string or a POST body.

An engine reads every value of its search parameter, decodes the percent-escapes to bytes
and reads the bytes in the charset the request names (Baidu's and Sogou's ``ie=gbk``,
Google's ``ie``/``oe``, a form's ``_charset_``) or guesses (mainland engines take bytes
that are not UTF-8 for GBK). A check that read only the first value as UTF-8 would see
``%B6%C4%B2%A9`` (赌博 in GBK) as two replacement characters. So every reading an engine
may make is returned: UTF-8 when the bytes are UTF-8, each declared charset, GB18030
when they are not UTF-8, the value decoded once more when it still holds escapes, and
with character references (``&#32593;``) resolved, as a GBK form sends what GBK lacks.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from urllib.parse import unquote_to_bytes

from qinglang.content import charset
from qinglang.content import mediatypes as content

# Parameters in which engines and HTML forms name the charset of the others.
CHARSET_PARAMS = ("ie", "oe", "encoding", "charset", "_charset_", "inputencoding", "enc")
MAX_BODY = 1 << 20  # bytes of a search body read; a search form is a few hundred
MAX_VALUES = 64  # values of one search looked at (a repeated parameter, JSON arrays)
_PERCENT = re.compile(rb"%[0-9A-Fa-f]{2}")


def fields(raw: bytes) -> list[tuple[str, bytes]]:
    """Every ``name=value`` pair of a query string or a form body, in order, repeats kept:
    the name as text, the value as the bytes its escapes stand for (``+`` a space)."""
    out: list[tuple[str, bytes]] = []
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
        out.append((key, unquote_to_bytes(value.replace(b"+", b" "))))
    return out


def declared(pairs: Iterable[tuple[str, bytes]]) -> list[str]:
    """The charsets a request names in its parameters (``ie=gbk``)."""
    return [
        v.decode("ascii", "replace").strip()
        for k, v in pairs
        if k.lower() in CHARSET_PARAMS and v.strip()
    ]


def readings(raw: bytes, charsets: Sequence[str] = ()) -> list[str]:
    """Every text the engine may read ``raw`` as (see the module's docstring)."""
    out: list[str] = []
    try:
        utf8: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = None
    if utf8 is not None:
        out.append(utf8)
    for label in charsets:
        codec = charset.codec_for(label)
        if codec and codec != "utf-8":
            out.append(raw.decode(codec, "replace"))
    if utf8 is None:
        out.append(raw.decode("gb18030", "replace"))
    if _PERCENT.search(raw):
        out.extend(readings(unquote_to_bytes(raw), charsets) if len(raw) < MAX_BODY else [])
    # A GBK form sends characters GBK lacks as character references (&#12345;).
    out.extend(html.unescape(t) for t in list(out) if "&#" in t)
    return [t for t in dict.fromkeys(s.strip() for s in out) if t]


def query_values(
    query: bytes, names: Sequence[str], extra_charsets: Sequence[str] = ()
) -> tuple[str | None, list[str]]:
    """(the first parameter found, every reading of every value of ``names``)."""
    pairs = fields(query)
    charsets = [*declared(pairs), *extra_charsets]
    first: str | None = None
    out: list[str] = []
    for name in names:
        for k, v in pairs:
            if k != name or len(out) >= MAX_VALUES:
                continue
            texts = readings(v, charsets)
            if texts and first is None:
                first = name
            out.extend(texts)
    return first, out


def body_values(
    body: bytes, content_type: str | None, names: Sequence[str], query_charsets: Sequence[str]
) -> tuple[str | None, list[str]]:
    """The search values in a POST body: a form (like a query string, in the body's or
    the query's charset) or JSON (every string under a key in ``names``, at any depth)."""
    if not body:
        return None, []
    body = body[:MAX_BODY]
    mime = content.mime_of(content_type)
    header = charset.header_charset(content_type)
    charsets = [*query_charsets, *([header] if header else [])]
    if mime == "application/x-www-form-urlencoded" or (not mime and b"=" in body[:200]):
        return query_values(body, names, charsets)
    if "json" in mime or body.lstrip()[:1] in (b"{", b"["):
        try:
            data = json.loads(body.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            return None, []
        return _json_values(data, names)
    return None, []


def _json_values(data: object, names: Sequence[str]) -> tuple[str | None, list[str]]:
    wanted = set(names)
    first: str | None = None
    out: list[str] = []
    stack: list[tuple[str | None, object]] = [(None, data)]
    while stack and len(out) < MAX_VALUES:
        key, v = stack.pop()
        if isinstance(v, dict):
            stack.extend((str(k), x) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((key, x) for x in v)
        elif key in wanted and isinstance(v, str) and v.strip():
            first = first or key
            out.append(v.strip())
    return first, out
