# cython: language_level=3, boundscheck=True, wraparound=False
"""HTML scan text in one compiled pass: the tokens ``extract.py`` documents, and the
segments that map scan text back to the document.

Why compiled: the page's text, tags, attributes and entities are found in one loop over
the characters at C speed; the same work as regular expressions and numpy glue cost
half of a scan worker's time per page. Cython keeps Python's semantics (bounds-checked
indexing, exceptions), so this is not a hand-written C parser of hostile input.

Token rules (kept from the former regular-expression split, except that names are
matched ASCII-case-insensitively, as the HTML standard says):

- ``<`` + optional ``/`` + an ASCII letter starts a tag; its name runs to whitespace,
  ``/`` or ``>``; then quoted strings are skipped (they may hold ``>``) up to the first
  ``>`` (or the end of the document). A quote that never closes makes the ``<`` text.
- ``<!--`` starts a comment that ends at ``-->`` or ``--!>``; ``<!`` and ``<?`` a
  declaration up to ``>``.
- ``script``, ``style``, ``xmp``, ``iframe``, ``noembed``, ``noframes``, ``template``,
  ``title``, ``textarea`` and ``plaintext`` are taken whole, up to their closing tag:
  no tags are parsed inside. The text of ``title``, ``textarea`` and ``plaintext`` is
  scan text; the rest is never scanned.
"""

import html

from ._segments cimport ENTITY, SYNTH, PyUnicode_FindChar, Segments

# Token codes
cdef enum:
    SKIP = 0
    INLINE_TAG = 1
    BLOCK_TAG = 2
    BR_TAG = 3
    RAW_TAG = 4

cdef str NEWLINE = "\n"

_RAW_NAMES = (
    "script", "style", "xmp", "iframe", "noembed", "noframes", "template", "title",
    "textarea", "plaintext",
)
_VISIBLE_NAMES = ("title", "alt", "placeholder", "aria-label")
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


cdef inline bint _attr_sep(Py_UCS4 c):
    return _name_end(c) or c == u'"' or c == u"'" or c == u"="


cdef inline Py_UCS4 _lower(Py_UCS4 c):
    if 65 <= c <= 90:  # A-Z
        return <Py_UCS4>(<unsigned int>c + 32)
    return c


cdef bint _word_at(str doc, Py_ssize_t at, Py_ssize_t end, str word):
    """``word`` (lower-case ASCII) at ``doc[at:]``, ASCII case-insensitively, within end."""
    cdef Py_ssize_t k, m = len(word)
    if at + m > end:
        return False
    for k in range(m):
        if _lower(doc[at + k]) != word[k]:
            return False
    return True


cdef class _Segments(Segments):
    """The segment table, with HTML's entities and attributes."""

    cdef void text_run(self, str doc, Py_ssize_t a, Py_ssize_t b):
        """Text with entities: runs and decoded entities."""
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
            dec = _unescape(raw)
            if dec != raw:
                self.run(doc, a, at, True)
                if dec:
                    self.add(dec, at, e - at, ENTITY, True)
                a = e
            at = e
        self.run(doc, a, b, True)

    cdef void attributes(self, str doc, Py_ssize_t a0, Py_ssize_t a1):
        """The values of the visible attributes (title, alt, placeholder, aria-label) of
        the tag ``doc[a0:a1]``, each between boundaries."""
        cdef Py_ssize_t j = a0, k, L
        cdef Py_ssize_t vs, ve
        cdef Py_UCS4 c
        while j < a1:
            c = doc[j]
            if _attr_sep(c):
                j += 1
                continue
            L = _visible_name(doc, j, a1)
            if L:
                j = _value(doc, j + L, a1, &vs, &ve)
                if vs >= 0:
                    self.boundary(vs)
                    self.text_run(doc, vs, ve)
                    self.boundary(ve)
                continue
            k = j
            while k < a1 and not _attr_sep(doc[k]):
                k += 1
            j = _value(doc, k, a1, &vs, &ve)


cdef Py_ssize_t _visible_name(str doc, Py_ssize_t j, Py_ssize_t a1):
    """Length of a visible attribute's name at ``j`` (followed by a separator or the end of
    the tag), else 0."""
    cdef str name
    cdef Py_ssize_t m
    cdef Py_UCS4 c = _lower(doc[j])
    if c != u"t" and c != u"a" and c != u"p":  # no visible name starts otherwise
        return 0
    for name in _VISIBLE_NAMES:
        m = len(name)
        if _word_at(doc, j, a1, name) and (j + m == a1 or _attr_sep(doc[j + m])):
            return m
    return 0


