# cython: language_level=3, boundscheck=True, wraparound=False
"""The scan text and segment table that the compiled extractors (``_htmltext``,
``_jsontext``) fill in document order, and hand to ``extract.Extracted`` as arrays."""

import numpy as np

from .normalize import BOUNDARY as _BOUNDARY

cdef str BOUNDARY = _BOUNDARY


cdef class Segments:
    """Scan text pieces and their segments, in document order. One boundary is enough
    between two pieces of text: a boundary right after another is left out."""

    def __cinit__(self):
        self.parts = []
        self.last_boundary = False

    cdef void add(self, str text, int64_t d0, int64_t raw, int64_t kind, bint loose):
        """A piece of scan text (not empty). A ``loose`` piece (entity-split HTML text,
        an attribute value, RCDATA) counts as a boundary when it is one."""
        cdef bint is_b = loose and text == BOUNDARY
        if is_b and self.last_boundary:
            return
        self.last_boundary = is_b
        self.parts.append(text)
        self.d0.push_back(d0)
        self.raw.push_back(raw)
        self.kind.push_back(kind)
        self.length.push_back(len(text))

    cdef void run(self, str doc, Py_ssize_t a, Py_ssize_t b, bint loose):
        """The document's text ``doc[a:b]``, as it is."""
        if b > a:
            self.add(doc[a:b], a, b - a, RUN, loose)

    cdef void boundary(self, int64_t d0):
        self.add(BOUNDARY, d0, 0, SYNTH, True)

    cdef tuple result(self):
        """(text, scan, doc, length, raw, kind): the arrays of ``extract.Extracted``; one
        empty synthetic segment when there is no text at all."""
        cdef Py_ssize_t nseg = self.d0.size(), i
        if nseg == 0:
            z = np.zeros(1, dtype=np.int64)
            return "", z, z.copy(), z.copy(), z.copy(), np.full(1, SYNTH, dtype=np.int64)
        d0 = np.empty(nseg, dtype=np.int64)
        raw = np.empty(nseg, dtype=np.int64)
        kind = np.empty(nseg, dtype=np.int64)
        length = np.empty(nseg, dtype=np.int64)
        cdef int64_t[::1] d0v = d0, rawv = raw, kindv = kind, lenv = length
        for i in range(nseg):
            d0v[i] = self.d0[i]
            rawv[i] = self.raw[i]
            kindv[i] = self.kind[i]
            lenv[i] = self.length[i]
        scan = np.zeros(nseg, dtype=np.int64)
        np.cumsum(length[: nseg - 1], out=scan[1:])
        return "".join(self.parts), scan, d0, length, raw, kind
