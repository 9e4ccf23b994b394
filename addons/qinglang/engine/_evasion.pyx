# cython: language_level=3, boundscheck=False, wraparound=False
"""The evasion fold of normalised text in one compiled pass (``evasion.py`` builds the
table and documents the rules).

Why compiled: the fold decides per word (a run of letters, digits and leet symbols)
whether leet and look-alike folding apply, then collapses repeated characters, with a
map back to the normalised text; a Python loop per character runs at about 12 MB/s
(ENGINE-NOTES.md), far below the scan's budget.

How it is laid out for speed (docs/benchmarks.md, "Evasion fold speed"): ``fold_chars``
writes the characters that stand for themselves in a tight loop, one instance per string
kind; ``fold_other`` takes the rest: ``fold_word`` counts a word only when it holds a
character whose fold depends on its word, and ``word_char`` folds that word's other
characters. tests/test_fold_differential.py holds it to the loop it replaced.
"""

from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport PyObject
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

import numpy as np

from ._search cimport last_le

cdef extern from "Python.h":
    # Raw references (the folded text is written in place, then shrunk): see fold_text.
    PyObject* PyBytes_FromStringAndSize(const char* v, Py_ssize_t size)
    char* PyBytes_AS_STRING(PyObject* o)
    int _PyBytes_Resize(PyObject** o, Py_ssize_t size)
    void Py_DECREF(PyObject* o)
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)

# The table's bits (evasion.py builds it): the target code point in the low 21 bits.
cdef enum:
    TARGET = 0x1FFFFF
    ASCII = 1 << 21      # a-z
    DIGIT = 1 << 22      # 0-9
    LEETD = 1 << 23      # a digit that stands for a letter (0 3 4 5 7 8 9 1)
    LEETS = 1 << 24      # a symbol that stands for a letter ($ @ !)
    CONF = 1 << 25       # a letter of another script that looks like a Latin one
    LATX = 1 << 26       # a Latin letter with marks or a hook: always its base letter
    NUM = 1 << 27        # a Chinese numeral: its digit
    SKIP = 1 << 28       # a character used to split words (brackets, hearts, emoji)
    LETTER = 1 << 29     # any other letter (part of a word, counts as a letter)
    HEX = 1 << 30        # a-f

# How a folded character came to be (the ``via`` array); evasion.py has the same values.
cdef enum:
    V_LEET = 1
    V_CONF = 2
    V_NUM = 4

# Masks of those bits (an enum: constants the compiler sees).
cdef enum:
    TOKEN = ASCII | DIGIT | LEETD | LEETS | CONF | LATX | LETTER
    ALPHA = ASCII | CONF | LATX | LETTER
    # A character with none of these bits is written as it is, wherever it stands:
    # what it folds to never depends on its word (a-z, other letters, digits that are
    # not leet, CJK, punctuation).
    SPECIAL = LEETD | LEETS | CONF | LATX | NUM | SKIP
    # The characters of a word whose fold depends on the whole word (leet, look-alikes,
    # and a skip character, dropped only in a word of symbols).
    DECIDE = LEETD | LEETS | CONF | SKIP

# The storage of a str: 1, 2 or 4 bytes a character (PEP 393).
ctypedef fused char_t:
    uint8_t
    uint16_t
    uint32_t


cdef struct Out:
    # What fold_text returns, written as it goes; each array has room for every
    # character of the text (n entries; n + 1 for the shift arrays), see fold_text.
    unsigned char* u     # the folded text, UTF-8
    int32_t* sa          # shift_at
    int32_t* sh          # shift
    int32_t* ra          # run_at
    int32_t* re          # run_end
    int32_t* va          # via_at
    uint8_t* vv          # via
    uint32_t* vr         # via_rep
    int64_t* sk          # skipped
    Py_ssize_t nb, m, n_shift, n_run, n_via, n_skip
    Py_ssize_t cur       # sh[n_shift - 1]: start(k) - k for the last folded character
    uint32_t prev        # the last folded character (0xFFFFFFFF: none yet)
    # The word being folded (fold_word decided it): the characters before raw_end are
    # in a word no rule applies to (each is written as it is); before word_end, in a
    # word where leet_ok, conf_ok and splitter say which rules apply.
    Py_ssize_t raw_end, word_end
    bint leet_ok, conf_ok, splitter
    bint collapse


