# cython: language_level=3
# The segment table the compiled extractors (_htmltext, _jsontext) fill: see _segments.pyx.

from libc.stdint cimport int64_t
from libcpp.vector cimport vector

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_FindChar(
        object s, Py_UCS4 ch, Py_ssize_t start, Py_ssize_t end, int direction
    ) except -2

# Segment kinds (extract.py: _RUN, _ENTITY, _SYNTH, _EMBED)
cdef enum:
    RUN = 0
    ENTITY = 1
    SYNTH = 2
    EMBED = 3  # a document of its own (srcdoc, data: URL): masked by emptying it


cdef class Segments:
    cdef list parts
    cdef vector[int64_t] d0
    cdef vector[int64_t] raw
    cdef vector[int64_t] kind
    cdef vector[int64_t] length
    cdef bint last_boundary

    cdef void add(self, str text, int64_t d0, int64_t raw, int64_t kind, bint loose)
    cdef void run(self, str doc, Py_ssize_t a, Py_ssize_t b, bint loose)
    cdef void boundary(self, int64_t d0)
    cdef tuple result(self)
