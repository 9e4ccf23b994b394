# cython: language_level=3, boundscheck=True, wraparound=False
"""JSON scan text in one compiled pass: the string values of a document (not its keys),
escapes decoded, and the segments that map scan text back to the document.

Why compiled: strings, keys and escapes are found in one loop at C speed (the scan for a
quote or a backslash is ``PyUnicode_FindChar``); the same work as a regular-expression
split and numpy glue cost more than the rest of a JSON response's scan. Cython keeps
Python's semantics (bounds-checked indexing, exceptions), so this is not a hand-written
C parser of hostile input.

Token rules (kept from the former regular-expression split), best effort on anything:

- A string runs from a ``"`` to the next ``"`` not escaped; a backslash escapes the one
  character after it, whatever it is (a newline too). A string that never closes (or
  ends in a lone backslash) ends the scan: the rest of the document is not text.
- After a string, blanks (space, tab, CR, LF) then a ``:`` make it an object key; the
  blanks and the colon are passed over either way, and the search for the next string
  resumes after them.
- Every value string starts with one boundary; strings with no text between them share
  it. Keys are neither text nor boundaries.
- Escapes: ``\\uXXXX`` (four hex digits), joined with a following ``\\uDCXX``-``\\uDFXX``
  into one character when it is a high surrogate (one segment, the low half dropped, when
  it is not); a lone surrogate stands for nothing; ``\\b \\f \\n \\r \\t`` their control
  characters; a backslash with any other character (``\\"``, ``\\q``, a ``\\u`` with too few
  hex digits) that character.
"""

from ._segments cimport ENTITY, PyUnicode_FindChar, Segments


cdef inline int _hex(Py_UCS4 ch):
    """Value of an ASCII hex digit, else -1."""
    cdef int c = <int>ch
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


cdef int _hex4(str doc, Py_ssize_t at):
    """Value of the four hex digits at ``doc[at:at + 4]`` (the caller checks the bounds),
    else -1."""
    cdef int v = 0, d
    cdef Py_ssize_t k
    for k in range(at, at + 4):
        d = _hex(doc[k])
        if d < 0:
            return -1
        v = v * 16 + d
    return v


cdef inline str _char(int cp):
    """The character of a ``\\uXXXX`` escape; nothing for a lone surrogate, which the
    matcher cannot take (not UTF-8) and a browser shows as a replacement character, so
    that it neither fails the scan nor hides a word (as invalid bytes, scanjob.py)."""
    if 0xD800 <= cp < 0xE000:
        return ""
    return chr(cp)


cdef inline Py_UCS4 _simple(Py_UCS4 c):
    """What a one-character escape stands for."""
    if c == u"n":
        return u"\n"
    if c == u"t":
        return u"\t"
    if c == u"r":
        return u"\r"
    if c == u"b":
        return u"\b"
    if c == u"f":
        return u"\f"
    return c  # ", \, / and anything else: the character itself


cdef class _Segments(Segments):
    """The segment table, with JSON's escapes. Only synthetic boundaries count: a decoded
    ``\\u001e`` is text."""

    cdef void escaped(self, str doc, Py_ssize_t a, Py_ssize_t b):
        """The text ``doc[a:b]`` of a string with escapes: runs and decoded escapes."""
        cdef Py_ssize_t at, end
        cdef int hi, lo
        cdef str dec
        while True:
            at = PyUnicode_FindChar(doc, u"\\", a, b, 1)
            if at < 0:
                break
            # The string's split guarantees a character after every backslash.
            self.run(doc, a, at, False)
            hi = -1
            if doc[at + 1] == u"u" and at + 6 <= b:
                hi = _hex4(doc, at + 2)
            if hi < 0:
                dec = chr(_simple(doc[at + 1]))
                end = at + 2
            else:
                end = at + 6
                lo = _low_escape(doc, end, b)
                if lo < 0:
                    dec = _char(hi)
                else:
                    end += 6
                    if 0xD800 <= hi < 0xDC00:
                        dec = chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                    else:  # not a surrogate pair after all: the low half stands alone
                        dec = _char(hi)
            if dec:
                self.add(dec, at, end - at, ENTITY, False)
            a = end
        self.run(doc, a, b, False)


cdef int _low_escape(str doc, Py_ssize_t at, Py_ssize_t b):
    """Value of a ``\\uDCXX``-``\\uDFXX`` escape at ``at`` within ``b``, else -1."""
    cdef Py_UCS4 c
    if at + 6 > b or doc[at] != u"\\" or doc[at + 1] != u"u":
        return -1
    c = doc[at + 2]
    if c != u"d" and c != u"D":
        return -1
    c = doc[at + 3]
    if not (99 <= c <= 102 or 67 <= c <= 70):  # c-f, C-F
        return -1
    return _hex4(doc, at + 2)


cdef Py_ssize_t _string_end(str doc, Py_ssize_t j, Py_ssize_t n, bint* has_escape):
    """Index of the ``"`` closing the string whose text starts at ``j``, else -1 (it never
    closes, or a lone backslash ends the document)."""
    cdef Py_ssize_t q = PyUnicode_FindChar(doc, u'"', j, n, 1), bs
    has_escape[0] = False
    while q >= 0:
        bs = PyUnicode_FindChar(doc, u"\\", j, q, 1)
        if bs < 0:
            return q
        has_escape[0] = True
        j = bs + 2  # bs < q: the escaped character is in the document
        if j > q:  # the quote was escaped: the next one
            q = PyUnicode_FindChar(doc, u'"', j, n, 1)
    return -1


def extract_json(str doc):
    """Scan text and its segments (scan, doc, length, raw, kind arrays) of a JSON
    document, best effort on broken or truncated JSON."""
    cdef Py_ssize_t n = len(doc)
    cdef Py_ssize_t p = 0, q, e, k
    cdef bint has_escape
    cdef Py_UCS4 c
    cdef _Segments out = _Segments()

    while True:
        q = PyUnicode_FindChar(doc, u'"', p, n, 1)
        if q < 0:
            break
        e = _string_end(doc, q + 1, n, &has_escape)
        if e < 0:
            break
        k = e + 1
        while k < n:
            c = doc[k]
            if not (c == u" " or c == u"\t" or c == u"\r" or c == u"\n"):
                break
            k += 1
        if k < n and doc[k] == u":":
            p = k + 1  # a key
            continue
        p = k
        out.boundary(q)
        if has_escape:
            out.escaped(doc, q + 1, e)
        else:
            out.run(doc, q + 1, e, False)

    return out.result()