cdef inline Py_ssize_t put_utf8(unsigned char* u, Py_ssize_t nb, uint32_t c) noexcept:
    """Write ``c`` as UTF-8 at ``u[nb]``; the new length. Surrogates cannot occur (they
    are noise to the normaliser); they would be written as by "surrogatepass"."""
    if c < 0x80:
        u[nb] = c
        return nb + 1
    if c < 0x800:
        u[nb] = 0xC0 | (c >> 6)
        u[nb + 1] = 0x80 | (c & 0x3F)
        return nb + 2
    cdef uint32_t w
    if c < 0x10000:
        # One 4-byte store (little-endian byte order), of which 3 count: the buffer has a
        # byte to spare after the longest text (fold_text), and the next character
        # overwrites the fourth.
        w = (0xE0 | (c >> 12)) | ((0x80 | ((c >> 6) & 0x3F)) << 8) | ((0x80 | (c & 0x3F)) << 16)
        memcpy(&u[nb], &w, 4)
        return nb + 3
    u[nb] = 0xF0 | (c >> 18)
    u[nb + 1] = 0x80 | ((c >> 12) & 0x3F)
    u[nb + 2] = 0x80 | ((c >> 6) & 0x3F)
    u[nb + 3] = 0x80 | (c & 0x3F)
    return nb + 4


cdef inline void put_new(Out* o, Py_ssize_t i, uint32_t c) noexcept:
    """Folded character ``o.m`` is ``c`` and starts at normalised index ``i``."""
    if i - o.m != o.cur:
        # n_shift <= m + 1 <= n: one entry at most per folded character, plus the first.
        o.sa[o.n_shift] = <int32_t>o.m
        o.sh[o.n_shift] = <int32_t>(i - o.m)
        o.n_shift += 1
        o.cur = i - o.m
    o.nb = put_utf8(o.u, o.nb, c)
    o.m += 1
    o.prev = c


cdef inline void put_run(Out* o, Py_ssize_t i) noexcept:
    """Normalised index ``i`` goes on the run of folded character ``o.m - 1``."""
    if o.n_run and o.ra[o.n_run - 1] == o.m - 1:
        o.re[o.n_run - 1] = <int32_t>i
    else:
        # n_run < m <= n: at most one run per folded character.
        o.ra[o.n_run] = <int32_t>(o.m - 1)
        o.re[o.n_run] = <int32_t>i
        o.n_run += 1


cdef inline void emit(Out* o, const char_t* s, Py_ssize_t i, uint32_t c, uint8_t v) noexcept:
    """Normalised character ``i`` folds to ``c`` (``v``: by which fold, 0: none)."""
    if o.collapse and c == o.prev:
        put_run(o, i)
        if v:
            if o.n_via and o.va[o.n_via - 1] == o.m - 1:
                o.vv[o.n_via - 1] |= v
            else:
                # n_via < m <= n. The run's first character starts at
                # (m - 1) + cur < i: no folded character, so no shift, came since.
                o.va[o.n_via] = <int32_t>(o.m - 1)
                o.vv[o.n_via] = v
                o.vr[o.n_via] = s[o.m - 1 + o.cur]
                o.n_via += 1
    else:
        if v:
            o.va[o.n_via] = <int32_t>o.m  # n_via <= m < n
            o.vv[o.n_via] = v
            o.vr[o.n_via] = s[i]
            o.n_via += 1
        put_new(o, i, c)


