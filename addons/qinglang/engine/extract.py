"""What a person sees in a document, as scan text with a map back to the document.

``extract`` turns a decoded document into *scan text*: for HTML what the browser
shows (text nodes, ``<title>``, ``<xmp>``, the shown attributes, ``srcdoc`` and
``data:`` frames; docs/matching.md has the table), with references decoded; for JSON the string
values (not keys), with escapes decoded; plain text as it is. Text split by
inline tags (``赌<b>博</b>``) is joined; block boundaries and separate strings are
kept apart by ``BOUNDARY``. A segment table maps every scan character back to
the document characters it came from, so masks land on the original bytes and
everything else (markup, scripts, styles, JSON structure) stays byte-for-byte.

Why a tokenizer of our own: masking in place needs the source offset of every
text character, entity and escape. html.parser reports line/column per token
only and costs several times more per page (measured in
scripts/bench_engine.py's notes); lxml, selectolax and html5lib report no text
offsets at all. The JSON standard library has no offsets either. The HTML
tokenizer (``_htmltext.pyx``, compiled with Cython, as is ``_jsontext.pyx``)
follows the HTML tokenizer's states and the parts of tree construction that decide
how text is tokenized (foreign content, integration points, breakout), and treats
anything it does not recognise as text, the way browsers do. tests/htmlref.py checks
it against html5lib.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

try:
    import qinglang.engine._htmltext as _htmltext
    import qinglang.engine._jsontext as _jsontext
except ImportError as e:  # a source checkout used before its first build
    raise ImportError(
        "qinglang's compiled parts are not built: run `pip install -e .` in the checkout "
        "(needs a C++ compiler and Python's headers)"
    ) from e

Kind = Literal["html", "json", "text"]

# Segment kinds (_segments.pxd)
_RUN, _ENTITY, _SYNTH, _EMBED = 0, 1, 2, 3


@dataclass(slots=True)
class Extracted:
    """Scan text plus segments: scan[s0:s0+n] came from doc[d0:d0+raw]."""

    doc: str
    text: str
    seg_scan: np.ndarray  # scan start of each segment (sorted)
    seg_doc: np.ndarray  # document start
    seg_len: np.ndarray  # scan characters
    seg_raw: np.ndarray  # document characters
    seg_kind: np.ndarray
    problem: str | None = None  # set when the input was not what it claimed

    def doc_spans(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Document spans covering scan characters ``[a, b)``, for arrays of spans."""
        if len(a) == 0:
            return a, b
        return self._char_starts(a), self._char_ends(b - 1)

    def doc_span(self, a: int, b: int) -> tuple[int, int]:
        d0, d1 = self.doc_spans(np.array([a]), np.array([b]))
        return int(d0[0]), int(d1[0])

    def _seg_of(self, i: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.seg_scan, i, side="right") - 1

    def _char_starts(self, i: np.ndarray) -> np.ndarray:
        k = self._seg_of(i)
        run = self.seg_kind[k] == _RUN
        return np.where(run, self.seg_doc[k] + (i - self.seg_scan[k]), self.seg_doc[k])

    def _char_ends(self, i: np.ndarray) -> np.ndarray:
        k = self._seg_of(i)
        run = self.seg_kind[k] == _RUN
        return np.where(
            run, self.seg_doc[k] + (i - self.seg_scan[k]) + 1, self.seg_doc[k] + self.seg_raw[k]
        )

    def masked(self, mask: np.ndarray, char: str = "*", doc_cps: np.ndarray | None = None) -> str:
        """The document with every scan character where ``mask`` is set hidden.

        Characters of a text run are replaced one for one (whitespace is kept, so
        the layout holds); an entity or escape is replaced as a whole by one mask
        character per visible character it stood for; an embedded document (a
        ``srcdoc`` with references, a ``data:`` URL) cannot be masked inside, so the
        attribute value is emptied: the frame shows nothing.
        """
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            return self.doc
        doc = self.doc
        k = self._seg_of(idx)
        kinds = self.seg_kind[k]
        run = kinds == _RUN
        at = self.seg_doc[k[run]] + (idx[run] - self.seg_scan[k[run]])
        # Only the masked characters' code points are looked at: the page is copied once,
        # by the join below, not turned into an array and back.
        if doc_cps is not None:
            cps = doc_cps[at]
        else:
            cps = np.fromiter(map(ord, map(doc.__getitem__, at.tolist())), np.uint32, len(at))
        at = np.unique(at[~_SPACE[cps]])
        edits: list[tuple[int, int, str]] = []
        if len(at):
            cut = np.flatnonzero(np.diff(at) != 1) + 1
            starts = at[np.concatenate(([0], cut))].tolist()
            ends = (at[np.concatenate((cut - 1, [len(at) - 1]))] + 1).tolist()
            edits = [(x, y, char * (y - x)) for x, y in zip(starts, ends, strict=True)]
        for seg in np.unique(k[kinds == _ENTITY]).tolist():
            d0 = int(self.seg_doc[seg])
            s0, n = int(self.seg_scan[seg]), int(self.seg_len[seg])
            shown = self.text[s0 : s0 + n].strip()
            if shown:
                edits.append((d0, d0 + int(self.seg_raw[seg]), char * len(shown)))
        for seg in np.unique(k[kinds == _EMBED]).tolist():
            d0 = int(self.seg_doc[seg])
            edits.append((d0, d0 + int(self.seg_raw[seg]), ""))
        edits.sort()
        pieces: list[str] = []
        last = 0
        for x, y, rep in edits:
            if x < last:
                # Text read two ways (markup a browser may or may not parse, a JSON string
                # read as text and as HTML) can give overlapping edits: the rest of the
                # later one is masked as it stands.
                if y > last:
                    pieces.append(char * (y - last))
                    last = y
                continue
            pieces.append(doc[last:x])
            pieces.append(rep)
            last = y
        pieces.append(doc[last:])
        return "".join(pieces)


