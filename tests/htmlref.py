"""The differential test's two halves: what a browser shows of an HTML page, computed
with html5lib (a parser that follows the HTML standard's tokenizer and tree
construction), and a hypothesis grammar of the constructs that tell parsers apart.

Used by tests/test_html_differential.py (a few hundred documents) and
scripts/html_differential.py (tens of thousands).
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from urllib.parse import quote, unquote_to_bytes

import html5lib
from hypothesis import strategies as st

_HTML_NS = "{http://www.w3.org/1999/xhtml}"
_SVG_NS = "{http://www.w3.org/2000/svg}"
# Elements whose content a browser running scripts does not render. (A template's is
# rendered once a script stamps it into the page: qinglang scans it, so it counts.)
_HIDDEN = {"script", "style", "noscript", "iframe", "noembed", "noframes"}
# Attributes whose value is shown (the ones qinglang treats as text: docs/matching.md).
_SHOWN_ATTRS = {"title", "alt", "placeholder", "aria-label", "value", "label"}


class ReferenceFailed(Exception):
    """html5lib itself failed on the document (its own assertions, e.g. on
    ``<table><svg><html>``): there is no reference to compare with."""


def visible_text(doc: str, depth: int = 0) -> str:
    """The text html5lib's tree shows: text nodes outside the hidden elements, the shown
    attributes, and the documents of ``srcdoc`` and ``data:`` frames."""
    try:
        root = html5lib.parse(doc, treebuilder="etree", scripting=True)
    except AssertionError as e:
        raise ReferenceFailed(doc) from e
    out: list[str] = []
    _walk(root, out, depth, True)
    return "".join(out)


def _walk(el: object, out: list[str], depth: int, shows: bool) -> None:
    """``shows``: text directly in ``el`` is rendered (SVG renders text only inside its
    text elements; HTML in a foreignObject is rendered as HTML)."""
    tag = getattr(el, "tag", None)
    if not isinstance(tag, str):  # a comment
        out.append((getattr(el, "tail", None) or "") if shows else "")
        return
    local = tag.rsplit("}", 1)[-1]
    hidden = tag.startswith(_HTML_NS) and local in _HIDDEN
    # A hidden element's own attributes show nowhere either (a frame's src does).
    attrib: dict[str, str] = getattr(el, "attrib", {}) if not hidden or local == "iframe" else {}
    for name, value in attrib.items():
        name = name.rsplit("}", 1)[-1].lower()
        if name in _SHOWN_ATTRS:
            out.append(" " + value + " ")
        elif name == "srcdoc" and depth < 3:
            out.append(" " + visible_text(value, depth + 1) + " ")
        elif name in ("src", "data") and depth < 3:
            out.append(" " + _data_url_text(value, depth) + " ")
    inner = shows
    if tag.startswith(_SVG_NS):
        inner = local == "text" or (shows and local in ("tspan", "textPath", "a"))
        inner = inner or local == "foreignObject"
    elif tag.startswith(_HTML_NS):
        # A select shows its options only.
        inner = local != "select"
    if not hidden:
        out.append((getattr(el, "text", None) or "") if inner else "")
        for child in list(el):  # type: ignore[call-overload]
            _walk(child, out, depth, inner)
    out.append(" ")
    out.append((getattr(el, "tail", None) or "") if shows else "")


def _data_url_text(value: str, depth: int) -> str:
    """The text a frame shows for a ``data:`` URL of the forms the grammar makes."""
    v = value.strip()
    if not v.lower().startswith("data:") or "," not in v:
        return ""
    head, _, body = v[5:].partition(",")
    raw = unquote_to_bytes(body)
    if head.lower().endswith(";base64"):
        raw = base64.b64decode(raw)
        head = head[: -len(";base64")]
    text = raw.decode("utf-8", "replace")
    return visible_text(text, depth + 1) if head.lower() == "text/html" else text


def missed(reference: str, ours: str) -> Counter[str]:
    """Characters (whitespace aside) the reference shows more often than ``ours`` has."""
    ref = Counter(c for c in reference if not c.isspace())
    got = Counter(c for c in ours if not c.isspace())
    return ref - got


# --- the grammar ------------------------------------------------------------------

# Shown text is upper case and Chinese; markup is lower case, so a letter of a tag name
# read as text never stands in for a letter of the page's words.
_WORD = st.text(alphabet="ABCDEFGHIJ赌博色情", min_size=1, max_size=6)
_SPACE = st.sampled_from(["", " ", "\n", "\t"])

_REFS = st.sampled_from(
    [
        "&amp;",
        "&amp",
        "&ampX",
        "&lt",
        "&lt;",
        "&notin;",
        "&notit;",
        "&#65;",
        "&#0000000000066;",
        "&#x43",
        "&#x0000000000000000044;",
        "&#22312;",
        "&#99999999999;",
        "&#128;",
        "&#0;",
        "&AMP;",
        "&nbsp;",
        "&#",
        "&x",
        "&",
    ]
)

_TAGS = [
    "p", "div", "b", "span", "text", "tspan", "a", "font", "table", "td", "tr", "li",
    "select", "option",
    "br", "input", "img", "svg", "math", "foreignobject", "foreignObject", "desc", "title",
    "mi", "mtext", "mglyph", "annotation-xml", "style", "script", "xmp", "textarea",
    "plaintext", "noembed", "noframes", "noscript", "iframe", "template", "head", "body",
    "html", "object", "embed", "frame", "STYLE", "Script", "sTyLe", "x-y", "svg:p",
]  # fmt: skip

_ATTR_NAMES = st.sampled_from(
    ["title", "alt", "value", "placeholder", "class", "color", "face", "encoding", "id", "x"]
)


@st.composite
def _attr_value(draw: st.DrawFn) -> str:
    inner = draw(
        st.lists(st.one_of(_WORD, _REFS, st.sampled_from([">", "<", "=", " "])), max_size=4)
    )
    text = "".join(inner)
    quote_char = draw(st.sampled_from(['"', "'", ""]))
    if quote_char:
        return quote_char + text.replace(quote_char, "") + quote_char
    return "".join(c for c in text if c not in " >\"'") or "v"


@st.composite
def _attribute(draw: st.DrawFn) -> str:
    name = draw(_ATTR_NAMES)
    if name == "encoding":
        return ' encoding="' + draw(st.sampled_from(["text/html", "TEXT/HTML", "x"])) + '"'
    sep = draw(st.sampled_from([" ", "  ", "\n", "/"]))
    if draw(st.booleans()):
        return sep + name
    return sep + name + draw(st.sampled_from(["=", " = "])) + draw(_attr_value())


@st.composite
def _start_tag(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(_TAGS))
    attrs = "".join(draw(st.lists(_attribute(), max_size=2)))
    end = draw(st.sampled_from([">", ">", " />", "/>"]))
    return "<" + name + attrs + end


@st.composite
def _end_tag(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(_TAGS))
    return "</" + name + draw(st.sampled_from([">", " >", "/>", " x>", "\n>"]))


@st.composite
def _comment_like(draw: st.DrawFn) -> str:
    w = draw(_WORD)
    return draw(
        st.sampled_from(
            [
                "<!-->",
                "<!--->",
                f"<!--{w}-->",
                f"<!-- {w} --!>",
                f"<!-- {w} --!-->",
                "<!--",
                "<!-- -",
                f"<!{w.lower()}>",
                "<!doctype html>",
                f"<?{w.lower()} >",
                "</ x>",
                "</1>",
                "</>",
                f"<![CDATA[{w}]]>",
                "<![CDATA[",
                "]]>",
                "-->",
                "--!>",
                "<",
                "</",
                "< p>",
            ]
        )
    )


@st.composite
def _frame(draw: st.DrawFn, depth: int) -> str:
    inner = draw(_document(depth + 1)) if depth < 1 else draw(_WORD)
    form = draw(st.sampled_from(["srcdoc", "srcdoc-escaped", "data-pct", "data-b64", "data-text"]))
    if form == "srcdoc":
        return '<iframe srcdoc="' + inner.replace('"', "") + '"></iframe>'
    if form == "srcdoc-escaped":
        return '<iframe srcdoc="' + html.escape(inner, quote=True) + '"></iframe>'
    if form == "data-pct":
        return '<iframe src="data:text/html,' + quote(inner, safe="") + '"></iframe>'
    if form == "data-b64":
        b64 = base64.b64encode(inner.encode()).decode()
        return '<object data="data:text/html;base64,' + b64 + '"></object>'
    return '<embed src="data:text/plain,' + quote(inner, safe="") + '">'


def _document(depth: int = 0) -> st.SearchStrategy[str]:
    pieces = [_WORD, _SPACE, _REFS, _start_tag(), _end_tag(), _comment_like()]
    if depth < 1:
        pieces.append(_frame(depth))
    return st.lists(st.one_of(*pieces), max_size=25).map("".join)


documents = _document()