cdef void fold_word(Out* o, const char_t* s, Py_ssize_t n, const uint32_t* table, Py_ssize_t i) noexcept:
    """Decide which rules apply to the word holding ``i`` (``o.raw_end`` or
    ``o.word_end`` and the flags), folding nothing: ``fold_chars`` then writes its
    characters that stand for themselves and ``word_char`` the others.

    The word is the whole run of TOKEN characters around ``i``: whether leet and
    look-alike folding apply is counted over all of it. Only a word holding a DECIDE
    character comes here (few do); the others need no count."""
    cdef Py_ssize_t start = i, j, tok_end
    cdef uint32_t f, seen = 0
    cdef int alpha = 0, ascii_n = 0, conf = 0, leetd = 0, leets = 0, digits = 0
    cdef int hexonly = 1
    cdef bint leet_ok = False, first_alpha
    while start > 0 and table[s[start - 1]] & TOKEN:
        start -= 1
    first_alpha = (table[s[start]] & ALPHA) != 0
    j = start
    while j < n:
        f = table[s[j]]
        if not (f & TOKEN):
            break
        # Counted without branches (0 or 1 each).
        alpha += (f & ALPHA) != 0
        hexonly &= (f & HEX) != 0 or (f & ALPHA) == 0
        ascii_n += ((f & ASCII) != 0) + ((f & LATX) != 0)
        conf += (f & CONF) != 0
        digits += (f & DIGIT) != 0
        leetd += (f & LEETD) != 0
        leets += (f & LEETS) != 0
        seen |= f
        j += 1
    tok_end = j
    # Leet only where letters and digits/symbols mix in a word that is mostly
    # letters: never 2000, 4x4, h264, prices, or a hex hash.
    if leetd + leets > 0:
        if alpha >= 2 and digits <= alpha and not (
            hexonly and digits > 0 and tok_end - start >= 6
        ):
            leet_ok = True
        elif alpha == 1 and digits == 0 and first_alpha and tok_end - start >= 3:
            leet_ok = True
    o.leet_ok = leet_ok
    # Look-alikes only in a word that mixes scripts (a Latin letter among them):
    # a Russian or Greek word stays as it is.
    o.conf_ok = conf > 0 and ascii_n > 0
    # Only symbols ("@" between two Chinese characters): a splitter, dropped.
    o.splitter = alpha == 0 and leetd == 0 and digits == 0
    if not (o.leet_ok or o.conf_ok or o.splitter or (seen & LATX)):
        # Every character of the word stands for itself (2000, h264, a Russian word).
        o.raw_end = tok_end
    else:
        o.word_end = tok_end


cdef void word_char(Out* o, const char_t* s, const uint32_t* table, Py_ssize_t i) noexcept:
    """Fold character ``i`` of the word ``fold_word`` decided (i < o.word_end)."""
    cdef uint32_t c = s[i], f = table[c]
    cdef uint8_t v = 0
    if (f & (LEETD | LEETS)) and o.leet_ok:
        # "!" reads as i only between letters: at a word's edge it is
        # punctuation ("hello!"). i - 1 >= 0 and i + 1 < word_end <= n here.
        if c == 0x21 and (i == 0 or i + 1 >= o.word_end or
                          not (table[s[i - 1]] & (ASCII | LATX | CONF)) or
                          not (table[s[i + 1]] & (ASCII | LATX | CONF))):
            pass
        else:
            c = f & TARGET
            v = V_LEET
    elif (f & CONF) and o.conf_ok:
        c = f & TARGET
        v = V_CONF
    elif f & LATX:
        c = f & TARGET
        v = V_CONF
    elif (f & SKIP) and o.splitter:
        o.sk[o.n_skip] = i  # n_skip < n: one per character at most
        o.n_skip += 1
        return
    emit(o, s, i, c, v)


cdef Py_ssize_t fold_other(
    Out* o, const char_t* s, Py_ssize_t n, const uint32_t* table, Py_ssize_t i, uint32_t f
) noexcept:
    """Fold the character at ``i`` (table entry ``f``) that ``fold_chars`` does not fold
    itself; the next index (``i`` itself when it decided that ``i``'s word stands for
    itself)."""
    cdef uint32_t c = s[i]
    if i < o.raw_end:
        emit(o, s, i, c, 0)
    elif i < o.word_end:
        word_char(o, s, table, i)
    elif not (f & SPECIAL):
        emit(o, s, i, c, 0)
    elif f & TOKEN:
        if f & DECIDE:
            # The characters of the word before i have no DECIDE bit: they were
            # written as in any word.
            fold_word(o, s, n, table, i)
            if i < o.raw_end:
                return i  # fold_chars writes the word
            word_char(o, s, table, i)
            return i + 1
        if f & LATX:
            emit(o, s, i, f & TARGET, V_CONF)
        else:
            emit(o, s, i, c, 0)
    elif f & SKIP:
        o.sk[o.n_skip] = i  # n_skip < n: one per character at most
        o.n_skip += 1
    elif f & NUM:
        emit(o, s, i, f & TARGET, V_NUM)
    else:
        emit(o, s, i, c, 0)
    return i + 1


