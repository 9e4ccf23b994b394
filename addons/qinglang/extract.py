"""What a person sees in a document, as scan text with a map back to the document.

``extract`` turns a decoded document into *scan text*: for HTML the text nodes
(``<title>`` included) and the visible attributes ``title``, ``alt``,
``placeholder`` and ``aria-label``, with entities decoded; for JSON the string
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
tokenizer (``_htmltext.pyx``, compiled with Cython) follows the HTML tokenizer's
states that matter for text (tags with quoted attributes, comments, doctype,
CDATA, raw-text and RCDATA elements) and treats anything it does not recognise
as text, the way browsers do.
"""

from __future__ import annotations

import itertools
import operator
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .normalize import BOUNDARY

try:
    from . import _htmltext
except ImportError as e:  # a source checkout used before its first build
    raise ImportError(
        "qinglang's compiled parts are not built: run `pip install -e .` in the checkout "
        "(needs a C++ compiler and Python's headers)"
    ) from e

Kind = Literal["html", "json", "text"]

# Segment kinds
_RUN, _ENTITY, _SYNTH = 0, 1, 2


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
        character per visible character it stood for.
        """
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            return self.doc
        k = self._seg_of(idx)
        kinds = self.seg_kind[k]
        run = kinds == _RUN
        if doc_cps is None:
            doc_cps = np.frombuffer(self.doc.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        doc_cps = doc_cps.copy()
        at = self.seg_doc[k[run]] + (idx[run] - self.seg_scan[k[run]])
        at = at[~_SPACE[doc_cps[at]]]
        doc_cps[at] = ord(char)
        out = doc_cps.tobytes().decode("utf-32-le", "surrogatepass")
        ent = np.unique(k[kinds == _ENTITY])
        if len(ent) == 0:
            return out
        pieces: list[str] = []
        last = 0
        for seg in ent.tolist():
            d0 = int(self.seg_doc[seg])
            s0, n = int(self.seg_scan[seg]), int(self.seg_len[seg])
            shown = self.text[s0 : s0 + n].strip()
            if not shown:
                continue
            pieces.append(out[last:d0])
            pieces.append(char * len(shown))
            last = d0 + int(self.seg_raw[seg])
        pieces.append(out[last:])
        return "".join(pieces)


def _space_table() -> np.ndarray:
    t = np.zeros(0x110000, dtype=bool)
    for cp in range(0x3100):
        if chr(cp).isspace():
            t[cp] = True
    return t


_SPACE = _space_table()


class _Builder:
    def __init__(self, doc: str) -> None:
        self.doc = doc
        self.parts: list[str] = []
        self.segs: list[tuple[int, int, int, int, int]] = []
        self.n = 0

    def run(self, d0: int, d1: int) -> None:
        if d1 > d0:
            self._add(self.doc[d0:d1], d0, d1 - d0, _RUN)

    def entity(self, decoded: str, d0: int, raw: int) -> None:
        if decoded:
            self._add(decoded, d0, raw, _ENTITY)

    def synth(self, text: str, d0: int) -> None:
        if self.parts and self.parts[-1] == text:
            return
        self._add(text, d0, 0, _SYNTH)

    def _add(self, text: str, d0: int, raw: int, kind: int) -> None:
        self.parts.append(text)
        self.segs.append((self.n, d0, len(text), raw, kind))
        self.n += len(text)

    def build(self, problem: str | None = None) -> Extracted:
        if not self.segs:
            self.segs.append((0, 0, 0, 0, _SYNTH))
        a = np.array(self.segs, dtype=np.int64)
        return Extracted(
            self.doc, "".join(self.parts), a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], problem
        )


def extract(doc: str, kind: Kind) -> Extracted:
    if kind == "html":
        return extract_html(doc)
    if kind == "json":
        return extract_json(doc)
    b = _Builder(doc)
    b.run(0, len(doc))
    return b.build()


# --- HTML -------------------------------------------------------------------

VISIBLE_ATTRS = frozenset({"title", "alt", "placeholder", "aria-label"})  # (_htmltext)

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


_INLINE_TAG, _BLOCK_TAG, _BR_TAG = 1, 2, 3
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
)


def extract_html(doc: str) -> Extracted:
    """The text nodes and visible attributes of an HTML page (``_htmltext`` has the
    token rules)."""
    text, scan, d0, length, raw, kind = _htmltext.extract_html(doc, _TAG_CODES)
    return Extracted(doc, text, scan, d0, length, raw, kind)


class _Segments:
    """Segments collected out of document order, each with a sort key."""

    def __init__(self) -> None:
        self.key: list[int] = []
        self.text: list[str] = []
        self.doc: list[int] = []
        self.raw: list[int] = []
        self.kind: list[int] = []

    def add(self, key: int, text: str, d0: int, raw: int, kind: int) -> None:
        if text:
            self.key.append(key)
            self.text.append(text)
            self.doc.append(d0)
            self.raw.append(raw)
            self.kind.append(kind)


# --- JSON -------------------------------------------------------------------

_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})(?:\\u([dD][c-fC-F][0-9a-fA-F]{2}))?|(.))", re.S)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r"}
_SIMPLE_ESCAPES["t"] = "\t"
# A string and what follows it: blanks, and the colon that makes it an object key.
# (The unrolled form of a string runs through plain characters a class at a time: three
# times faster than an alternation per character.)
_JSON_SPLIT = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"([ \t\r\n]*:?)', re.S)


def extract_json(doc: str) -> Extracted:
    """String values of a JSON document. Works on truncated JSON too (best effort).

    One split finds every string with what follows it (a key is followed by ``:``); the
    segments of strings without escapes are built as arrays, the rest one by one."""
    parts = _JSON_SPLIT.split(doc)
    strs, tails = parts[1::3], parts[2::3]
    n = len(strs)
    if n == 0:
        return _Builder(doc).build()
    g_len = np.fromiter(map(len, parts[0::3]), dtype=np.int64, count=n + 1)
    s_len = np.fromiter(map(len, strs), dtype=np.int64, count=n)
    tok_len = s_len + 2 + np.fromiter(map(len, tails), dtype=np.int64, count=n)
    at = np.cumsum(g_len[:-1]) + np.concatenate(([0], np.cumsum(tok_len[:-1])))
    is_value = ~np.fromiter(map(str.endswith, tails, itertools.repeat(":")), dtype=bool, count=n)
    escaped = np.fromiter(map(operator.contains, strs, itertools.repeat("\\")), dtype=bool, count=n)
    plain = np.flatnonzero(is_value & ~escaped & (s_len > 0))
    values = np.flatnonzero(is_value)

    # Keys keep document order: a string's boundary at 2i, its text at 2i + 1.
    extra = _Segments()
    for i in np.flatnonzero(is_value & escaped).tolist():
        s0 = int(at[i]) + 1
        pos = s0
        for e in _JSON_ESCAPE.finditer(doc, s0, s0 + int(s_len[i])):
            extra.add(2 * i + 1, doc[pos : e.start()], pos, e.start() - pos, _RUN)
            extra.add(2 * i + 1, _unescape_json(e), e.start(), e.end() - e.start(), _ENTITY)
            pos = e.end()
        end = s0 + int(s_len[i])
        extra.add(2 * i + 1, doc[pos:end], pos, end - pos, _RUN)
    if len(values) == 0:
        return _Builder(doc).build()
    keys = np.concatenate((2 * values, 2 * plain + 1, np.array(extra.key, dtype=np.int64)))
    texts = [BOUNDARY] * len(values) + [strs[i] for i in plain.tolist()] + extra.text
    d0 = np.concatenate((at[values], at[plain] + 1, np.array(extra.doc, dtype=np.int64)))
    raw = np.concatenate(
        (np.zeros(len(values), dtype=np.int64), s_len[plain], np.array(extra.raw, dtype=np.int64))
    )
    kind = np.concatenate(
        (
            np.full(len(values), _SYNTH, dtype=np.int64),
            np.full(len(plain), _RUN, dtype=np.int64),
            np.array(extra.kind, dtype=np.int64),
        )
    )
    order = np.argsort(keys, kind="stable")
    # Strings with no text between them (empty values) share one boundary.
    is_b = (kind == _SYNTH)[order]
    repeat = np.zeros(len(order), dtype=bool)
    repeat[1:] = is_b[1:] & is_b[:-1]
    order = order[~repeat]
    ordered = [texts[j] for j in order.tolist()]
    seg_len = np.fromiter(map(len, ordered), dtype=np.int64, count=len(ordered))
    seg_scan = np.concatenate(([0], np.cumsum(seg_len[:-1])))
    return Extracted(doc, "".join(ordered), seg_scan, d0[order], seg_len, raw[order], kind[order])


def _unescape_json(e: re.Match[str]) -> str:
    hi, lo, simple = e.group(1), e.group(2), e.group(3)
    if simple is not None:
        return _SIMPLE_ESCAPES.get(simple, simple)
    cp = int(hi, 16)
    if lo is not None and 0xD800 <= cp < 0xDC00:
        return chr(0x10000 + ((cp - 0xD800) << 10) + (int(lo, 16) - 0xDC00))
    if lo is not None:  # not a surrogate pair after all: two separate escapes
        return chr(cp) + chr(int(lo, 16))
    return chr(cp)
