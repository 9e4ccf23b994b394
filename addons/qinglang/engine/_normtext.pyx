# cython: language_level=3, boundscheck=True, wraparound=False
"""Normalisation of scan text in one compiled pass over its characters (``normalize.py``
builds the tables and documents the rules).

Why compiled: table lookups, dropping noise with a map back to the source, and the word
gap rule were a dozen numpy passes and temporary arrays per page; one loop over the
characters does all of it at C speed. Cython keeps Python's semantics (bounds-checked
indexing, exceptions), so this is not hand-written C over hostile text.

The word gap rule, kept character by kept character: noise between two word characters
that holds a hard gap (whitespace, ".") is a *gap*; a gap stays as one space (at the
first noise character after the left word character) unless the characters on both of
its sides are single letters, i.e. not joined to a word character beyond them without a
gap. The left side is known when the right character arrives; the right side is known
one kept character later, so a gap whose left side is single waits in a slot of the
output until then. Most characters are neither after a hard gap nor after a waiting
slot: they only go through the table and into the output (the word flag is read for
the others alone, from the kept characters' code points).
"""

from libc.stdint cimport int64_t, uint32_t

import numpy as np

cdef extern from "Python.h":
    int PyUnicode_4BYTE_KIND
    object PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)

cdef Py_UCS4 SPACE = u" "

# The packed table's bits (normalize.py builds it)
cdef enum:
    CANON = 0x1FFFFF
    NOISE = 1 << 24
    WORD = 1 << 25
    HARD = 1 << 26
    PHRASE = 1 << 27  # the canonical character can still change in a phrase (覆 in 反覆)


def normalize_text(
    str source not None,
    const uint32_t[::1] packed,
):
    """(text, pos, cps, phrase_at) of ``source``: normalised text, the source index of
    each of its characters (int64), the source's code points (uint32, read-only; lone
    surrogates as they are) and the sorted indexes in ``text`` of the characters with the
    phrase flag (a list, usually empty). ``packed`` holds, per code point, its canonical
    code point (low 21 bits) and its noise, word, hard and phrase flags."""
    cdef Py_ssize_t n = len(source)
    out = np.empty(n, dtype=np.uint32)  # never longer than the source: a space is noise
    pos = np.empty(n, dtype=np.int64)
    cps = np.empty(n, dtype=np.uint32)
    cdef uint32_t[::1] outv = out
    cdef int64_t[::1] posv = pos
    cdef uint32_t[::1] cpsv = cps
    cdef Py_ssize_t i = 0, m = 0  # source index, output length
    cdef Py_ssize_t slot = -1  # output index of a gap waiting for its right side
    cdef Py_ssize_t gap_at = -1  # first noise character since the last kept one
    cdef Py_ssize_t gapped = -1  # output index of the last kept character after a gap
    cdef bint hard_seen = False, w, g
    cdef Py_UCS4 c
    cdef uint32_t e
    # Found here rather than by a regular expression over the text afterwards (a
    # second pass over all of it, about a third of the phrase step's time).
    phrase_at = []

    for c in source:
        cpsv[i] = c
        e = packed[c]
        if e & NOISE:
            if gap_at < 0:
                gap_at = i
            if not hard_seen and e & HARD:
                hard_seen = True
        else:
            if slot >= 0 or hard_seen:
                # outv[m - 1] is always the previous kept character (a slot or space is
                # followed by one).
                w = (e & WORD) != 0
                g = hard_seen and w and m > 0 and (packed[cpsv[posv[m - 1]]] & WORD) != 0
                if slot >= 0:
                    # The waiting gap's right character is single unless joined to this.
                    if w and not g:
                        outv[slot] = SPACE
                    else:
                        outv[slot] = outv[slot + 1]
                        posv[slot] = posv[slot + 1]
                        m -= 1
                        gapped = slot
                        if phrase_at and phrase_at[len(phrase_at) - 1] == slot + 1:
                            phrase_at[len(phrase_at) - 1] = slot
                    slot = -1
                if g:
                    # The left character is part of a longer word if joined to the one
                    # before it (a word character with no gap between).
                    if m >= 2 and gapped != m - 1 and packed[cpsv[posv[m - 2]]] & WORD:
                        outv[m] = SPACE
                    else:
                        slot = m
                    posv[m] = gap_at
                    m += 1
                    gapped = m
                hard_seen = False
            outv[m] = e & CANON
            if e & PHRASE:
                phrase_at.append(m)
            posv[m] = i
            m += 1
            gap_at = -1
        i += 1
    if slot >= 0:
        # The last character has nothing on its right: single, so the gap goes.
        outv[slot] = outv[slot + 1]
        posv[slot] = posv[slot + 1]
        m -= 1
        if phrase_at and phrase_at[len(phrase_at) - 1] == slot + 1:
            phrase_at[len(phrase_at) - 1] = slot

    text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, &outv[0], m) if m else ""
    del outv, posv, cpsv  # release the buffers so that pos can shrink in place
    pos.resize(m)
    cps.flags.writeable = False  # one array for every user of the result, as before
    return text, pos, cps, phrase_at



cdef extern from *:
    """
    #include <string.h>
    static inline int qinglang_continuations(const unsigned char* p) {
        /* UTF-8 continuation bytes (10xxxxxx) among the 8 at p. */
        unsigned long long x;
        memcpy(&x, p, 8);
        unsigned long long c = (x & (~x << 1) & 0x8080808080808080ULL) >> 7;
        /* one bit per byte: the multiply sums them into the top byte (no popcnt
           instruction is assumed: the build targets any x86-64) */
        return (int)((c * 0x0101010101010101ULL) >> 56);
    }
    """
    int qinglang_continuations(const unsigned char* p) nogil


def char_offsets(const unsigned char[::1] utf8, int64_t[::1] offsets):
    """Turn byte offsets into UTF-8 text into character indexes, in place (every offset at
    a character boundary, at most ``len(utf8)``).

    Why: the automaton searches the UTF-8 bytes, because ahocorasick-rs's ``str`` search
    builds a byte-to-character table of the whole text on every call; only the hits need
    character offsets, counted here in one walk up to the last of them, 8 bytes a step."""
    cdef Py_ssize_t n = offsets.shape[0], size = utf8.shape[0], j, k, at = 0, target
    cdef int64_t chars = 0
    if n == 0:
        return
    # Stable (timsort): the automaton reports hits by their end, so the offsets are
    # nearly sorted already; about 4x faster here than the default quicksort.
    order = np.argsort(offsets, kind="stable")
    cdef int64_t[::1] ov = order
    cdef const unsigned char* p = &utf8[0] if size else NULL
    for k in range(n):
        j = ov[k]
        target = offsets[j]
        if target > size or target < 0:
            raise ValueError(f"byte offset {target} is outside the text ({size} bytes)")
        while at + 8 <= target:
            chars += 8 - qinglang_continuations(p + at)
            at += 8
        while at < target:
            chars += (p[at] & 0xC0) != 0x80
            at += 1
        offsets[j] = chars