def _space_table() -> np.ndarray:
    t = np.zeros(0x110000, dtype=bool)
    for cp in range(0x3100):
        if chr(cp).isspace():
            t[cp] = True
    return t


_SPACE = _space_table()


def extract(doc: str, kind: Kind, *, xml: bool = False) -> Extracted:
    """``xml``: an HTML kind document served as XML (XHTML, SVG), read by XML's rules
    where they show more text (CDATA, self-closing elements)."""
    if kind == "html":
        return extract_html(doc, xml=xml)
    if kind == "json":
        return extract_json(doc)
    return _plain(doc)


def _plain(doc: str) -> Extracted:
    """Plain text is its own scan text (the very same string, which the engine relies
    on): one run, or one empty synthetic segment when there is no text."""
    zero = np.zeros(1, dtype=np.int64)
    n = np.full(1, len(doc), dtype=np.int64)
    kind = np.full(1, _RUN if doc else _SYNTH, dtype=np.int64)
    return Extracted(doc, doc, zero, zero.copy(), n, n.copy(), kind)


# --- HTML -------------------------------------------------------------------

VISIBLE_ATTRS = frozenset({"title", "alt", "placeholder", "aria-label", "value", "label"})

# Inline elements do not break a word; everything else does.
_INLINE = frozenset(
    [
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "big",
        "cite",
        "code",
        "data",
        "del",
        "dfn",
        "em",
        "font",
        "i",
        "ins",
        "kbd",
        "mark",
        "nobr",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "time",
        "tt",
        "u",
        "var",
        "wbr",
    ]
)


_INLINE_TAG, _BLOCK_TAG, _BR_TAG, _SPECIAL_TAG = 1, 2, 3, 4
# Tags that change how what follows is read (_htmltext's slow path).
_SPECIAL = [
    "svg",
    "math",
    "script",
    "style",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "xmp",
    "title",
    "textarea",
    "plaintext",
    "select",
    "template",
]
# Common block-level names too, so that most tags are found without lower-casing.
_COMMON_BLOCK = [
    "html",
    "head",
    "body",
    "div",
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "td",
    "th",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "main",
    "aside",
    "figure",
    "figcaption",
    "img",
    "meta",
    "link",
    "input",
    "button",
    "form",
    "label",
    "select",
    "option",
    "hr",
    "blockquote",
    "pre",
    "address",
    "details",
    "summary",
    "picture",
    "source",
    "video",
    "audio",
    "canvas",
    "svg",
    "path",
    "g",
    "use",
]
_TAG_CODES = (
    {name: _BLOCK_TAG for name in _COMMON_BLOCK}
    | {name: _INLINE_TAG for name in _INLINE}
    | {"br": _BR_TAG}
    | {name: _SPECIAL_TAG for name in _SPECIAL}
)


def extract_html(doc: str, *, xml: bool = False) -> Extracted:
    """The text a browser shows of an HTML page (``_htmltext`` has the rules)."""
    text, scan, d0, length, raw, kind = _htmltext.extract_html(doc, _TAG_CODES, xml)
    return Extracted(doc, text, scan, d0, length, raw, kind)


# --- JSON -------------------------------------------------------------------


# What servers put in front of JSON so that a <script> cannot run it (anti-hijacking):
# Angular's ")]}'", Google's "while(1);" and Facebook's "for (;;);", "&&&START&&&".
_GUARD = re.compile(
    r"""\s*(?:\)\]\}'[^\n\[{]*|while\s*\(\s*(?:1|true)\s*\)\s*;|for\s*\(\s*;\s*;\s*\)\s*;"""
    r"""|&&&START&&&)""",
)
# A JSONP response: an optional "/**/" or "typeof cb === 'function' &&", a callback name
# (dotted or indexed), "(", the JSON, ")" and an optional ";".
_JSONP = re.compile(
    r"""\s*(?:/\*\*/\s*)?(?:typeof\s+[\w$.]+\s*={2,3}\s*['"]function['"]\s*&&\s*)?"""
    r"""[A-Za-z_$][\w$]*(?:\s*(?:\.\s*[A-Za-z_$][\w$]*|\[\s*(?:"[^"]*"|'[^']*'|\d+)\s*\]))*"""
    r"""\s*\(\s*(?=[\[{"])"""
)
_JSONP_END = re.compile(r"""\)\s*;?\s*(?://[^\n]*)?\s*$""")


