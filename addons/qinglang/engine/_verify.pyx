# cython: language_level=3, boundscheck=False, wraparound=False
"""The automaton's hits on folded text, each expanded to the entries of its pattern and
checked against the entry's own characters, in one compiled pass (``matcher.py``
documents the rules; ``evasion.py`` the fold).

Why compiled: a page has from a handful to a few hundred hits. The same steps as numpy
array operations took about 60 calls of fixed overhead each (80-110 us a page, more than
the automaton itself on a small page), and a Python loop per character is slower still.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t

import numpy as np

from ._search cimport last_le

# The rule bits of a list (evasion.py: LEET, CONFUSABLES, NUMERALS, REPEATS, SKIPS).
cdef enum:
    FOLDS = 7  # LEET | CONFUSABLES | NUMERALS: the folds the ``via`` bits record
    REPEATS = 8
    SKIPS = 16


cdef struct Fold:
    # the text's fold (evasion.Folded), as pointers and lengths
    const int32_t* shift_at
    const int32_t* shift
    Py_ssize_t n_shift
    const int32_t* run_at
    const int32_t* run_end
    Py_ssize_t n_run
    const int32_t* via_at
    const uint8_t* via
    const uint32_t* via_rep
    Py_ssize_t n_via
    const int64_t* skipped
    Py_ssize_t n_skipped


cdef struct Pat:
    # the patterns (matcher.Matcher): per folded pattern character
    const uint8_t* via
    const uint32_t* rep
    const uint32_t* cps
    const int64_t* run


cdef inline Py_ssize_t count_lt(const int64_t* at, Py_ssize_t n, int64_t k) noexcept nogil:
    """How many values of sorted ``at[:n]`` are < ``k``."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = lo + (hi - lo) // 2
        if at[mid] < k:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline int64_t start_of(const Fold* f, int64_t k, Py_ssize_t* hint) noexcept nogil:
    """Normalised index of the first character folded character ``k`` stands for
    (``shift_at[0] == 0``, checked by ``accept``: the search finds an entry); ``hint``:
    where the last search ended, updated."""
    hint[0] = last_le(f.shift_at, f.n_shift, k, hint[0])
    return k + f.shift[hint[0]]


cdef inline int64_t end_of(const Fold* f, int64_t k, int64_t start, Py_ssize_t* hint) noexcept nogil:
    """Normalised index of its last character."""
    cdef Py_ssize_t j = last_le(f.run_at, f.n_run, k, hint[0])
    hint[0] = j
    return f.run_end[j] if j >= 0 and f.run_at[j] == k else start


cdef inline bint is_word(const uint8_t[::1] word, uint32_t cp) noexcept nogil:
    return cp < <uint32_t>word.shape[0] and word[cp] != 0


cdef bint check_pair(
    const Fold* f, const Pat* p, int64_t fs, int64_t fe, int64_t off, uint8_t allowed,
    int64_t* out_s, int64_t* out_e, Py_ssize_t h_shift, Py_ssize_t h_run, Py_ssize_t h_via,
) noexcept nogil:
    """Whether folded hit ``[fs, fe)`` of the pattern entry whose characters start at
    ``off`` is allowed by the entry's list (``allowed``: its rule bits), and its span in
    normalised coordinates (``matcher.Matcher.find`` states the rules). ``h_*``: where
    to start the searches (the hit's own)."""
    cdef Py_ssize_t length = fe - fs, k, j
    cdef int64_t tpos, upos, t_start, t_end, t_run, u_run, s, e
    cdef int64_t s0 = 0, e0 = 0, s1 = 0, e1 = 0, first_run = 0, last_run = 0
    cdef uint8_t t_via, u_via, bad
    cdef uint32_t cp, t_rep
    cdef bint wrong = False, extra, stretch, edge, inner, strong = False
    cdef bint take0 = False, take1 = False, good
    cdef int64_t n_stretch = 0, n_inner = 0
    for k in range(length):
        tpos = fs + k
        upos = off + k
        cp = p.cps[upos]  # the text's folded character (the automaton matched)
        # what fold made it, and what was written at its start
        j = last_le(f.via_at, f.n_via, tpos, h_via)
        h_via = j
        if j >= 0 and f.via_at[j] == tpos:
            t_via = f.via[j]
            t_rep = f.via_rep[j]
        else:
            t_via = 0
            t_rep = cp
        u_via = p.via[upos]
        bad = (t_via ^ u_via) & ~allowed & FOLDS
        if t_rep != p.rep[upos]:
            bad |= (t_via | u_via) & ~allowed & FOLDS
        # the normalised run it stands for, against the pattern's
        t_start = start_of(f, tpos, &h_shift)
        t_end = end_of(f, tpos, t_start, &h_run)
        t_run = t_end - t_start + 1
        u_run = p.run[upos]
        extra = t_run > u_run
        stretch = extra and 97 <= cp <= 122 and (allowed & REPEATS) != 0
        edge = k == 0 or k == length - 1
        # Fewer repeats never count; more only where allowed, or at an end (cut).
        if bad != 0 or t_run < u_run or (extra and not stretch and not edge):
            wrong = True
        inner = stretch and not edge
        if inner and t_run >= 3:
            strong = True
        n_stretch += stretch
        n_inner += inner
        if k == 0:
            s0, e0, take0, first_run = t_start, t_end, stretch, u_run
        if k == length - 1:
            s1, e1, take1, last_run = t_start, t_end, stretch, u_run
    # One doubled letter inside a word is a real word ("cook" is no "cok").
    good = not wrong and (n_inner == 0 or strong or n_stretch >= 2)
    # Whole runs where stretched, else cut to the pattern's run length.
    s = s0 if take0 else e0 - first_run + 1
    e = e1 + 1 if take1 else s1 + last_run
    if length == 1 and not take0:  # one character: its run from the text's start
        s = s0
        e = s0 + first_run
    if (allowed & SKIPS) == 0 and (
        count_lt(f.skipped, f.n_skipped, e) != count_lt(f.skipped, f.n_skipped, s)
    ):
        good = False  # skip characters dropped inside, and the list allows none
    out_s[0] = s
    out_e[0] = e
    return good


