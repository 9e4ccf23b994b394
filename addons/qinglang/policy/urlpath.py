"""A request path as the server resolves it, for the URL rules.

A client can write one resource many ways: ``/a/../secret``, ``//secret``, ``/%73ecret``,
``/%2e%2e/secret``, ``/secret;x=1``, ``\\secret``. ``normalize`` is RFC 3986's
normalisation (section 6.2.2): percent-escapes of unreserved characters decoded, the hex
of the others in upper case, dot segments removed (5.2.4, ``%2e`` counting as ``.``
once decoded), and runs of slashes merged as nginx and most servers do by default. The
query is kept, with its escapes normalised the same way.

Servers differ beyond that, so ``server_views`` gives every form a rule must see: the
path as sent, normalised, fully percent-decoded first (servers that decode ``%2F``), with
backslashes as slashes (as browsers and IIS read them) and with each segment's
``;params`` cut (as Java servers route ``/a;jsessionid=1/b`` to ``/a/b``). A deny rule
that matches any of them blocks.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})?")
_SLASHES = re.compile(r"/{2,}")
_PARAMS = re.compile(r";[^/]*")
# What any view would change in a path; a path without them is its own every view.
_MARKS = ("%", "\\", ";", "//", "/.", "#")
# A path longer than this is checked as sent and normalised only (no extra views).
_MAX_VIEWS_LEN = 8192


def _escape(m: re.Match[str]) -> str:
    hexa = m.group(1)
    if hexa is None:
        # A stray ``%`` is the literal character a lenient server reads; written as an
        # escape so that a decoded neighbour (``%a%41``) cannot complete a new one.
        return "%25"
    ch = chr(int(hexa, 16))
    return ch if ch in _UNRESERVED else "%" + hexa.upper()


def normalize_escapes(text: str) -> str:
    """Unreserved characters decoded, every other escape in upper case (RFC 3986 6.2.2.1
    and 6.2.2.2), a stray ``%`` escaped: the same resource, one spelling."""
    return _ESCAPE.sub(_escape, text) if "%" in text else text


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, for an absolute path (``..`` above the root stays at the root)."""
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments[1:], 1):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/" + "/".join(out)


def normalize_route(route: str) -> str:
    """The path part (no query) in its normal form."""
    p = normalize_escapes(route)
    if not p.startswith("/"):
        p = "/" + p
    return remove_dot_segments(_SLASHES.sub("/", p))


def normalize(target: str) -> str:
    """A request target (``/a/b?q``) in its normal form: the path normalised, the query
    kept with its escapes normalised."""
    route, q, query = target.partition("?")
    route = route.split("#", 1)[0]
    out = normalize_route(route)
    return out + "?" + normalize_escapes(query) if q else out


def server_views(target: str) -> tuple[str, ...]:
    """Every form of ``target`` a URL rule must see (see the module's docstring), the
    target as sent first, without repeats."""
    route, _, query = target.partition("?")
    if not any(m in route for m in _MARKS) and "%" not in query and route.startswith("/"):
        return (target,)  # already in every form: most paths
    views = [target, normalize(target), unquote(target, errors="replace")]
    if len(target) <= _MAX_VIEWS_LEN:
        route, q, query = target.partition("?")
        decoded = unquote(route, errors="replace")
        for r in (route, decoded):
            cut = _PARAMS.sub("", r)
            for variant in (r, r.replace("\\", "/"), cut, cut.replace("\\", "/")):
                views.append(normalize_route(variant) + q + normalize_escapes(query))
    return tuple(dict.fromkeys(views))