cdef Py_ssize_t _value(str doc, Py_ssize_t k, Py_ssize_t a1, Py_ssize_t* vs, Py_ssize_t* ve):
    """An attribute's ``= value`` after its name at ``k``: where it ends (``k`` when there
    is none) and, in ``vs``/``ve``, the value's characters (``vs`` -1 when none)."""
    cdef Py_ssize_t p = k, q
    cdef Py_UCS4 c
    vs[0] = -1
    ve[0] = -1
    while p < a1 and _blank(doc[p]):
        p += 1
    if p >= a1 or doc[p] != u"=":
        return k
    p += 1
    while p < a1 and _blank(doc[p]):
        p += 1
    if p >= a1:
        return k
    c = doc[p]
    if c == u'"' or c == u"'":
        q = PyUnicode_FindChar(doc, c, p + 1, a1, 1)
        if q >= 0:
            vs[0] = p + 1
            ve[0] = q
            return q + 1
    # Unquoted (or a quote that never closes): to whitespace or ">"
    q = p
    while q < a1 and not (_blank(doc[q]) or doc[q] == u">"):
        q += 1
    if q == p:
        return k
    vs[0] = p
    ve[0] = q
    return q


cdef Py_ssize_t _entity_end(str doc, Py_ssize_t a, Py_ssize_t b):
    """End of a character reference at ``doc[a] == "&"`` within ``b``, else -1:
    ``&#digits;``, ``&#xhex;`` (1-8 digits) or ``&name;`` (2-32 letters and digits),
    the ``;`` optional."""
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
                while p < b and cnt < 8 and _hexdigit(doc[p]):
                    p += 1
                    cnt += 1
            else:
                return -1
        else:
            while p < b and cnt < 8 and 48 <= doc[p] <= 57:
                p += 1
                cnt += 1
            if cnt == 0:
                return -1
    elif _ascii_letter(c):
        p += 1
        while p < b and cnt < 31 and _ascii_alnum(doc[p]):
            p += 1
            cnt += 1
        if cnt == 0:
            return -1
    else:
        return -1
    if p < b and doc[p] == u";":
        p += 1
    return p


cdef Py_ssize_t _attrs_end(str doc, Py_ssize_t j, Py_ssize_t n, bint* closed):
    """From ``j`` inside a tag: past its ``>`` (``closed``), or ``n`` at the end of the
    document; quoted strings are skipped whole. -1 when a quote never closes."""
    cdef Py_UCS4 c
    cdef Py_ssize_t q
    closed[0] = False
    while j < n:
        c = doc[j]
        if c == u">":
            closed[0] = True
            return j + 1
        if c == u'"' or c == u"'":
            q = PyUnicode_FindChar(doc, c, j + 1, n, 1)
            if q < 0:
                return -1
            j = q + 1
        else:
            j += 1
    return n


cdef Py_ssize_t _raw_name(str doc, Py_ssize_t j, Py_ssize_t n):
    """Index into _RAW_NAMES of a raw-text element's name at ``j`` followed by a tag
    delimiter, else -1."""
    cdef Py_ssize_t i = 0, m
    cdef str name
    if j >= n:
        return -1
    cdef Py_UCS4 c = _lower(doc[j])
    if c != u"s" and c != u"t" and c != u"x" and c != u"i" and c != u"n" and c != u"p":
        return -1
    for name in _RAW_NAMES:
        m = len(name)
        if _word_at(doc, j, n, name) and j + m < n and _name_end(doc[j + m]):
            return i
        i += 1
    return -1


cdef Py_ssize_t _find_close(str doc, Py_ssize_t j, Py_ssize_t n, str name):
    """First ``</name`` (ASCII case-insensitive) at or after ``j``, else -1."""
    cdef Py_ssize_t at = j
    while True:
        at = PyUnicode_FindChar(doc, u"<", at, n, 1)
        if at < 0:
            return -1
        if at + 1 < n and doc[at + 1] == u"/" and _word_at(doc, at + 2, n, name):
            return at
        at += 1


cdef int _tag_code(dict codes, str name):
    code = codes.get(name)
    if code is None:
        code = codes.get(name.lower(), BLOCK_TAG)
    return code


