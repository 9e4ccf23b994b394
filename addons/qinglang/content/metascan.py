"""The charset a ``<meta>`` declares, found the way Chromium finds it.

The HTML standard's prescan looks at the first 1024 bytes. Chromium (measured with its
headless build: a ``<meta charset>`` after 3 KB of ``<title>`` is obeyed, one after 3 KB
of body text is not) runs its tokenizer instead and keeps looking past 1024 bytes for as
long as it has seen only tags that belong in ``<head>``; inside ``<script>``, ``<style>``,
``<title>`` and the other raw-text elements a ``<meta>`` is text, not a tag. A
``content="...; charset=X"`` counts only together with ``http-equiv="content-type"``;
the first ``charset`` or ``content`` attribute of an element is the one read. A label
browsers do not know is skipped and the search goes on. UTF-16 named by a ``<meta>`` is
read as UTF-8 (the ``<meta>`` could not have been read otherwise) and ``x-user-defined``
as windows-1252.

Written here rather than taken from a library: html5lib's ``inputstream`` has the prescan
of the standard (1024 bytes, no raw-text elements), which is not what Chromium does.
"""

from __future__ import annotations

import html
import re

import webencodings

UNCONDITIONAL = 1024  # bytes always looked at
# Tags that keep Chromium in "the head section" (still looking past 1024 bytes).
_HEAD_TAGS = frozenset(
    {b"script", b"noscript", b"style", b"link", b"meta", b"object", b"title", b"base"}
)
_HTML_HEAD = frozenset({b"html", b"head"})
# Elements whose content is text to the tokenizer, up to their own end tag.
_RAWTEXT = frozenset(
    {b"script", b"style", b"title", b"textarea", b"xmp", b"iframe", b"noembed", b"noframes"}
)
_WS = b" \t\n\x0c\r"
_TAG_NAME = re.compile(rb"[^\s/>]*")
_ATTR = re.compile(
    rb"""[\s/]*(?P<name>[^\s/>][^\s/>=]*)(?:\s*=\s*(?:"(?P<dq>[^"]*)"?|'(?P<sq>[^']*)'?|(?P<uq>[^\s>]*)))?"""
)
_CHARSET_IN_CONTENT = re.compile(rb"charset", re.I)


def prescan(data: bytes) -> str | None:
    """The charset label a page's ``<meta>`` gives (already mapped: UTF-16 -> UTF-8),
    or None."""
    i, n = 0, len(data)
    in_head = True
    while i < n:
        if not in_head and i >= UNCONDITIONAL:
            return None
        lt = data.find(b"<", i)
        if lt < 0:
            return None
        if data.startswith(b"<!--", lt):
            # "<!-->" and "<!--->" close at once, as the tokenizer does.
            if data.startswith(b">", lt + 4):
                i = lt + 5
            elif data.startswith(b"->", lt + 4):
                i = lt + 6
            else:
                end = data.find(b"-->", lt + 4)
                i = n if end < 0 else end + 3
            continue
        nxt = data[lt + 1 : lt + 2]
        if nxt in (b"!", b"?"):
            end = data.find(b">", lt + 2)
            i = n if end < 0 else end + 1
            continue
        closing = nxt == b"/"
        start = lt + 2 if closing else lt + 1
        if not data[start : start + 1].isalpha():
            i = lt + 1  # "<" as text
            continue
        name = _TAG_NAME.match(data, start).group().lower()  # type: ignore[union-attr]
        attrs, i = _attributes(data, start + len(name))
        if not closing and name == b"meta":
            label = _from_meta(attrs)
            if label is not None:
                return label
        if name not in _HEAD_TAGS and name not in _HTML_HEAD:
            in_head = False
        if not closing and name == b"plaintext":
            return None  # everything after it is text
        if not closing and name in _RAWTEXT:
            end = _end_tag(data, i, name)
            i = n if end < 0 else end
    return None


def _attributes(data: bytes, i: int) -> tuple[dict[bytes, bytes], int]:
    """A tag's attributes (first of a name wins) and the index after its ``>``."""
    attrs: dict[bytes, bytes] = {}
    n = len(data)
    while i < n:
        while i < n and data[i] in _WS + b"/":
            i += 1
        if i >= n:
            break
        if data[i] == 0x3E:  # ">"
            return attrs, i + 1
        m = _ATTR.match(data, i)
        if m is None or m.end() == i:
            i += 1
            continue
        key = m.group("name").lower()
        value = m.group("dq")
        if value is None:
            value = m.group("sq")
        if value is None:
            value = m.group("uq") or b""
        attrs.setdefault(key, value)
        i = m.end()
    return attrs, n


def _end_tag(data: bytes, i: int, name: bytes) -> int:
    """Where the text of a raw-text element ends (the start of its end tag), or -1."""
    pat = re.compile(rb"</" + re.escape(name) + rb"[\s/>]", re.I)
    m = pat.search(data, i)
    return -1 if m is None else m.start()


def _text(value: bytes) -> str:
    return html.unescape(value.decode("latin-1"))


def _from_meta(attrs: dict[bytes, bytes]) -> str | None:
    pragma = _text(attrs.get(b"http-equiv", b"")).strip().lower() == "content-type"
    label: str | None = None
    # The first of charset / content in the order the page wrote them.
    for key in attrs:
        if key == b"charset":
            label = _text(attrs[key])
            break
        if key == b"content":
            found = content_charset(_text(attrs[key]))
            if found and pragma:
                label = found
            if found:
                break
    if label is None:
        return None
    enc = webencodings.lookup(label.strip(" \t\n\x0c\r"))
    if enc is None:
        return None
    if enc.name in ("utf-16le", "utf-16be"):
        return "utf-8"
    if enc.name == "x-user-defined":
        return "windows-1252"
    return enc.name


def content_charset(value: str) -> str | None:
    """The HTML standard's "extracting a character encoding from a meta element"."""
    i = 0
    low = value.lower()
    while True:
        i = low.find("charset", i)
        if i < 0:
            return None
        i += 7
        while i < len(value) and value[i] in " \t\n\x0c\r":
            i += 1
        if i < len(value) and value[i] == "=":
            break
    i += 1
    while i < len(value) and value[i] in " \t\n\x0c\r":
        i += 1
    if i >= len(value):
        return None
    if value[i] in "\"'":
        end = value.find(value[i], i + 1)
        return None if end < 0 else value[i + 1 : end]
    j = i
    while j < len(value) and value[j] not in " \t\n\x0c\r;":
        j += 1
    return value[i:j] or None