def accept(
    const int64_t[::1] pid,
    const int64_t[::1] fs,
    const int64_t[::1] fe,
    # the text's fold (evasion.Folded)
    const int32_t[::1] shift_at,
    const int32_t[::1] shift,
    const int32_t[::1] run_at,
    const int32_t[::1] run_end,
    const int32_t[::1] via_at,
    const uint8_t[::1] via,
    const uint32_t[::1] via_rep,
    const int64_t[::1] skipped,
    # the patterns (matcher.Matcher): per pattern, per entry (user), per folded character
    const int64_t[::1] ptr,
    const int64_t[::1] u_off,
    const uint8_t[::1] u_rules,
    const uint8_t[::1] u_plain,
    const int64_t[::1] u_norm_len,
    const uint8_t[::1] p_via,
    const uint32_t[::1] p_rep,
    const uint32_t[::1] p_cps,
    const int64_t[::1] p_run,
    # Latin terms' word edges: per pattern, per entry, the normalised text's source
    # indexes, the source's code points, and which code points are letters or digits
    const uint8_t[::1] p_latin,
    const int64_t[::1] u_mode,
    const int64_t[::1] pos,
    const uint32_t[::1] src_cps,
    const uint8_t[::1] word,
):
    """(hit, user, start, end) of every (hit, entry) pair that counts: hit ``i`` is
    pattern ``pid[i]`` on folded characters ``[fs[i], fe[i])``; each of the pattern's
    entries (``ptr[p]:ptr[p + 1]``) is checked against its own characters with its own
    list's rules; ``start, end``: the normalised span the pair covers.

    A pair is taken as it is when it is plain (one normalised character per folded one,
    none made by a fold, and a pattern with neither runs nor folds); others are checked
    character by character, and only when the text span is at least as long as the
    pattern's runs (``u_norm_len``; shorter always fails). A Latin pattern's entry
    (``p_latin``) that matches whole words (``u_mode`` 0) needs no letter or digit just
    before and after the span in the source text, one that matches a word's start (1)
    none before; substrings (2) match anywhere."""
    cdef Py_ssize_t n = pid.shape[0], i, u, total = 0, m = 0
    cdef Py_ssize_t n_users = u_off.shape[0], n_pat = p_cps.shape[0]
    cdef int64_t a, b, s, e, hs, he, folded, p0, p1, lo, hi
    # where the searches of the last hit ended (hits come in the order of their end)
    cdef Py_ssize_t h_start = 0, h_end = 0, h_run = -1, h_va = -1, h_vb = -1
    cdef Py_ssize_t n_pos = pos.shape[0], n_src = src_cps.shape[0]
    cdef bint latin, out_of_range = False
    cdef Fold fd
    cdef Pat pt
    if fs.shape[0] != n or fe.shape[0] != n:
        raise ValueError("pid, fs and fe differ in length")
    if shift_at.shape[0] == 0 or shift_at[0] != 0 or shift.shape[0] != shift_at.shape[0]:
        raise ValueError("shift_at must start at 0")
    if run_end.shape[0] != run_at.shape[0]:
        raise ValueError("run_at and run_end differ in length")
    if via.shape[0] != via_at.shape[0] or via_rep.shape[0] != via_at.shape[0]:
        raise ValueError("via_at, via and via_rep differ in length")
    if (u_rules.shape[0] != n_users or u_plain.shape[0] != n_users
            or u_norm_len.shape[0] != n_users):
        raise ValueError("the entry arrays differ in length")
    if p_via.shape[0] != n_pat or p_rep.shape[0] != n_pat or p_run.shape[0] != n_pat:
        raise ValueError("the pattern arrays differ in length")
    if p_latin.shape[0] + 1 != ptr.shape[0] or u_mode.shape[0] != n_users:
        raise ValueError("p_latin or u_mode do not fit the patterns")
    if word.shape[0] < 0x110000:
        raise ValueError("the word table must cover every code point")
    # Every index read below unchecked is checked here: patterns within ptr, entries
    # within the entry arrays, hits non-empty, and each entry's characters within the
    # pattern arrays.
    for i in range(n):
        if pid[i] < 0 or pid[i] + 1 >= ptr.shape[0]:
            raise ValueError("pattern out of range")
        if fs[i] < 0 or fe[i] <= fs[i]:
            raise ValueError("hits must be non-empty")
        if ptr[pid[i]] < 0 or ptr[pid[i] + 1] > n_users or ptr[pid[i] + 1] < ptr[pid[i]]:
            raise ValueError("entries out of range")
        for u in range(ptr[pid[i]], ptr[pid[i] + 1]):
            if u_off[u] < 0 or u_off[u] + (fe[i] - fs[i]) > n_pat:
                raise ValueError("a hit is longer than its pattern")
        total += ptr[pid[i] + 1] - ptr[pid[i]]
    fd.shift_at = &shift_at[0]
    fd.shift = &shift[0]
    fd.n_shift = shift_at.shape[0]
    fd.run_at = &run_at[0] if run_at.shape[0] else NULL
    fd.run_end = &run_end[0] if run_end.shape[0] else NULL
    fd.n_run = run_at.shape[0]
    fd.via_at = &via_at[0] if via_at.shape[0] else NULL
    fd.via = &via[0] if via.shape[0] else NULL
    fd.via_rep = &via_rep[0] if via_rep.shape[0] else NULL
    fd.n_via = via_at.shape[0]
    fd.skipped = &skipped[0] if skipped.shape[0] else NULL
    fd.n_skipped = skipped.shape[0]
    pt.via = &p_via[0] if n_pat else NULL
    pt.rep = &p_rep[0] if n_pat else NULL
    pt.cps = &p_cps[0] if n_pat else NULL
    pt.run = &p_run[0] if n_pat else NULL
    hit = np.empty(total, dtype=np.int64)
    user = np.empty(total, dtype=np.int64)
    start = np.empty(total, dtype=np.int64)
    end = np.empty(total, dtype=np.int64)
    cdef int64_t[::1] hv = hit
    cdef int64_t[::1] uv = user
    cdef int64_t[::1] sv = start
    cdef int64_t[::1] ev = end
    with nogil:
        for i in range(n):
            latin = p_latin[pid[i]]
            a = fs[i]
            b = fe[i]
            hs = start_of(&fd, a, &h_start)
            he = end_of(&fd, b - 1, start_of(&fd, b - 1, &h_end), &h_run) + 1
            h_vb = last_le(fd.via_at, fd.n_via, b - 1, h_vb)
            h_va = last_le(fd.via_at, fd.n_via, a - 1, h_va)
            folded = h_vb - h_va
            for u in range(ptr[pid[i]], ptr[pid[i] + 1]):
                if he - hs == b - a and folded == 0 and u_plain[u]:
                    s, e = hs, he
                elif he - hs >= u_norm_len[u]:
                    if not check_pair(&fd, &pt, a, b, u_off[u], u_rules[u], &s, &e,
                                      h_start, h_run, h_va):
                        continue
                else:
                    continue
                if latin and u_mode[u] != 2:
                    if s < 0 or e > n_pos or e <= s:
                        out_of_range = True
                        break
                    # min/max: text shown reversed by a bidi override runs backwards in
                    # the source
                    p0 = pos[s]
                    p1 = pos[e - 1]
                    lo = p0 if p0 < p1 else p1
                    hi = p1 if p0 < p1 else p0
                    if 0 < lo <= n_src and is_word(word, src_cps[lo - 1]):
                        continue  # a letter or digit just before
                    if u_mode[u] == 0 and 0 <= hi + 1 < n_src and is_word(word, src_cps[hi + 1]):
                        continue  # and just after, for a whole word
                hv[m] = i
                uv[m] = u
                sv[m] = s
                ev[m] = e
                m += 1
            if out_of_range:
                break
    if out_of_range:
        raise ValueError("a span is outside the normalised text")
    return hit[:m], user[:m], start[:m], end[:m]
