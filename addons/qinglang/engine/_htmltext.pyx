# cython: language_level=3, boundscheck=True, wraparound=False
"""HTML scan text in one compiled pass: the text a browser shows, and the segments that
map scan text back to the document.

Why compiled: the page's text, tags, attributes and entities are found in one loop over
the characters at C speed. Cython keeps Python's semantics (bounds-checked indexing,
exceptions), so this is not a hand-written C parser of hostile input.

The rules are the HTML standard's tokenizer, with as much of its tree construction as
decides how text is tokenized (docs/matching.md lists what is scanned):

- Tags: ``<`` + ASCII letter starts a start tag, ``</`` + letter an end tag; names run to
  whitespace, ``/`` or ``>``; attributes as the attribute states read them (quotes only
  in values). A tag cut off by the end of the document leaves its ``<`` as text (the
  browser shows nothing there: scanning more is the safe side).
- Comments: ``<!--`` to ``-->`` or ``--!>``, with the abrupt ``<!-->`` and ``<!--->``;
  ``<!`` (doctype included), ``<?`` and ``</`` + non-letter are bogus comments to ``>``;
  ``</>`` is nothing.
- In HTML content: ``script``, ``style``, ``iframe``, ``noembed``, ``noframes`` are raw
  text, never shown; ``xmp`` is raw text, shown as it is; ``title`` and ``textarea`` are
  RCDATA (references decoded), shown; ``plaintext`` runs to the end, shown;
  ``noscript`` is raw text (Chromium runs scripts) whose content is also scanned as
  markup (what a browser without scripts shows). The end tag closes them only when
  followed by whitespace, ``/`` or ``>``.
- ``template`` content is scanned: the browser renders it as soon as a script stamps
  it into the page, which is what templates are for.
- Foreign content (``svg``, ``math``): none of the above is raw text there, and
  ``<![CDATA[...]]>`` is text; the breakout start tags (``p``, ``div``, ``font`` with
  ``color``/``face``/``size`` ...), ``</p>`` and ``</br>`` return to HTML; HTML and
  MathML text integration points hold HTML content. An end tag that matches no open
  foreign element is taken to close the foreign content (the HTML element it names may
  be open), and from then on raw-text elements are also scanned as markup, since the
  browser might still be in foreign content; likewise after ``</p>`` and ``</br>`` in
  foreign content (a rule older parsers, html5lib among them, do not have), and inside
  a ``select`` (where older parsers ignore the raw-text start tag).
- Character references: numeric ones of any length (out of range: U+FFFD), named ones
  by the longest match, the legacy ones without ``;``; in attribute values a legacy
  reference followed by ``=`` or a letter or digit is text.
- Attributes shown as text: ``title``, ``alt``, ``placeholder``, ``aria-label``,
  ``value``, ``label``. ``srcdoc`` is a document of its own: parsed in place when it has
  no references, else decoded and scanned as an embedded document; ``data:`` and
  ``javascript:`` URLs in ``src``, ``href`` and ``data`` likewise (engine/embedded.py).

With ``xml`` (XHTML and SVG served as XML), CDATA is always text and a self-closing
``<script/>`` (or any raw-text name) closes the element.
"""

import html
from html.entities import html5 as _HTML5

from ._segments cimport EMBED, ENTITY, SYNTH, PyUnicode_FindChar, Segments

from .embedded import decode_url as _decode_url, url_scheme as _url_scheme

# Token codes
cdef enum:
    SKIP = 0
    INLINE_TAG = 1
    BLOCK_TAG = 2
    BR_TAG = 3
    SPECIAL_TAG = 4  # svg, math, raw-text names, select, template: the slow path

# Namespaces of open elements
cdef enum:
    NS_HTML = 0
    NS_SVG = 1
    NS_MATH = 2

# Integration points: none, HTML, MathML text, annotation-xml that is not HTML
cdef enum:
    IP_NONE = 0
    IP_HTML = 1
    IP_MTEXT = 2
    IP_ANNOT = 3

# Raw-text kinds in HTML content
cdef enum:
    RAW_HIDDEN = 1
    RAW_SHOWN = 2
    RAW_RCDATA = 3
    RAW_PLAIN = 4
    RAW_NOSCRIPT = 5