cdef void fold_chars(Out* o, const char_t* s, Py_ssize_t n, const uint32_t* table) noexcept:
    """The fold of ``s[:n]`` into ``o``; one instance per string kind, so that reading a
    character is one load.

    Most characters are written as they are, whatever their word (a-z, other letters,
    digits that are not leet, CJK, punctuation), one after another: that case runs on
    local variables (the compiler keeps them in registers: stores into ``o``'s arrays
    could change ``o`` itself as far as it knows); the rest goes through ``o``."""
    cdef Py_ssize_t i = 0, j, nb, cur, raw_end
    cdef uint32_t prev, c = 0, f = 0
    cdef unsigned char* u = o.u
    cdef bint collapse = o.collapse
    while i < n:
        if i - o.m == o.cur:
            # Each character written from here on is folded character i - cur (no new
            # shift entry): m is i - cur, not counted.
            nb = o.nb
            cur = o.cur
            prev = o.prev
            raw_end = o.raw_end
            while i < raw_end:  # the rest of a word that stands for itself (fold_word)
                c = s[i]
                if collapse and c == prev:
                    break
                nb = put_utf8(u, nb, c)
                prev = c
                i += 1
            if i >= raw_end:
                while i < n:
                    c = s[i]
                    f = table[c]  # c < 0x110000, the table's length (checked by fold_text)
                    if (f & SPECIAL) or (collapse and c == prev):
                        break
                    nb = put_utf8(u, nb, c)
                    prev = c
                    i += 1
            o.nb = nb
            o.m = i - cur
            o.prev = prev
            if i >= n:
                break
            if collapse and c == prev and (i < raw_end or not (f & SPECIAL)):
                # A run of the last character (c: s[i]; f: its entry unless the loop
                # over raw_end stopped), which stands for itself wherever it is, or in
                # its word: every copy goes on the run (put_run, once). The copies are
                # TOKEN characters when i < raw_end: they stay in the word.
                j = i + 1
                while j < n and s[j] == c:
                    j += 1
                put_run(o, j - 1)
                i = j
                continue
        i = fold_other(o, s, n, table, i, table[s[i]])


# The result arrays' types, looked up once.
_I32, _U8, _U32, _I64 = np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.uint32), np.dtype(np.int64)


cdef object exact(const void* p, Py_ssize_t k, object dtype):
    """A new array of ``k`` items of ``dtype`` copied from ``p`` (through the buffer
    protocol: a typed memoryview costs more than the copy of a few entries)."""
    arr = np.empty(k, dtype=dtype)
    cdef Py_buffer view
    if k:
        PyObject_GetBuffer(arr, &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS)
        memcpy(view.buf, p, view.len)  # len: k items of dtype's size
        PyBuffer_Release(&view)
    return arr


