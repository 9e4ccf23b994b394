"""The hit checks of ``Matcher.find`` as numpy array operations: what the matcher did
before they were compiled (``engine/_verify.pyx``), kept as the reference of a
differential test (``tests/test_verify_compiled.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from qinglang.engine.evasion import REPEATS, SKIPS, Folded
from qinglang.engine.normalize import Normalized, tables


def accept(
    m: Any, f: Folded, norm: Normalized, pid: np.ndarray, fs: np.ndarray, fe: np.ndarray
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
    hit, user, s, e = hit[plain], user[plain], s[plain], e[plain]
    latin = m._latin[pid[hit]]
    if latin.any():
        mode = m._u_mode[user]
        idx = np.flatnonzero(latin & (mode != 2))
        left_ok, right_ok = check_latin(norm, s[idx], e[idx])
        valid = np.ones(len(hit), dtype=bool)
        valid[idx] = left_ok & ((mode[idx] == 1) | right_ok)
        hit, user, s, e = hit[valid], user[valid], s[valid], e[valid]
    return hit, user, s, e


def check_latin(norm: Normalized, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left_ok, right_ok): no letter or digit just before / after each span."""
    _, _, word = tables()
    cps = norm.cps
    n_src = len(cps)
    p0, p1 = norm.pos[s], norm.pos[e - 1]
    first, last = np.minimum(p0, p1), np.maximum(p0, p1)

    def word_at(where: np.ndarray) -> np.ndarray:
        inside = (where >= 0) & (where < n_src)
        out = np.zeros(len(where), dtype=bool)
        out[inside] = word[cps[where[inside]]]
        return out

    return ~word_at(first - 1), ~word_at(last + 1)


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