# Attributes of interest
cdef enum:
    AT_VISIBLE = 1
    AT_SRCDOC = 2
    AT_URL = 3
    AT_FONT = 4
    AT_ENCODING = 5

cdef str NEWLINE = "\n"
cdef int MAX_DEPTH = 8  # embedded documents inside embedded documents
# Open elements tracked since foreign content began, at most: keeps every end tag's walk
# short on hostile pages (inline SVG nests far less). Past it, elements are not tracked,
# so their end tags match nothing: foreign content is then left on a guess ("unsure"
# below), which scans more, never less.
cdef Py_ssize_t MAX_OPEN = 128

_RAW = {
    "script": RAW_HIDDEN, "style": RAW_HIDDEN, "iframe": RAW_HIDDEN,
    "noembed": RAW_HIDDEN, "noframes": RAW_HIDDEN, "xmp": RAW_SHOWN,
    "title": RAW_RCDATA, "textarea": RAW_RCDATA, "plaintext": RAW_PLAIN,
    "noscript": RAW_NOSCRIPT,
}
# Start tags that leave foreign content (the tree construction's list)
_BREAKOUT = frozenset((
    "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt",
    "em", "embed", "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li",
    "listing", "menu", "meta", "nobr", "ol", "p", "pre", "ruby", "s", "small", "span",
    "strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var",
))
_VOID = frozenset((
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr", "param", "keygen", "basefont", "bgsound", "frame",
))
# Elements an "any other end tag" does not close past (the "special" category, with the
# foreign integration points, which are kept apart)
_SPECIAL = frozenset((
    "address", "applet", "area", "article", "aside", "base", "basefont", "bgsound",
    "blockquote", "body", "br", "button", "caption", "center", "col", "colgroup", "dd",
    "details", "dir", "div", "dl", "dt", "embed", "fieldset", "figcaption", "figure",
    "footer", "form", "frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head",
    "header", "hgroup", "hr", "html", "iframe", "img", "input", "keygen", "li", "link",
    "listing", "main", "marquee", "menu", "meta", "nav", "noembed", "noframes",
    "noscript", "object", "ol", "p", "param", "plaintext", "pre", "script", "search",
    "section", "select", "source", "style", "summary", "table", "tbody", "td", "template",
    "textarea", "tfoot", "th", "thead", "title", "tr", "track", "ul", "wbr", "xmp",
))
# Legacy named references (valid without ";"): 2 to 6 characters
_LEGACY = frozenset(k for k in _HTML5 if not k.endswith(";"))
cdef int LEGACY_MAX = max(len(k) for k in _LEGACY)
_unescape = html.unescape


cdef inline bint _ascii_letter(Py_UCS4 c):
    return 97 <= c <= 122 or 65 <= c <= 90


cdef inline bint _ascii_alnum(Py_UCS4 c):
    return _ascii_letter(c) or 48 <= c <= 57


cdef inline bint _hexdigit(Py_UCS4 c):
    return 48 <= c <= 57 or 97 <= c <= 102 or 65 <= c <= 70


cdef inline bint _blank(Py_UCS4 c):
    # The HTML tokenizer's whitespace (no vertical tab)
    return c == u" " or c == u"\t" or c == u"\n" or c == u"\f" or c == u"\r"


cdef inline bint _name_end(Py_UCS4 c):
    return _blank(c) or c == u"/" or c == u">"


cdef inline Py_UCS4 _lower(Py_UCS4 c):
    if 65 <= c <= 90:  # A-Z
        return <Py_UCS4>(<unsigned int>c + 32)
    return c


cdef str _lower_name(str s):
    """ASCII lower case (the standard lower-cases tag and attribute names that way only)."""
    cdef Py_ssize_t i, n = len(s)
    for i in range(n):
        if 65 <= s[i] <= 90:
            return "".join([chr(ord(c) + 32) if u"A" <= c <= u"Z" else c for c in s])
    return s


cdef bint _word_at(str doc, Py_ssize_t at, Py_ssize_t end, str word):
    """``word`` (lower-case ASCII) at ``doc[at:]``, ASCII case-insensitively, within end."""
    cdef Py_ssize_t k, m = len(word)
    if at + m > end:
        return False
    for k in range(m):
        if _lower(doc[at + k]) != word[k]:
            return False
    return True