def fold_text(str text not None, const uint32_t[::1] table, bint collapse=True):
    """(folded as UTF-8, its length in characters, shift_at, shift, run_at, run_end,
    via_at, via, via_rep, skipped) of normalised ``text``.

    Folded character ``k`` stands for ``text[start(k):end(k) + 1]`` (a run of one
    repeated folded character). Most characters stand for one character each, shifted
    by the runs and skip characters before them, so only the exceptions are written,
    as sorted arrays (``evasion.Folded`` reads them):

    - ``start(k) = k + shift[j]`` for the last ``j`` with ``shift_at[j] <= k``;
    - ``end(k) = run_end[j]`` where ``run_at[j] == k`` (runs of two or more), else
      ``start(k)``;
    - ``via_at``: the characters made by leet, look-alike or numeral folding, ``via``
      which folds made them, ``via_rep`` the character written at ``start(k)``
      (every other folded character is the character written);
    - ``skipped``: the indexes of the skip characters dropped.

    Why sparse: full arrays of start, end, via and what was written cost 17 bytes
    written per character, more than the fold itself. ``collapse=False`` keeps
    repeated characters apart (the benchmark's switch).

    How: one pass; a word is counted (for leet and look-alikes) only when it holds a
    character whose fold depends on it, which few words do (``fold_word``)."""
    # Bounds checks are off in this loop: every index below is < n (or n + 1 for the
    # shift arrays), and every code point < 0x110000, the table's length (checked here).
    if table.shape[0] < 0x110000:
        raise ValueError("the fold table must cover every code point")
    if len(text) >= 2**31:
        raise ValueError("text too long to fold")
    cdef Py_ssize_t n = len(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Out o
    # The folded text is written straight into a bytes object with room for the worst
    # case (4 bytes a character, whatever the table's targets; plus the byte put_utf8
    # may write past the end), then shrunk: no copy. Pages never written cost nothing.
    cdef PyObject* raw = PyBytes_FromStringAndSize(NULL, 4 * n + 1)
    if raw == NULL:
        raise MemoryError()
    # One block for the sparse arrays, int64 first for alignment; none are read before
    # they are written.
    cdef char* block = <char*>PyMem_Malloc(8 * n + 4 * (6 * n + 2) + n + 8)
    if block == NULL:
        Py_DECREF(raw)
        raise MemoryError()
    o.u = <unsigned char*>PyBytes_AS_STRING(raw)
    o.sk = <int64_t*>block
    o.sa = <int32_t*>(block + 8 * n)
    o.sh = o.sa + (n + 1)
    o.ra = o.sh + (n + 1)
    o.re = o.ra + n
    o.va = o.re + n
    o.vr = <uint32_t*>(o.va + n)
    o.vv = <uint8_t*>(o.vr + n)
    o.nb = o.m = o.n_run = o.n_via = o.n_skip = 0
    o.n_shift = 1
    o.cur = 0
    o.sa[0] = 0
    o.sh[0] = 0
    o.prev = 0xFFFFFFFF
    o.raw_end = o.word_end = 0
    o.leet_ok = o.conf_ok = o.splitter = False
    o.collapse = collapse
    if kind == 1:
        fold_chars(&o, <const uint8_t*>data, n, &table[0])
    elif kind == 2:
        fold_chars(&o, <const uint16_t*>data, n, &table[0])
    else:
        fold_chars(&o, <const uint32_t*>data, n, &table[0])
    try:
        if _PyBytes_Resize(&raw, o.nb) < 0:  # frees raw on failure
            raise MemoryError()
        folded = <object>raw
        Py_DECREF(raw)  # folded holds it now
        return (
            folded, o.m, exact(o.sa, o.n_shift, _I32), exact(o.sh, o.n_shift, _I32),
            exact(o.ra, o.n_run, _I32), exact(o.re, o.n_run, _I32),
            exact(o.va, o.n_via, _I32), exact(o.vv, o.n_via, _U8),
            exact(o.vr, o.n_via, _U32), exact(o.sk, o.n_skip, _I64),
        )
    finally:
        PyMem_Free(block)


def hit_spans(
    const int64_t[::1] a,
    const int64_t[::1] b,
    const int32_t[::1] shift_at,
    const int32_t[::1] shift,
    const int32_t[::1] run_at,
    const int32_t[::1] run_end,
    const int32_t[::1] via_at,
):
    """(start, end, folded) of folded spans ``[a[i], b[i])`` (non-empty), with the arrays
    ``fold_text`` returns: the normalised span ``[start, end)`` they stand for, and how
    many of their characters a leet, look-alike or numeral fold made.

    Why here: the automaton reports hits in the order of their end, so each look-up
    starts where the last one ended (a few steps) instead of a binary search of its own;
    the three numpy searches this replaces took about 7% of a scan."""
    cdef Py_ssize_t n = a.shape[0], i
    cdef Py_ssize_t hs = 0, he = 0, hr = -1, hva = -1, hvb = -1, j
    cdef int64_t k, st
    if b.shape[0] != n:
        raise ValueError("a and b differ in length")
    if shift_at.shape[0] == 0 or shift_at[0] != 0 or shift.shape[0] != shift_at.shape[0]:
        raise ValueError("shift_at must start at 0")
    if run_end.shape[0] != run_at.shape[0]:
        raise ValueError("run_at and run_end differ in length")
    for i in range(n):  # the look-ups below read shift[...] unchecked
        if a[i] < 0 or b[i] <= a[i]:
            raise ValueError("spans must be non-empty and within the text")
    start = np.empty(n, dtype=np.int64)
    end = np.empty(n, dtype=np.int64)
    folded = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] sv = start
    cdef int64_t[::1] ev = end
    cdef int64_t[::1] fv = folded
    # Pointers for the shared search (NULL for an empty array: it reads nothing then).
    cdef Py_ssize_t n_shift = shift_at.shape[0], n_run = run_at.shape[0], n_via = via_at.shape[0]
    cdef const int32_t* p_shift = &shift_at[0]
    cdef const int32_t* p_run = &run_at[0] if n_run else NULL
    cdef const int32_t* p_via = &via_at[0] if n_via else NULL
    with nogil:
        for i in range(n):
            k = a[i]
            hs = last_le(p_shift, n_shift, k, hs)
            sv[i] = k + shift[hs]
            k = b[i] - 1
            he = last_le(p_shift, n_shift, k, he)
            st = k + shift[he]
            hr = last_le(p_run, n_run, k, hr)
            if hr >= 0 and run_at[hr] == k:
                ev[i] = run_end[hr] + 1
            else:
                ev[i] = st + 1
            hvb = last_le(p_via, n_via, k, hvb)
            hva = last_le(p_via, n_via, a[i] - 1, hva)
            fv[i] = hvb - hva
    return start, end, folded
