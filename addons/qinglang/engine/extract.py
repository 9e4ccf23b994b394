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
                # Text read two ways (markup a browser may or may not parse) can give
                # overlapping edits: the rest of the later one is masked as it stands.
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


def extract_json(doc: str) -> Extracted:
    """String values of a JSON document, escapes decoded; works on truncated or broken JSON
    too, best effort (``_jsontext`` has the token rules)."""
    text, scan, d0, length, raw, kind = _jsontext.extract_json(doc)
    return Extracted(doc, text, scan, d0, length, raw, kind)