cdef Py_ssize_t _find_close(str doc, Py_ssize_t j, Py_ssize_t n, str name):
    """First ``</name`` followed by whitespace, ``/`` or ``>`` at or after ``j``, else -1
    (the end tag that closes a raw-text, RCDATA or script element)."""
    cdef Py_ssize_t at = j, m = len(name)
    while True:
        at = PyUnicode_FindChar(doc, u"<", at, n, 1)
        if at < 0:
            return -1
        if (
            at + 1 < n and doc[at + 1] == u"/" and _word_at(doc, at + 2, n, name)
            and at + 2 + m < n and _name_end(doc[at + 2 + m])
        ):
            return at
        at += 1


cdef Py_ssize_t _to_gt(str doc, Py_ssize_t j, Py_ssize_t n):
    """Past the first ``>`` at or after ``j``, or ``n`` (bogus comments, doctype)."""
    cdef Py_ssize_t q = PyUnicode_FindChar(doc, u">", j, n, 1)
    return n if q < 0 else q + 1


cdef Py_ssize_t _comment_end(str doc, Py_ssize_t j, Py_ssize_t n):
    """Past a comment whose ``<!--`` ends before ``j``: the abrupt ``<!-->`` and ``<!--->``,
    else the first ``-->`` or ``--!>``, else ``n``."""
    cdef Py_ssize_t at = j
    if j < n and doc[j] == u">":
        return j + 1
    if j + 1 < n and doc[j] == u"-" and doc[j + 1] == u">":
        return j + 2
    while True:
        at = PyUnicode_FindChar(doc, u"-", at, n, 1)
        if at < 0 or at + 2 >= n:
            return n
        if doc[at + 1] == u"-":
            if doc[at + 2] == u">":
                return at + 3
            if doc[at + 2] == u"!" and at + 3 < n and doc[at + 3] == u">":
                return at + 4
        at += 1


cdef Py_ssize_t _entity_end(str doc, Py_ssize_t a, Py_ssize_t b):
    """End of what may be a character reference at ``doc[a] == "&"`` within ``b``, else -1:
    ``&#digits``, ``&#xhex`` (any number) or ``&name`` (up to 32 letters and digits),
    with the ``;`` when there is one."""
    cdef Py_ssize_t p = a + 1, cnt = 0
    cdef Py_UCS4 c
    if p >= b:
        return -1
    c = doc[p]
    if c == u"#":
        p += 1
        if p < b and (doc[p] == u"x" or doc[p] == u"X"):
            if p + 1 < b and _hexdigit(doc[p + 1]):
                p += 1
                while p < b and _hexdigit(doc[p]):
                    p += 1
            else:
                return -1
        else:
            while p < b and 48 <= doc[p] <= 57:
                p += 1
                cnt += 1
            if cnt == 0:
                return -1
    elif _ascii_alnum(c):
        p += 1
        while p < b and cnt < 31 and _ascii_alnum(doc[p]):
            p += 1
            cnt += 1
    else:
        return -1
    if p < b and doc[p] == u";":
        p += 1
    return p


cdef str _numeric(str raw):
    """A numeric reference of any length: leading zeros do not count, and a value past
    U+10FFFF is U+FFFD (html.unescape does the rest: C1 controls, surrogates, zero)."""
    cdef bint hexa = len(raw) > 2 and (raw[2] == u"x" or raw[2] == u"X")
    cdef Py_ssize_t i = 3 if hexa else 2, sig = 0
    cdef unsigned long v = 0, d
    cdef Py_UCS4 c
    # The usual case in C: a printable character that needs no table.
    while i < len(raw) and raw[i] != u";":
        c = raw[i]
        if v or c != u"0":
            sig += 1
            if sig > 8:
                return "\ufffd"
        if c <= u"9":
            d = <unsigned long>c - 48
        elif c >= u"a":
            d = <unsigned long>c - 87
        else:
            d = <unsigned long>c - 55
        v = v * (16 if hexa else 10) + d
        i += 1
    if 0x20 <= v < 0x7F or 0xA0 <= v < 0xD800 or 0xE000 <= v < 0xFDD0:
        return chr(<Py_UCS4>v)
    cdef str digits = raw[3:] if hexa else raw[2:]
    cdef bint semi = digits.endswith(";")
    if semi:
        digits = digits[: len(digits) - 1]
    digits = digits.lstrip("0") or "0"
    if len(digits) > 8:
        return "\ufffd"
    return _unescape(("&#x" if hexa else "&#") + digits + ";")