def json_span(doc: str) -> tuple[int, int] | None:
    """Where the JSON value is in a response that wraps it: after an anti-hijacking
    prefix, or inside a JSONP callback. None: no wrapper (the document is the JSON)."""
    m = _GUARD.match(doc)
    if m is not None:
        return m.end(), len(doc)
    m = _JSONP.match(doc)
    if m is not None:
        end = _JSONP_END.search(doc, m.end())
        return m.end(), end.start() if end is not None else len(doc)
    return None


def extract_json(doc: str) -> Extracted:
    """String values of a JSON document, escapes decoded; works on truncated or broken JSON
    too, best effort (``_jsontext`` has the token rules). A wrapper (``json_span``) is
    skipped; a string that holds markup is read as HTML, as the page that puts it into
    its document shows it (tags hidden, entities decoded)."""
    span = json_span(doc)
    if span is None:
        text, scan, d0, length, raw, kind = _jsontext.extract_json(doc)
    else:
        text, scan, d0, length, raw, kind = _jsontext.extract_json(doc[span[0] : span[1]])
        d0 = d0 + span[0]
    out = Extracted(doc, text, scan, d0, length, raw, kind)
    if ("<" in text or "&" in text) and _MARKUP.search(text):
        return _html_in_strings(out)
    return out


# A tag, a comment or a character reference: what makes a string HTML to a page's script.
_MARKUP = re.compile(r"<[A-Za-z!/?]|&(?:#[0-9xX]|[A-Za-z][A-Za-z0-9]*;)")


def _html_in_strings(e: Extracted) -> Extracted:
    """``e`` with the strings that hold markup read twice: as they are (the scan text as
    it was: a script may show a string with ``textContent``, where ``<x 赌博`` is text)
    and, after one more boundary, as HTML (``innerHTML``, where ``赌<b></b>博`` is one
    word). The HTML view's map (HTML text -> scan text) is composed with ``e``'s (scan
    text -> document) in one vectorised pass; each of its characters is a segment."""
    from qinglang.engine.normalize import BOUNDARY

    n = len(e.text)
    texts: list[str] = []
    found: list[tuple[np.ndarray, ...]] = []
    piece_pos: list[int] = []  # where each string starts in e.text
    view_pos: list[int] = []  # where its HTML view (after its boundary) starts
    pos = scan_off = 0
    for piece in e.text.split(BOUNDARY):
        if piece and _MARKUP.search(piece):
            text, *arrays = _htmltext.extract_html(piece, _TAG_CODES)
            found.append(tuple(arrays))
            piece_pos.append(pos)
            view_pos.append(scan_off + 1)
            # A boundary first, so that no word runs on from the string before.
            texts.append(BOUNDARY + text)
            scan_off += len(text) + 1
        pos += len(piece) + 1
    if not texts:
        return e
    # The offsets are added once, over all the strings (numpy per string costs more than
    # the HTML extraction itself).
    counts = np.fromiter((len(f[0]) for f in found), np.int64, len(found))
    scan, d0, length, raw, kind = (
        np.concatenate([f[i] for f in found]).astype(np.int64) for i in range(5)
    )
    scan += np.repeat(np.array(view_pos, dtype=np.int64), counts)
    d0 += np.repeat(np.array(piece_pos, dtype=np.int64), counts)
    k = len(found)
    b_scan = np.array(view_pos, dtype=np.int64) - 1  # the boundaries, synthetic
    order = np.argsort(np.concatenate((scan, b_scan)), kind="stable")
    view = Extracted(
        e.text,
        "".join(texts),
        np.concatenate((scan, b_scan))[order],
        np.concatenate((d0, np.array(piece_pos, dtype=np.int64)))[order],
        np.concatenate((length, np.ones(k, dtype=np.int64)))[order],
        np.concatenate((raw, np.zeros(k, dtype=np.int64)))[order],
        np.concatenate((kind, np.full(k, _SYNTH, dtype=np.int64)))[order],
    )
    j = np.arange(len(view.text), dtype=np.int64)
    a = np.minimum(view._char_starts(j), n - 1)  # in e.text
    b = np.minimum(np.maximum(view._char_ends(j) - 1, a), n - 1)
    d0, d1 = e._char_starts(a), e._char_ends(b)
    vk = view.seg_kind[view._seg_of(j)]
    synth = vk == _SYNTH
    kind = np.where(synth, _SYNTH, np.where((vk == _RUN) & (d1 - d0 == 1), _RUN, _ENTITY))
    m = len(j)
    return Extracted(
        e.doc,
        e.text + view.text,
        np.concatenate((e.seg_scan, n + j)),
        np.concatenate((e.seg_doc, d0)),
        np.concatenate((e.seg_len, np.ones(m, dtype=np.int64))),
        np.concatenate((e.seg_raw, np.where(synth, 0, d1 - d0))),
        np.concatenate((e.seg_kind, kind.astype(e.seg_kind.dtype))),
        e.problem,
    )
