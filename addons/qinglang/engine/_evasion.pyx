# cython: language_level=3, boundscheck=False, wraparound=False
"""The evasion fold of normalised text in one compiled pass (``evasion.py`` builds the
table and documents the rules).

Why compiled: the fold decides per word (a run of letters, digits and leet symbols)
whether leet and look-alike folding apply, then collapses repeated characters, with a
map back to the normalised text; a Python loop per character runs at about 12 MB/s
(ENGINE-NOTES.md), far below the scan's budget.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t

import numpy as np

cdef extern from "Python.h":
    object PyBytes_FromStringAndSize(const char* v, Py_ssize_t size)
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index)

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

cdef uint32_t TOKEN = ASCII | DIGIT | LEETD | LEETS | CONF | LATX | LETTER


def fold_text(str text not None, const uint32_t[::1] table, bint collapse=True):
    """(folded as UTF-8, its code points, start, end, via, rep, skipped, folds) of
    normalised ``text``.

    ``folded[k]`` stands for ``text[start[k]:end[k] + 1]`` (a run of one repeated
    folded character), ``via[k]`` says which folds made it, ``rep[k]`` is
    ``text[start[k]]`` (what was written), ``skipped`` lists the indexes of the skip
    characters dropped (sorted; usually none), ``folded`` the indexes ``k`` with a
    non-zero ``via`` (sorted; few).
    ``collapse=False`` keeps repeated characters apart (the benchmark's switch)."""
    # Bounds checks are off in this loop: every index below is < n, and every code
    # point < 0x110000, the table's length (checked here).
    if table.shape[0] < 0x110000:
        raise ValueError("the fold table must cover every code point")
    if len(text) >= 2**31:
        raise ValueError("text too long to fold")
    cdef Py_ssize_t n = len(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t i, j, k, m = 0, tok_end
    cdef uint32_t e, c, prev = 0xFFFFFFFF, f
    cdef uint8_t v
    cdef int alpha, ascii_n, conf, leetd, leets, digits, hexonly
    cdef bint leet_ok, conf_ok, first_alpha
    out = np.empty(n, dtype=np.uint32)
    rep = np.empty(n, dtype=np.uint32)
    # int32: half the memory traffic of int64 (a scan text is far below 2**31).
    start = np.empty(n, dtype=np.int32)
    end = np.empty(n, dtype=np.int32)
    via = np.empty(n, dtype=np.uint8)
    skipped = []
    cdef uint32_t[::1] ov = out
    cdef uint32_t[::1] rv = rep
    cdef int32_t[::1] sv = start
    cdef int32_t[::1] ev = end
    cdef uint8_t[::1] vv = via

    i = 0
    while i < n:
        e = table[PyUnicode_READ(kind, data, i)]
        leet_ok = False
        conf_ok = False
        if e & TOKEN:
            # One word: count what it is made of, then fold it as a whole.
            alpha = ascii_n = conf = leetd = leets = digits = 0
            hexonly = 1
            first_alpha = (e & (ASCII | CONF | LATX | LETTER)) != 0
            j = i
            while j < n:
                f = table[PyUnicode_READ(kind, data, j)]
                if not (f & TOKEN):
                    break
                if f & (ASCII | CONF | LATX | LETTER):
                    alpha += 1
                    if not (f & HEX):
                        hexonly = 0
                if f & ASCII:
                    ascii_n += 1
                if f & CONF:
                    conf += 1
                if f & LATX:
                    ascii_n += 1
                if f & DIGIT:
                    digits += 1
                if f & LEETD:
                    leetd += 1
                if f & LEETS:
                    leets += 1
                j += 1
            tok_end = j
            # Leet only where letters and digits/symbols mix in a word that is mostly
            # letters: never 2000, 4x4, h264, prices, or a hex hash.
            if leetd + leets > 0:
                if alpha >= 2 and digits <= alpha and not (
                    hexonly and digits > 0 and tok_end - i >= 6
                ):
                    leet_ok = True
                elif alpha == 1 and digits == 0 and first_alpha and tok_end - i >= 3:
                    leet_ok = True
            # Look-alikes only in a word that mixes scripts (a Latin letter among them):
            # a Russian or Greek word stays as it is.
            conf_ok = conf > 0 and ascii_n > 0
            if alpha == 0 and leetd == 0 and digits == 0:
                # Only symbols ("@" between two Chinese characters): a splitter.
                if e & SKIP:
                    leet_ok = False
            while i < tok_end:
                c = PyUnicode_READ(kind, data, i)
                f = table[c]
                v = 0
                if (f & (LEETD | LEETS)) and leet_ok:
                    # "!" reads as i only between letters: at a word's edge it is
                    # punctuation ("hello!").
                    if c == 0x21 and (i == 0 or i + 1 >= tok_end or
                                      not (table[PyUnicode_READ(kind, data, i - 1)] & (ASCII | LATX | CONF)) or
                                      not (table[PyUnicode_READ(kind, data, i + 1)] & (ASCII | LATX | CONF))):
                        pass
                    else:
                        c = f & TARGET
                        v = V_LEET
                elif (f & CONF) and conf_ok:
                    c = f & TARGET
                    v = V_CONF
                elif f & LATX:
                    c = f & TARGET
                    v = V_CONF
                elif (f & SKIP) and alpha == 0 and leetd == 0 and digits == 0:
                    skipped.append(i)
                    i += 1
                    continue
                if collapse and c == prev:
                    ev[m - 1] = i
                    vv[m - 1] |= v
                else:
                    ov[m] = c
                    rv[m] = PyUnicode_READ(kind, data, i)
                    sv[m] = i
                    ev[m] = i
                    vv[m] = v
                    m += 1
                    prev = c
                i += 1
            continue
        c = PyUnicode_READ(kind, data, i)
        v = 0
        if e & SKIP:
            skipped.append(i)
            i += 1
            continue
        if e & NUM:
            c = e & TARGET
            v = V_NUM
        if collapse and c == prev:
            ev[m - 1] = i
            vv[m - 1] |= v
        else:
            ov[m] = c
            rv[m] = PyUnicode_READ(kind, data, i)
            sv[m] = i
            ev[m] = i
            vv[m] = v
            m += 1
            prev = c
        i += 1

    # The characters made by leet, look-alike or numeral folding: a hit over none of
    # them needs no character-by-character check. Their indexes rather than a running
    # count per character (a fourth array as long as the text, mostly alike).
    cdef Py_ssize_t nf = 0
    for k in range(m):
        nf += vv[k] != 0
    folds = np.empty(nf, dtype=np.int64)
    cdef int64_t[::1] fv = folds
    nf = 0
    for k in range(m):
        if vv[k] != 0:
            fv[nf] = k
            nf += 1
    # The folded text as UTF-8, which the automaton searches (a str would be built and
    # then encoded: two more passes). Surrogates cannot occur (they are noise to the
    # normaliser); they would be written as by "surrogatepass".
    buf = np.empty(4 * m + 1, dtype=np.uint8)
    cdef unsigned char[::1] u = buf
    cdef Py_ssize_t nb = 0
    for k in range(m):
        c = ov[k]
        if c < 0x80:
            u[nb] = c
            nb += 1
        elif c < 0x800:
            u[nb] = 0xC0 | (c >> 6)
            u[nb + 1] = 0x80 | (c & 0x3F)
            nb += 2
        elif c < 0x10000:
            u[nb] = 0xE0 | (c >> 12)
            u[nb + 1] = 0x80 | ((c >> 6) & 0x3F)
            u[nb + 2] = 0x80 | (c & 0x3F)
            nb += 3
        else:
            u[nb] = 0xF0 | (c >> 18)
            u[nb + 1] = 0x80 | ((c >> 12) & 0x3F)
            u[nb + 2] = 0x80 | ((c >> 6) & 0x3F)
            u[nb + 3] = 0x80 | (c & 0x3F)
            nb += 4
    folded = PyBytes_FromStringAndSize(<const char*>&u[0], nb)
    # Views, not resize(): resizing copies each array (5 copies of the text's length).
    return (
        folded, out[:m], start[:m], end[:m], via[:m], rep[:m],
        np.array(skipped, dtype=np.int64), folds,
    )