cdef str _decode_ref(str doc, str raw, Py_ssize_t e, Py_ssize_t b, bint attr):
    """What the reference ``raw`` (ending at ``e``) shows; ``raw`` itself when it is text."""
    cdef str name, legacy
    cdef Py_ssize_t m
    if raw[1] == u"#":
        return _numeric(raw)
    if raw[len(raw) - 1] == u";":
        full = _HTML5.get(raw[1:])
        if full is not None:
            return full
    # The longest legacy name the text starts with (a full name with ";" was handled).
    name = raw[1:]
    for m in range(min(len(name), LEGACY_MAX), 1, -1):
        legacy = name[:m]
        if legacy in _LEGACY:
            if attr:
                # In an attribute, "&amp=" and "&ampx" are text.
                if m < len(name):
                    if _ascii_alnum(name[m]) or name[m] == u"=":
                        return raw
                elif e < b and doc[e] == u"=":
                    return raw
            return _HTML5[legacy] + name[m:]
    return raw


cdef str _attr_value(str doc, Py_ssize_t a, Py_ssize_t b):
    """An attribute value as the browser reads it: references decoded, by the attribute
    rules (html.unescape decodes "&ampx" where an attribute keeps it)."""
    cdef Py_ssize_t at = a, e
    cdef list parts = []
    cdef str raw
    while True:
        at = PyUnicode_FindChar(doc, u"&", at, b, 1)
        if at < 0:
            break
        e = _entity_end(doc, at, b)
        if e < 0:
            at += 1
            continue
        raw = doc[at:e]
        parts.append(doc[a:at])
        parts.append(_decode_ref(doc, raw, e, b, True))
        a = at = e
    parts.append(doc[a:b])
    return "".join(parts)


cdef str _DATA = "data:"
cdef str _JS = "javascript:"


cdef bint _maybe_document_url(str doc, Py_ssize_t a, Py_ssize_t b):
    """Whether the URL ``doc[a:b]`` may be a ``data:`` or ``javascript:`` one, as the URL
    parser reads it (leading controls and spaces dropped, tabs and newlines anywhere),
    without a string per URL; a reference in the scheme needs the slow path (True)."""
    cdef Py_ssize_t i = a, k = 0
    cdef bint data = True, js = True
    cdef Py_UCS4 c
    while i < b and doc[i] <= u" ":
        i += 1
    while i < b and (data or js):
        c = doc[i]
        i += 1
        if c == u"\t" or c == u"\n" or c == u"\r":
            continue
        if c == u"&":
            return True
        c = _lower(c)
        if data and c != _DATA[k]:
            data = False
        if js and c != _JS[k]:
            js = False
        k += 1
        if (data and k == 5) or (js and k == 11):
            return True
    return False


cdef class _Segments(Segments):
    """The segment table, with HTML's character references."""

    cdef void text_run(self, str doc, Py_ssize_t a, Py_ssize_t b, bint attr):
        """Text with references: runs and decoded references."""
        cdef Py_ssize_t at = a, e
        cdef str raw, dec
        while True:
            at = PyUnicode_FindChar(doc, u"&", at, b, 1)
            if at < 0:
                break
            e = _entity_end(doc, at, b)
            if e < 0:
                at += 1
                continue
            raw = doc[at:e]
            dec = _decode_ref(doc, raw, e, b, attr)
            if dec != raw:
                self.run(doc, a, at, True)
                if dec:
                    self.add(dec, at, e - at, ENTITY, True)
                a = e
            at = e
        self.run(doc, a, b, True)

    cdef void text(self, str doc, Py_ssize_t a, Py_ssize_t b):
        """Text between two tokens."""
        if b <= a:
            return
        if PyUnicode_FindChar(doc, u"&", a, b, 1) >= 0:
            self.text_run(doc, a, b, False)
        else:
            self.run(doc, a, b, False)


