# cython: language_level=3
# The sorted-array search the compiled hit passes share (_evasion.hit_spans, _verify).

from libc.stdint cimport int32_t, int64_t


cdef inline Py_ssize_t last_le(const int32_t* at, Py_ssize_t n, int64_t k, Py_ssize_t j) noexcept nogil:
    """The last index of sorted ``at[:n]`` holding a value <= ``k`` (-1: none), searched
    from the hint ``j`` outwards by doubling steps, then halving: O(log distance). Hits
    come in the order of their end, so a search starting where the last one ended takes
    a few steps (``at`` may be NULL when ``n`` is 0: nothing is read)."""
    cdef Py_ssize_t lo, hi, step = 1, mid
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
