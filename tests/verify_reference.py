"""The hit checks of ``Matcher.find`` as numpy array operations: what the matcher did
before they were compiled (``engine/_verify.pyx``), kept as the reference of a
differential test (``tests/test_verify_compiled.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from qinglang.engine.evasion import REPEATS, SKIPS, Folded


def accept(
    m: Any, f: Folded, pid: np.ndarray, fs: np.ndarray, fe: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(hit, user, start, end) of the pairs that count (``_verify.accept``)."""
    first = m._ptr[pid]
    count = m._ptr[pid + 1] - first
    hit = np.repeat(np.arange(len(pid)), count)
    group_start = np.repeat(np.cumsum(count) - count, count)
    user = np.repeat(first, count) + (np.arange(len(hit)) - group_start)
    hs_f, he_f = fs[hit], fe[hit]
    s, e, folded = f.spans(hs_f, he_f)
    plain = (e - s == he_f - hs_f) & (folded == 0) & m._u_plain[user]
    check = np.flatnonzero(~plain & (e - s >= m._u_norm_len[user]))
    if len(check):
        good_c, s_c, e_c = verify(m, f, hs_f[check], he_f[check], user[check])
        s[check], e[check] = s_c, e_c
        plain[check] = good_c
    return hit[plain], user[plain], s[plain], e[plain]


def verify(
    m: Any, f: Folded, fs: np.ndarray, fe: np.ndarray, user: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(good, start, end) of (hit, user) pairs checked character by character."""
    length = fe - fs
    first = np.cumsum(length) - length
    last = first + length - 1
    pair = np.repeat(np.arange(len(fs)), length)
    offs = np.arange(int(length.sum())) - first[pair]
    tpos = fs[pair] + offs
    upos = m._u_off[user][pair] + offs
    rules = m._u_rules[user]
    allowed = rules[pair]
    t_via, u_via = f.via_of(tpos), m._f_via[upos]
    cps = m._f_cps[upos]
    differ = (f.rep_of(tpos, cps) != m._f_rep[upos]).astype(np.uint8)
    bad = ((t_via ^ u_via) | (differ * (t_via | u_via))) & ~allowed & 7
    t_start, t_end, _ = f.spans(tpos, tpos + 1)
    t_end -= 1
    t_run, u_run = t_end - t_start + 1, m._f_run[upos]
    extra = t_run > u_run
    letter = (cps >= 97) & (cps <= 122)
    stretch = extra & letter & ((allowed & REPEATS) != 0)
    edge = (offs == 0) | (offs == length[pair] - 1)
    wrong = (bad != 0) | (t_run < u_run) | (extra & ~stretch & ~edge)
    bad_pair = np.logical_or.reduceat(wrong, first)
    inner = stretch & ~edge
    strong = np.logical_or.reduceat(inner & (t_run >= 3), first)
    n_stretch = np.add.reduceat(stretch.astype(np.int64), first)
    n_inner = np.add.reduceat(inner.astype(np.int64), first)
    good = ~bad_pair & ((n_inner == 0) | strong | (n_stretch >= 2))
    take0, take1 = stretch[first], stretch[last]
    s0, e0, s1, e1 = t_start[first], t_end[first], t_start[last], t_end[last]
    s = np.where(take0, s0, e0 - m._f_run[upos[first]] + 1)
    e = np.where(take1, e1 + 1, s1 + m._f_run[upos[last]])
    one = length == 1
    if one.any():
        e = np.where(one & ~take0, s0 + m._f_run[upos[first]], e)
        s = np.where(one & ~take0, s0, s)
        e = np.where(one & take0, e0 + 1, e)
    no_skips = (rules & SKIPS) == 0
    if no_skips.any():
        dropped = f.skipped_in(s, e)
        good &= ~(no_skips & (dropped > 0))
    return good, s, e