cdef int _attr_code(str doc, Py_ssize_t a0, Py_ssize_t a1):
    """The attribute of interest named ``doc[a0:a1]``, else 0; by length and letters,
    without a string per attribute (most attributes are of no interest)."""
    cdef Py_ssize_t m = a1 - a0
    cdef Py_UCS4 c = _lower(doc[a0])
    if m == 5:
        if c == u"t" and _word_at(doc, a0, a1, "title"):
            return AT_VISIBLE
        if c == u"v" and _word_at(doc, a0, a1, "value"):
            return AT_VISIBLE
        if c == u"l" and _word_at(doc, a0, a1, "label"):
            return AT_VISIBLE
        if c == u"c" and _word_at(doc, a0, a1, "color"):
            return AT_FONT
    elif m == 3:
        if c == u"s" and _word_at(doc, a0, a1, "src"):
            return AT_URL
        if c == u"a" and _word_at(doc, a0, a1, "alt"):
            return AT_VISIBLE
    elif m == 4:
        if c == u"h" and _word_at(doc, a0, a1, "href"):
            return AT_URL
        if c == u"d" and _word_at(doc, a0, a1, "data"):
            return AT_URL
        if c == u"f" and _word_at(doc, a0, a1, "face"):
            return AT_FONT
        if c == u"s" and _word_at(doc, a0, a1, "size"):
            return AT_FONT
    elif m == 11:
        if c == u"p" and _word_at(doc, a0, a1, "placeholder"):
            return AT_VISIBLE
    elif m == 10:
        if c == u"a" and _word_at(doc, a0, a1, "aria-label"):
            return AT_VISIBLE
    elif m == 6:
        if c == u"s" and _word_at(doc, a0, a1, "srcdoc"):
            return AT_SRCDOC
    elif m == 8:
        if c == u"e" and _word_at(doc, a0, a1, "encoding"):
            return AT_ENCODING
    return 0


cdef Py_ssize_t _tag_body(
    str doc, Py_ssize_t j, Py_ssize_t n, list found, bint* selfclose
):
    """The attributes of a tag from ``j`` (after its name), as the attribute states read
    them: past the tag's ``>``, or -1 when the document ends inside the tag. Attributes
    of interest go to ``found`` as (code, value start, value end) (-1, -1: no value)."""
    cdef Py_ssize_t a0, a1, q
    cdef Py_UCS4 c
    cdef int code
    selfclose[0] = False
    while True:
        while j < n:
            c = doc[j]
            if c == u"/":
                if j + 1 < n and doc[j + 1] == u">":
                    selfclose[0] = True
                    return j + 2
            elif not _blank(c):
                break
            j += 1
        if j >= n:
            return -1
        if doc[j] == u">":
            return j + 1
        a0 = j
        j += 1  # a first "=" belongs to the name
        while j < n:
            c = doc[j]
            if _blank(c) or c == u"/" or c == u">" or c == u"=":
                break
            j += 1
        a1 = j
        code = _attr_code(doc, a0, a1)
        while j < n and _blank(doc[j]):
            j += 1
        if j >= n:
            return -1
        if doc[j] != u"=":
            if code:
                found.append((code, -1, -1))
            continue
        j += 1
        while j < n and _blank(doc[j]):
            j += 1
        if j >= n:
            return -1
        c = doc[j]
        if c == u'"' or c == u"'":
            q = PyUnicode_FindChar(doc, c, j + 1, n, 1)
            if q < 0:
                return -1
            if code:
                found.append((code, j + 1, q))
            j = q + 1
        elif c == u">":
            if code:
                found.append((code, -1, -1))
            return j + 1
        else:
            q = j
            while q < n and not (_blank(doc[q]) or doc[q] == u">"):
                q += 1
            if q >= n:
                return -1
            if code:
                found.append((code, j, q))
            j = q