def extract_html(str doc, dict tag_codes):
    """Scan text and its segments (scan, doc, length, raw, kind arrays) of an HTML
    document. ``tag_codes`` maps tag names to 1 (inline: does not break a word), 2 (block)
    or 3 (``br``); a name not in it, even lower-cased, is a block."""
    cdef Py_ssize_t n = len(doc)
    cdef Py_ssize_t text_at = 0, p = 0, q, name_end, e, k, head, close, tok_end, raw_i
    cdef Py_UCS4 c1
    cdef bint closed, end_tag
    cdef int code
    cdef str name
    cdef _Segments out = _Segments()

    while True:
        p = PyUnicode_FindChar(doc, u"<", p, n, 1)
        if p < 0 or p + 1 >= n:
            break
        c1 = doc[p + 1]
        tok_end = -1
        if c1 == u"!" or c1 == u"?":
            if c1 == u"!" and p + 3 < n and doc[p + 2] == u"-" and doc[p + 3] == u"-":
                tok_end = _comment_end(doc, p + 4, n)
            else:
                q = PyUnicode_FindChar(doc, u">", p + 2, n, 1)
                tok_end = n if q < 0 else q + 1
            _text(out, doc, text_at, p)
            text_at = p = tok_end
            continue

        raw_i = _raw_name(doc, p + 1, n)
        if raw_i >= 0:
            name = _RAW_NAMES[raw_i]
            head = _attrs_end(doc, p + 1 + len(name), n, &closed)
            if head < 0:
                p += 1  # a quote that never closes: the "<" is text
                continue
            tok_end = n
            close = -1
            if closed:
                close = _find_close(doc, head, n, name)
                if close >= 0:
                    q = PyUnicode_FindChar(doc, u">", close + 2 + len(name), n, 1)
                    if q >= 0:
                        tok_end = q + 1
            _text(out, doc, text_at, p)
            _raw_element(out, doc, p, head, tok_end, close, raw_i)
            text_at = p = tok_end
            continue

        end_tag = c1 == u"/"
        q = p + 2 if end_tag else p + 1
        if q >= n or not _ascii_letter(doc[q]):
            p += 1
            continue
        name_end = q + 1
        while name_end < n and not _name_end(doc[name_end]):
            name_end += 1
        tok_end = _attrs_end(doc, name_end, n, &closed)
        if tok_end < 0:
            # The name itself may hold quotes: the longest shorter name whose quotes pair.
            k = name_end - 1
            while k > q:
                if doc[k] == u'"' or doc[k] == u"'":
                    tok_end = _attrs_end(doc, k, n, &closed)
                    if tok_end >= 0:
                        name_end = k
                        break
                k -= 1
            if tok_end < 0:
                p += 1
                continue
        code = _tag_code(tag_codes, doc[q:name_end])
        _text(out, doc, text_at, p)
        if code == BR_TAG:
            out.add(NEWLINE, p, 0, SYNTH, False)
        else:
            if not end_tag:
                out.attributes(doc, p, tok_end)
            if code == BLOCK_TAG:
                out.boundary(p)
        text_at = p = tok_end

    _text(out, doc, text_at, n)
    return out.result()


cdef Py_ssize_t _comment_end(str doc, Py_ssize_t j, Py_ssize_t n):
    """Past the first ``-->`` or ``--!>`` at or after ``j``, or ``n``."""
    cdef Py_ssize_t at = j
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


cdef void _text(_Segments out, str doc, Py_ssize_t a, Py_ssize_t b):
    """Text between two tokens."""
    if b <= a:
        return
    if PyUnicode_FindChar(doc, u"&", a, b, 1) >= 0:
        out.text_run(doc, a, b)
    else:
        out.run(doc, a, b, False)


cdef void _raw_element(
    _Segments out, str doc, Py_ssize_t at, Py_ssize_t head, Py_ssize_t end,
    Py_ssize_t close, Py_ssize_t raw_i,
):
    """A raw-text or RCDATA element taken whole: its attributes, and for title,
    textarea and plaintext its text."""
    cdef Py_ssize_t stop
    if PyUnicode_FindChar(doc, u"=", at, head, 1) >= 0:
        out.attributes(doc, at, head)
    out.boundary(at)
    name = _RAW_NAMES[raw_i]
    if name == "title" or name == "textarea":
        stop = close if close >= 0 else _find_close(doc, head, end, name)
        if stop < 0:
            stop = end
        out.text_run(doc, head, stop)
        out.boundary(stop)
    elif name == "plaintext":
        out.text_run(doc, head, end)
        out.boundary(end)
