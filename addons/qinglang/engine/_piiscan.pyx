# cython: language_level=3, boundscheck=True, wraparound=False
"""One pass over the normalised scan text for the personal-information detectors
(``pii.py``): the runs of digits that may hold a value by their layout, the labels
that announce a value, and the ``@`` of e-mail addresses.

Why compiled: two regular-expression scans of the whole text (digit runs, labels), two
searches of the source for ``@`` and the Python checks of every run of 11+ digits cost
about a third of the engine on a page with no personal data at all (dates and view
counts are such runs). This loop does the same at C speed and leaves the rare hits to
the Python rules. Cython keeps Python's semantics (bounds-checked indexing,
exceptions), so this is not a hand-written C parser of hostile input.

What the pass reports (``pii.py`` applies every rule to it):

- digit runs as the former ``[0-9](?: ?[0-9]){10,}(?: ?x(?![a-z]))?`` found them, but
  only those holding a stretch of whole groups (digits written together, told by their
  source positions) that ``pii._scan_segment`` would try: a total number of digits in
  ``lengths`` and one group, one digit per group or a layout in ``shapes``.
- labels as the former alternation of the literals, longest first, found them: at the
  leftmost place, the longest label there, never overlapping.
- the index of every ``@`` in the text.
"""

from libc.stdint cimport int64_t, uint32_t
from libcpp.vector cimport vector

import numpy as np


cdef inline bint _digit(uint32_t c) noexcept:
    return 48 <= c <= 57


cdef inline bint _ascii_lower(uint32_t c) noexcept:
    return 97 <= c <= 122


cdef uint32_t _BMP = 0x10000  # every label starts with a character below this


cdef class Scanner:
    """The pass for one set of labels and value layouts (built once, at import)."""

    # Labels as code points, grouped by first character, longest first in each group
    cdef vector[vector[uint32_t]] words
    cdef vector[int] slot  # BMP character -> 1 + index in words of its group, else 0
    cdef frozenset shapes
    cdef unsigned long long lengths  # bit n: a value may have n digits
    cdef Py_ssize_t longest

    def __init__(self, labels, shapes: frozenset, lengths: frozenset) -> None:
        cdef Py_ssize_t k
        cdef str w
        cdef vector[uint32_t] cps
        cdef list given = list(labels)
        for w in given:
            if not w or ord(w[0]) >= _BMP:
                raise ValueError(f"label {w!r}: empty or not starting in the BMP")
        for w in sorted(given, key=lambda label: (label[0], -len(label))):
            cps.clear()
            for ch in w:
                cps.push_back(ord(ch))
            self.words.push_back(cps)
        self.slot.assign(_BMP, 0)
        for k in reversed(range(self.words.size())):
            self.slot[self.words[k][0]] = k + 1
        if not lengths or min(lengths) < 1 or max(lengths) > 63:
            raise ValueError("value lengths must be within 1..63")
        self.shapes = shapes
        self.lengths = 0
        for k in lengths:
            self.lengths |= 1ULL << k
        self.longest = max(lengths)

    def scan(self, str text, const int64_t[:] pos):
        """(runs, labels, ats): digit runs and labels as ``(start, end)`` and the index
        of each ``@``, all in normalised text coordinates, in order."""
        # The code points in an array: indexing it (bounds-checked) costs half of
        # indexing the str, whose storage kind is looked up at every character.
        cdef const uint32_t[:] t = np.frombuffer(
            text.encode("utf-32-le", "surrogatepass"), np.uint32
        )
        cdef Py_ssize_t n = t.shape[0], i = 0, j, digits, end
        cdef uint32_t c
        cdef list runs = [], labels = [], ats = []
        if pos.shape[0] != n:
            raise ValueError("pos must have one entry per character of text")
        while i < n:
            c = t[i]
            if _digit(c):
                # Digits, with at most one space between two of them
                j = i + 1
                digits = 1
                while j < n:
                    c = t[j]
                    if _digit(c):
                        j += 1
                    elif c == 32 and j + 1 < n and _digit(t[j + 1]):
                        j += 2
                    else:
                        break
                    digits += 1
                if digits < 11:  # no shorter run starting inside matches either
                    i = j
                    continue
                end = _id_x_end(t, j, n)
                if self._may_hold(t, pos, i, end):
                    runs.append((i, end))
                i = end
            elif c < _BMP and self.slot[c] != 0:
                end = self._label_end(t, i, n, c)
                if end > i:
                    labels.append((i, end))
                    i = end
                else:
                    i += 1
            else:
                if c == 64:  # "@"
                    ats.append(i)
                i += 1
        return runs, labels, ats

    cdef Py_ssize_t _label_end(
        self, const uint32_t[:] t, Py_ssize_t i, Py_ssize_t n, uint32_t c
    ) except -1:
        """End of the longest label at ``i`` (whose character is ``c``), else ``i``."""
        cdef Py_ssize_t k = self.slot[c] - 1, m, q
        cdef Py_ssize_t nwords = self.words.size()
        while k < nwords and self.words[k][0] == c:
            m = self.words[k].size()
            if i + m <= n:
                q = 1
                while q < m and t[i + q] == self.words[k][q]:
                    q += 1
                if q == m:
                    return i + m
            k += 1
        return i

    cdef bint _may_hold(
        self, const uint32_t[:] t, const int64_t[:] pos, Py_ssize_t a, Py_ssize_t b
    ) except -1:
        """Some stretch of whole groups of the run ``t[a:b]`` has a value's length and
        layout. Groups break where the source positions of two digits are not adjacent
        (noise was dropped, or the space kept here stood for a gap)."""
        cdef vector[Py_ssize_t] size
        cdef Py_ssize_t k, prev = -1, g, i, j, q, total, widest
        cdef list layout
        for k in range(a, b):
            if t[k] == 32:  # " "
                continue
            if prev < 0 or pos[k] - pos[prev] != 1:
                size.push_back(0)
            size[size.size() - 1] += 1
            prev = k
        g = size.size()
        for i in range(g):
            total = 0
            widest = 0
            for j in range(i, g):
                total += size[j]
                if total > self.longest:
                    break
                widest = max(widest, size[j])
                if not (self.lengths >> total) & 1:
                    continue
                if j == i or widest == 1:
                    return True
                layout = []
                for q in range(i, j + 1):
                    layout.append(size[q])
                if tuple(layout) in self.shapes:
                    return True
        return False


cdef Py_ssize_t _id_x_end(const uint32_t[:] t, Py_ssize_t j, Py_ssize_t n) except -1:
    """End of a run of digits ending before ``j``: past an ID number's final ``x`` (one
    space before it allowed) when no letter follows the ``x``."""
    cdef Py_ssize_t x = j
    if x < n and t[x] == 32:
        x += 1
    if x < n and t[x] == 120 and not (x + 1 < n and _ascii_lower(t[x + 1])):  # "x"
        return x + 1
    return j
