"""Internal DTD entities of an XML document (SVG, XHTML), expanded the way the browser's
XML parser expands them, within bounds.

``<!DOCTYPE svg [<!ENTITY w "word">]>`` and then ``&w;`` shows "word" on screen while the
page's bytes never hold it where the text is: the pipeline scans the expanded document
and blocks (for a filtering profile) what it would have to mask, since nothing can be
masked inside an entity declaration (docs/matching.md).

Why by hand: the standard library's XML parsers expand entities but report no text
positions and no sizes before expanding (a "billion laughs" document is the risk);
defusedxml refuses every entity. What is read here is small: the internal subset's
``<!ENTITY name "value">`` declarations. External entities are not loaded by browsers
(they show nothing) and are left out; parameter entities, which can declare further
entities, make the document refused rather than half read.
"""

from __future__ import annotations

import html
import re

MAX_DEPTH = 8  # entities inside entity values


class DtdError(ValueError):
    """A DTD that is not expanded: the document is not scanned (on_error decides)."""


_DOCTYPE = re.compile(r"<!DOCTYPE\b", re.I)
_DECL = re.compile(
    r"""<!ENTITY\s+(?P<pct>%\s*)?(?P<name>[^\s"'%;&<>]+)\s+"""
    r"""(?:(?P<q>["'])(?P<value>.*?)(?P=q)|(?P<ext>SYSTEM|PUBLIC)\b)""",
    re.S,
)
_REF = re.compile(r"&([^\s&;<>#][^\s&;<>]*);")
_CHARREF = re.compile(r"&#(?:[0-9]+|[xX][0-9a-fA-F]+);")
_PREDEFINED = frozenset({"lt", "gt", "amp", "quot", "apos"})


def expand(doc: str, limit: int) -> str | None:
    """``doc`` with its internal DTD's entities expanded and the DTD itself left out;
    None when it declares none. Raises DtdError past ``limit`` characters, past
    ``MAX_DEPTH`` levels, or for parameter entities."""
    m = _DOCTYPE.search(doc, 0, 4096)
    if m is None:
        return None
    start = doc.find("[", m.end())
    close = doc.find(">", m.end())
    if start < 0 or (0 <= close < start):
        return None  # no internal subset
    end = _subset_end(doc, start + 1)
    subset = doc[start + 1 : end]
    entities: dict[str, str] = {}
    for d in _DECL.finditer(subset):
        if d.group("pct") is not None:
            raise DtdError("XML document declares parameter entities")
        name = d.group("name")
        # The first declaration wins; an external one shows nothing.
        entities.setdefault(name, "" if d.group("ext") else _charrefs(d.group("value")))
    if "%" in _strip_decls(subset):
        raise DtdError("XML document uses parameter entities")
    if not entities:
        return None
    gt = doc.find(">", end)
    body = doc[: m.start()] + doc[(gt + 1 if gt >= 0 else len(doc)) :]
    return _expand(body, entities, limit, 0, {})


def _subset_end(doc: str, i: int) -> int:
    """Index of the ``]`` that ends the internal subset starting at ``i`` (quoted strings
    and comments may hold ``]``)."""
    n = len(doc)
    while i < n:
        c = doc[i]
        if c == "]":
            return i
        if c in "\"'":
            q = doc.find(c, i + 1)
            i = n if q < 0 else q + 1
        elif doc.startswith("<!--", i):
            q = doc.find("-->", i + 4)
            i = n if q < 0 else q + 3
        else:
            i += 1
    return n


def _strip_decls(subset: str) -> str:
    """The subset without its entity declarations' values and comments: where a ``%``
    would be a parameter entity reference."""
    s = re.sub(r"<!--.*?-->", "", subset, flags=re.S)
    return re.sub(r"(\"[^\"]*\"|'[^']*')", "", s)


def _charrefs(value: str) -> str:
    # Character references in a value are replaced when it is declared.
    return _CHARREF.sub(lambda r: html.unescape(r.group(0)), value)


def _expand(
    text: str, entities: dict[str, str], limit: int, depth: int, done: dict[str, str]
) -> str:
    """``text`` with references replaced; ``done`` keeps each entity's expansion, so a
    value referenced many times is expanded once."""
    if depth > MAX_DEPTH:
        raise DtdError("XML entities nested too deeply")
    out: list[str] = []
    size = 0
    last = 0
    for r in _REF.finditer(text):
        name = r.group(1)
        if name in _PREDEFINED or name not in entities:
            continue
        value = done.get(name)
        if value is None:
            value = entities[name]
            if "&" in value:
                value = _expand(value, entities, limit, depth + 1, done)
            done[name] = value
        out.append(text[last : r.start()])
        out.append(value)
        size += r.start() - last + len(value)
        if size > limit:
            raise DtdError(f"XML entities expand past {limit} characters")
        last = r.end()
    out.append(text[last:])
    return "".join(out)
