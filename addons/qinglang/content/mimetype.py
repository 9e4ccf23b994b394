"""A Content-Type header read the way browsers read it: the WHATWG MIME Sniffing
standard's "parse a MIME type" (type, subtype and parameters; the first of a repeated
parameter wins; quoted strings with backslash escapes).

A regular-expression search for ``charset=`` reads ``text/html; xcharset=latin1;
charset=utf-8`` as latin1, where a browser reads UTF-8; a page that knows the difference
would be decoded one way here and shown another way on screen. The algorithm is short and
has no library in the standard library (``email.message`` follows RFC 2045, which differs
on exactly these edge cases), so it is written out here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

_HTTP_WS = "\t\n\r "
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True, slots=True)
class MimeType:
    type: str
    subtype: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def essence(self) -> str:
        return f"{self.type}/{self.subtype}"


def _is_token(s: str) -> bool:
    return bool(s) and all(c in _TOKEN for c in s)


def _quoted_ok(s: str) -> bool:
    return all(c == "\t" or " " <= c <= "~" or "\x80" <= c <= "\xff" for c in s)


def _quoted_string(s: str, i: int) -> tuple[str, int]:
    """An HTTP quoted string starting at ``s[i] == '"'``, its value extracted."""
    out: list[str] = []
    i += 1
    n = len(s)
    while True:
        j = i
        while j < n and s[j] not in '"\\':
            j += 1
        out.append(s[i:j])
        i = j
        if i >= n:
            break
        ch = s[i]
        i += 1
        if ch == "\\":
            if i >= n:
                out.append("\\")
                break
            out.append(s[i])
            i += 1
        else:
            break
    return "".join(out), i


def parse(value: str | None) -> MimeType | None:
    """The MIME type in a Content-Type value, or None where a browser finds none."""
    if value is None:
        return None
    s = value.strip(_HTTP_WS)
    slash = s.find("/")
    if slash < 0:
        return None
    typ = s[:slash]
    semi = s.find(";", slash + 1)
    end = len(s) if semi < 0 else semi
    sub = s[slash + 1 : end].rstrip(_HTTP_WS)
    if not _is_token(typ) or not _is_token(sub):
        return None
    params: dict[str, str] = {}
    i, n = end, len(s)
    while i < n:
        i += 1  # the ";"
        while i < n and s[i] in _HTTP_WS:
            i += 1
        j = i
        while j < n and s[j] not in ";=":
            j += 1
        name = s[i:j].lower()
        i = j
        if i < n:
            if s[i] == ";":
                continue
            i += 1  # the "="
        if i >= n:
            break
        if s[i] == '"':
            val, i = _quoted_string(s, i)
            while i < n and s[i] != ";":
                i += 1
        else:
            j = i
            while j < n and s[j] != ";":
                j += 1
            val = s[i:j].rstrip(_HTTP_WS)
            i = j
            if not val:
                continue
        if _is_token(name) and _quoted_ok(val) and name not in params:
            params[name] = val
    return MimeType(typ.lower(), sub.lower(), params)


@lru_cache(maxsize=1024)
def essence(value: str | None) -> str:
    """``type/subtype`` in lower case, or "" when there is none a browser would read
    (cached: a few values repeat across every response)."""
    m = parse(value)
    return m.essence if m is not None else ""
