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
    if c < 0x10000:
        u[nb] = 0xE0 | (c >> 12)
        u[nb + 1] = 0x80 | ((c >> 6) & 0x3F)
        u[nb + 2] = 0x80 | (c & 0x3F)
        return nb + 3
    u[nb] = 0xF0 | (c >> 18)
    u[nb + 1] = 0x80 | ((c >> 12) & 0x3F)
    u[nb + 2] = 0x80 | ((c >> 6) & 0x3F)
    u[nb + 3] = 0x80 | (c & 0x3F)
    return nb + 4


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
    repeated characters apart (the benchmark's switch)."""
    # Bounds checks are off in this loop: every index below is < n (or n + 1 for the
    # shift arrays), and every code point < 0x110000, the table's length (checked here).
    if table.shape[0] < 0x110000:
        raise ValueError("the fold table must cover every code point")
    if len(text) >= 2**31:
        raise ValueError("text too long to fold")
    cdef Py_ssize_t n = len(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t i, j, m = 0, tok_end, nb = 0
    cdef Py_ssize_t n_shift = 1, n_run = 0, n_via = 0, last_start = 0
    cdef uint32_t e, c, prev = 0xFFFFFFFF, f
    cdef uint8_t v
    cdef int alpha, ascii_n, conf, leetd, leets, digits, hexonly
    cdef bint leet_ok, conf_ok, first_alpha
    # np.empty: only the entries written are touched (the exceptions are few).
    buf = np.empty(4 * n + 1, dtype=np.uint8)
    shift_at = np.empty(n + 1, dtype=np.int32)
    shift = np.empty(n + 1, dtype=np.int32)
    run_at = np.empty(n, dtype=np.int32)
    run_end = np.empty(n, dtype=np.int32)
    via_at = np.empty(n, dtype=np.int32)
    via = np.empty(n, dtype=np.uint8)
    via_rep = np.empty(n, dtype=np.uint32)
    skipped = []
    cdef unsigned char[::1] u = buf
    cdef int32_t[::1] sa = shift_at
    cdef int32_t[::1] sh = shift
    cdef int32_t[::1] ra = run_at
    cdef int32_t[::1] re = run_end
    cdef int32_t[::1] va = via_at
    cdef uint8_t[::1] vv = via
    cdef uint32_t[::1] vr = via_rep
    sa[0] = 0
    sh[0] = 0

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
                    # The run of folded character m - 1 goes on to i.
                    if n_run and ra[n_run - 1] == m - 1:
                        re[n_run - 1] = i
                    else:
                        ra[n_run] = m - 1
                        re[n_run] = i
                        n_run += 1
                    if v:
                        if n_via and va[n_via - 1] == m - 1:
                            vv[n_via - 1] |= v
                        else:
                            va[n_via] = m - 1
                            vv[n_via] = v
                            vr[n_via] = PyUnicode_READ(kind, data, last_start)
                            n_via += 1
                else:
                    if i - m != sh[n_shift - 1]:
                        sa[n_shift] = m
                        sh[n_shift] = i - m
                        n_shift += 1
                    if v:
                        va[n_via] = m
                        vv[n_via] = v
                        vr[n_via] = PyUnicode_READ(kind, data, i)
                        n_via += 1
                    nb = put_utf8(&u[0], nb, c)
                    last_start = i
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
            if n_run and ra[n_run - 1] == m - 1:
                re[n_run - 1] = i
            else:
                ra[n_run] = m - 1
                re[n_run] = i
                n_run += 1
            if v:
                if n_via and va[n_via - 1] == m - 1:
                    vv[n_via - 1] |= v
                else:
                    va[n_via] = m - 1
                    vv[n_via] = v
                    vr[n_via] = PyUnicode_READ(kind, data, last_start)
                    n_via += 1
        else:
            if i - m != sh[n_shift - 1]:
                sa[n_shift] = m
                sh[n_shift] = i - m
                n_shift += 1
            if v:
                va[n_via] = m
                vv[n_via] = v
                vr[n_via] = PyUnicode_READ(kind, data, i)
                n_via += 1
            nb = put_utf8(&u[0], nb, c)
            last_start = i
            m += 1
            prev = c
        i += 1

    folded = PyBytes_FromStringAndSize(<const char*>&u[0], nb)
    # Copies of the entries written (few), so that the text-long buffers are freed.
    return (
        folded, m, shift_at[:n_shift].copy(), shift[:n_shift].copy(), run_at[:n_run].copy(),
        run_end[:n_run].copy(), via_at[:n_via].copy(), via[:n_via].copy(),
        via_rep[:n_via].copy(), np.array(skipped, dtype=np.int64),
    )


cdef Py_ssize_t last_le(const int32_t[::1] at, int64_t k, Py_ssize_t j) noexcept nogil:
    """The last index of sorted ``at`` holding a value <= ``k`` (-1: none), searched from
    the hint ``j`` outwards by doubling steps, then halving: O(log distance)."""
    cdef Py_ssize_t n = at.shape[0], lo, hi, step = 1, mid
    if j >= n:
        j = n - 1
    if j >= 0 and at[j] > k:
        hi = j
        lo = j - 1
        while lo >= 0 and at[lo] > k:
            hi = lo
            step *= 2
            lo = j - step
        if lo < 0:
            lo = -1
    else:
        if j < -1:
            j = -1
        lo = j
        hi = j + 1
        while hi < n and at[hi] <= k:
            lo = hi
            step *= 2
            hi = j + step
        if hi > n:
            hi = n
    # at[lo] <= k (or lo == -1) and at[hi] > k (or hi == n)
    while hi - lo > 1:
        mid = lo + (hi - lo) // 2
        if at[mid] <= k:
            lo = mid
        else:
            hi = mid
    return lo


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
    with nogil:
        for i in range(n):
            k = a[i]
            hs = last_le(shift_at, k, hs)
            sv[i] = k + shift[hs]
            k = b[i] - 1
            he = last_le(shift_at, k, he)
            st = k + shift[he]
            hr = last_le(run_at, k, hr)
            if hr >= 0 and run_at[hr] == k:
                ev[i] = run_end[hr] + 1
            else:
                ev[i] = st + 1
            hvb = last_le(via_at, k, hvb)
            hva = last_le(via_at, a[i] - 1, hva)
            fv[i] = hvb - hva
    return start, end, folded