cdef class _Parser:
    """One document (or an embedded one): its text into ``out``."""

    cdef str doc
    cdef _Segments out
    cdef dict codes
    cdef list fstack  # (namespace, lower-case name, integration point) since foreign began
    cdef int outer_templates  # open template elements opened outside foreign content
    cdef bint unsure  # foreign content was left on a guess
    cdef bint in_select  # a select is open (older parsers ignore raw-text tags in it)
    cdef bint xml
    cdef int depth
    cdef list found  # the attributes of interest of the tag being read (reused)

    def __cinit__(self, str doc, _Segments out, dict codes, bint xml, int depth):
        self.doc = doc
        self.out = out
        self.codes = codes
        self.fstack = []
        self.outer_templates = 0
        self.unsure = False
        self.in_select = False
        self.xml = xml
        self.depth = depth
        self.found = []

    cdef void text(self, Py_ssize_t a, Py_ssize_t b):
        self.out.text(self.doc, a, b)

    cdef bint in_foreign(self):
        """Whether the adjusted current node is not an HTML element (CDATA is text)."""
        return self.xml or (len(self.fstack) > 0 and self.fstack[len(self.fstack) - 1][0] != NS_HTML)

    cdef void parse(self, Py_ssize_t start, Py_ssize_t n):
        cdef str doc = self.doc
        cdef Py_ssize_t text_at = start, p = start, q, name_end, tok_end
        cdef Py_UCS4 c1, c2
        cdef bint selfclose, end_tag
        cdef int code
        cdef list found
        cdef str name
        while True:
            p = PyUnicode_FindChar(doc, u"<", p, n, 1)
            if p < 0 or p + 1 >= n:
                break
            c1 = doc[p + 1]
            if c1 == u"!":
                self.text(text_at, p)
                text_at = p = self.declaration(p, n)
                continue
            if c1 == u"?":
                self.text(text_at, p)
                text_at = p = _to_gt(doc, p + 2, n)
                continue
            end_tag = c1 == u"/"
            if end_tag:
                if p + 2 >= n:
                    break  # "</" at the end is text
                c2 = doc[p + 2]
                if not _ascii_letter(c2):
                    self.text(text_at, p)
                    text_at = p = p + 3 if c2 == u">" else _to_gt(doc, p + 2, n)
                    continue
                q = p + 2
            elif _ascii_letter(c1):
                q = p + 1
            else:
                p += 1
                continue
            name_end = q + 1
            while name_end < n and not _name_end(doc[name_end]):
                name_end += 1
            found = self.found
            if found:
                del found[:]
            tok_end = _tag_body(doc, name_end, n, found, &selfclose) if name_end < n else -1
            if tok_end < 0:
                # Cut off by the end of the document: the browser shows nothing from here,
                # the scan takes it all as text (once: linear time on hostile pages).
                break
            self.text(text_at, p)
            name = _lower_name(doc[q:name_end])
            code = self.codes.get(name, BLOCK_TAG)
            if code != SPECIAL_TAG and not self.fstack:
                # Most tags: no state to keep, only attributes and word boundaries.
                if found and not end_tag:
                    self.attributes(found)
                if code == BR_TAG:
                    self.out.add(NEWLINE, p, 0, SYNTH, False)
                elif code == BLOCK_TAG:
                    self.out.boundary(p)
                text_at = p = tok_end
                continue
            if end_tag:
                self.end_tag(name, p)
                text_at = p = tok_end
            else:
                text_at = p = self.start_tag(name, p, tok_end, n, found, selfclose)
        self.text(text_at, n)

    cdef Py_ssize_t declaration(self, Py_ssize_t p, Py_ssize_t n):
        """``<!``: a comment, a CDATA section (text in foreign content), else a bogus
        comment. Where the document goes on."""
        cdef str doc = self.doc
        cdef Py_ssize_t q
        if p + 3 < n and doc[p + 2] == u"-" and doc[p + 3] == u"-":
            return _comment_end(doc, p + 4, n)
        if (self.in_foreign() or self.unsure) and doc.startswith("[CDATA[", p + 2, n):
            q = doc.find("]]>", p + 9, n)
            if q < 0:
                q = n
            self.out.run(doc, p + 9, q, True)
            return min(q + 3, n)
        return _to_gt(doc, p + 2, n)

    cdef int mode_is_html(self, str name):
        """Whether a start tag is handled by the HTML rules (else: foreign content)."""
        if not self.fstack:
            return True
        ns, _, ip = self.fstack[len(self.fstack) - 1]
        if ns == NS_HTML or ip == IP_HTML:
            return True
        if ip == IP_MTEXT and name != "mglyph" and name != "malignmark":
            return True
        if ip == IP_ANNOT and name == "svg":
            return True
        return False

    cdef void pop(self, Py_ssize_t to):
        """Close the open elements from ``to`` up."""
        del self.fstack[to:]

    cdef void break_out(self):
        """Pop foreign elements up to an HTML element or an integration point."""
        cdef Py_ssize_t i = len(self.fstack)
        while i > 0:
            ns, _, ip = self.fstack[i - 1]
            if ns == NS_HTML or ip == IP_HTML or ip == IP_MTEXT:
                break
            i -= 1
        self.pop(i)

    cdef void emit_tag(self, str name, Py_ssize_t p, Py_ssize_t tok_end, list found):
        cdef int code = self.codes.get(name, BLOCK_TAG)
        if found:
            self.attributes(found)
        if code == BR_TAG:
            self.out.add(NEWLINE, p, 0, SYNTH, False)
        elif code != INLINE_TAG:
            self.out.boundary(p)

    cdef Py_ssize_t start_tag(
        self, str name, Py_ssize_t p, Py_ssize_t tok_end, Py_ssize_t n, list found,
        bint selfclose,
    ):
        cdef int ns, ip
        if not self.mode_is_html(name):
            if name in _BREAKOUT or (name == "font" and _has(found, AT_FONT)):
                self.break_out()
            else:
                ns = self.fstack[len(self.fstack) - 1][0]
                if not selfclose and len(self.fstack) < MAX_OPEN:
                    self.fstack.append((ns, name, _integration(ns, name, self.doc, found)))
                self.emit_tag(name, p, tok_end, found)
                return tok_end
        if name == "svg" or name == "math":
            if not selfclose and len(self.fstack) < MAX_OPEN:
                ns = NS_SVG if name == "svg" else NS_MATH
                self.fstack.append((ns, name, IP_NONE))
            self.emit_tag(name, p, tok_end, found)
            return tok_end
        if name == "select":
            self.in_select = True
        raw = _RAW.get(name)
        if raw is not None and not (self.xml and selfclose):
            return self.raw_element(name, raw, p, tok_end, n, found)
        if name == "template" and not (self.xml and selfclose) and not self.fstack:
            self.outer_templates += 1
        if (
            self.fstack and name not in _VOID and not (self.xml and selfclose)
            and len(self.fstack) < MAX_OPEN
        ):
            self.fstack.append((NS_HTML, name, IP_NONE))
        self.emit_tag(name, p, tok_end, found)
        return tok_end

    cdef void end_tag(self, str name, Py_ssize_t p):
        cdef Py_ssize_t i
        if name == "br":
            if self.fstack and self.fstack[len(self.fstack) - 1][0] != NS_HTML:
                self.break_out()
                self.unsure = True  # browsers before this rule stay in foreign content
            self.out.add(NEWLINE, p, 0, SYNTH, False)
            return
        if self.fstack and self.fstack[len(self.fstack) - 1][0] != NS_HTML:
            if name == "p":
                self.break_out()
                self.unsure = True  # browsers before this rule stay in foreign content
                return
            # Foreign content: the nearest open element of that name, until an HTML one.
            i = len(self.fstack) - 1
            while i >= 0:
                if self.fstack[i][1] == name:
                    self.pop(i)
                    return
                if i > 0 and self.fstack[i - 1][0] == NS_HTML:
                    break
                i -= 1
            if i < 0:
                # Past the foreign root: an HTML element of that name may be open below
                # (it would close the foreign content), or not.
                self.unsure = True
                self.pop(0)
                self.html_end_tag(name)
                return
        self.html_end_tag(name)
        if self.codes.get(name, BLOCK_TAG) != INLINE_TAG:
            self.out.boundary(p)

    cdef void html_end_tag(self, str name):
        cdef Py_ssize_t i
        if name == "select":
            self.in_select = False
        if name == "template":
            for i in range(len(self.fstack) - 1, -1, -1):
                if self.fstack[i][0] == NS_HTML and self.fstack[i][1] == "template":
                    self.pop(i)
                    return
            if self.outer_templates > 0:
                self.pop(0)
                self.outer_templates -= 1
            return
        i = len(self.fstack) - 1
        while i >= 0:
            ns, tag, ip = self.fstack[i]
            if ns == NS_HTML and tag == name:
                self.pop(i)
                return
            if ip != IP_NONE or (ns == NS_HTML and tag in _SPECIAL):
                return
            if ns != NS_HTML and i == 0:
                return
            i -= 1

    cdef Py_ssize_t raw_element(
        self, str name, int raw, Py_ssize_t p, Py_ssize_t head, Py_ssize_t n, list found
    ):
        """A raw-text, RCDATA or plaintext element: where the document goes on."""
        cdef Py_ssize_t close = n, end = n
        cdef bint selfclose
        if raw != RAW_PLAIN:
            close = _find_close(self.doc, head, n, name)
            if close < 0:
                close = n
            else:
                # The end tag's attributes are read as a start tag's (quotes may hold ">").
                end = _tag_body(self.doc, close + 2 + len(name), n, [], &selfclose)
                if end < 0:
                    end = n
        if found:
            self.attributes(found)
        self.out.boundary(p)
        if raw == RAW_RCDATA:
            self.out.text_run(self.doc, head, close, False)
        elif raw == RAW_SHOWN or raw == RAW_PLAIN:
            self.out.run(self.doc, head, close, True)
        if raw == RAW_NOSCRIPT or self.unsure or self.in_select:
            # Markup too: for a browser without scripts, or for one that is still in
            # foreign content (or ignores the tag in a select).
            self.fragment(head, close)
        self.out.boundary(close)
        return end

    cdef void fragment(self, Py_ssize_t a, Py_ssize_t b):
        """``doc[a:b]`` parsed as markup of its own, in place."""
        cdef _Parser sub
        if self.depth >= MAX_DEPTH:
            self.out.run(self.doc, a, b, True)
            return
        sub = _Parser(self.doc, self.out, self.codes, self.xml, self.depth + 1)
        sub.unsure = self.unsure  # markup read as foreign content may hold CDATA text
        sub.parse(a, b)

    cdef void attributes(self, list found):
        cdef int code
        cdef Py_ssize_t vs, ve
        cdef str doc = self.doc
        for code, vs, ve in found:
            if vs < 0 or ve <= vs:
                continue
            if code == AT_VISIBLE:
                self.out.boundary(vs)
                self.out.text_run(doc, vs, ve, True)
                self.out.boundary(ve)
            elif code == AT_SRCDOC:
                self.out.boundary(vs)
                if PyUnicode_FindChar(doc, u"&", vs, ve, 1) < 0:
                    self.fragment(vs, ve)
                else:
                    self.embedded("html", _attr_value(doc, vs, ve), vs, ve)
                self.out.boundary(ve)
            elif code == AT_URL:
                if not _maybe_document_url(doc, vs, ve):
                    continue
                value = doc[vs:ve]
                if PyUnicode_FindChar(doc, u"&", vs, ve, 1) >= 0:
                    value = _attr_value(doc, vs, ve)
                if _url_scheme(value[:64]) is None:
                    continue
                got = _decode_url(value)
                if got is not None:
                    self.out.boundary(vs)
                    self.embedded(got[0], got[1], vs, ve)
                    self.out.boundary(ve)

    cdef void embedded(self, str kind, str text, Py_ssize_t vs, Py_ssize_t ve):
        """A document of its own, standing for ``doc[vs:ve]`` as one segment."""
        cdef _Segments sub
        cdef _Parser p
        if not text:
            return
        if kind == "html" and self.depth < MAX_DEPTH:
            sub = _Segments()
            p = _Parser(text, sub, self.codes, False, self.depth + 1)
            p.parse(0, len(text))
            text = sub.result()[0]
        if text:
            self.out.add(text, vs, ve - vs, EMBED, True)


cdef bint _has(list found, int code):
    for item in found:
        if item[0] == code:
            return True
    return False


cdef int _integration(int ns, str name, str doc, list found):
    cdef Py_ssize_t vs, ve
    if ns == NS_SVG:
        if name == "foreignobject" or name == "desc" or name == "title":
            return IP_HTML
        return IP_NONE
    if name == "mi" or name == "mo" or name == "mn" or name == "ms" or name == "mtext":
        return IP_MTEXT
    if name == "annotation-xml":
        for code, vs, ve in found:
            if code == AT_ENCODING and vs >= 0:
                if _lower_name(doc[vs:ve]) in ("text/html", "application/xhtml+xml"):
                    return IP_HTML
        return IP_ANNOT
    return IP_NONE


def extract_html(str doc, dict tag_codes, bint xml=False):
    """Scan text and its segments (scan, doc, length, raw, kind arrays) of an HTML
    document. ``tag_codes`` maps lower-case tag names to 1 (inline: does not break a
    word), 2 (block), 3 (``br``) or 4 (special: svg, math, the raw-text names, select,
    template); a name not in it is a block."""
    cdef _Segments out = _Segments()
    cdef _Parser p = _Parser(doc, out, tag_codes, xml, 0)
    p.parse(0, len(doc))
    return out.result()
