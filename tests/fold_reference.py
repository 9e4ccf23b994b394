"""The evasion fold as it was before it was made faster (``_evasion.pyx`` at main, 2026-12-06),
transcribed line for line into plain Python: the reference the compiled ``fold_text`` is
checked against (tests/test_fold_differential.py). Slow (a Python loop per character), for
tests only; keep it as it is, it is the definition the compiled code must agree with."""

from __future__ import annotations

import numpy as np

TARGET = 0x1FFFFF
ASCII, DIGIT, LEETD, LEETS = 1 << 21, 1 << 22, 1 << 23, 1 << 24
CONF, LATX, NUM, SKIP, LETTER, HEX = 1 << 25, 1 << 26, 1 << 27, 1 << 28, 1 << 29, 1 << 30
V_LEET, V_CONF, V_NUM = 1, 2, 4
TOKEN = ASCII | DIGIT | LEETD | LEETS | CONF | LATX | LETTER
ALPHA = ASCII | CONF | LATX | LETTER


def fold_text(text: str, table: np.ndarray, collapse: bool = True) -> tuple[object, ...]:
    """Same arguments and results as ``_evasion.fold_text``."""
    tab = table.tolist() if len(text) > 64 else table  # tolist: faster per look-up
    cps = [ord(ch) for ch in text]
    n = len(cps)
    m = 0
    out: list[str] = []
    shift_at, shift = [0], [0]
    run_at: list[int] = []
    run_end: list[int] = []
    via_at: list[int] = []
    via: list[int] = []
    via_rep: list[int] = []
    skipped: list[int] = []
    prev = -1
    last_start = 0

    def put(i: int, c: int, v: int) -> None:
        nonlocal m, prev, last_start
        if collapse and c == prev:
            if run_at and run_at[-1] == m - 1:
                run_end[-1] = i
            else:
                run_at.append(m - 1)
                run_end.append(i)
            if v:
                if via_at and via_at[-1] == m - 1:
                    via[-1] |= v
                else:
                    via_at.append(m - 1)
                    via.append(v)
                    via_rep.append(cps[last_start])
        else:
            if i - m != shift[-1]:
                shift_at.append(m)
                shift.append(i - m)
            if v:
                via_at.append(m)
                via.append(v)
                via_rep.append(cps[i])
            out.append(chr(c))
            last_start = i
            m += 1
            prev = c

    i = 0
    while i < n:
        e = int(tab[cps[i]])
        if e & TOKEN:
            alpha = ascii_n = conf = leetd = leets = digits = 0
            hexonly = True
            first_alpha = (e & ALPHA) != 0
            j = i
            while j < n:
                f = int(tab[cps[j]])
                if not f & TOKEN:
                    break
                if f & ALPHA:
                    alpha += 1
                    if not f & HEX:
                        hexonly = False
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
            leet_ok = leetd + leets > 0 and (
                (
                    alpha >= 2
                    and digits <= alpha
                    and not (hexonly and digits > 0 and tok_end - i >= 6)
                )
                or (alpha == 1 and digits == 0 and first_alpha and tok_end - i >= 3)
            )
            conf_ok = conf > 0 and ascii_n > 0
            splitter = alpha == 0 and leetd == 0 and digits == 0
            while i < tok_end:
                c = cps[i]
                f = int(tab[c])
                v = 0
                if f & (LEETD | LEETS) and leet_ok:
                    side = ASCII | LATX | CONF
                    if c == 0x21 and (
                        i == 0
                        or i + 1 >= tok_end
                        or not int(tab[cps[i - 1]]) & side
                        or not int(tab[cps[i + 1]]) & side
                    ):
                        pass
                    else:
                        c = f & TARGET
                        v = V_LEET
                elif f & CONF and conf_ok:  # noqa: SIM114 (as in the compiled loop)
                    c = f & TARGET
                    v = V_CONF
                elif f & LATX:
                    c = f & TARGET
                    v = V_CONF
                elif f & SKIP and splitter:
                    skipped.append(i)
                    i += 1
                    continue
                put(i, c, v)
                i += 1
            continue
        c = cps[i]
        v = 0
        if e & SKIP:
            skipped.append(i)
            i += 1
            continue
        if e & NUM:
            c = e & TARGET
            v = V_NUM
        put(i, c, v)
        i += 1

    return (
        "".join(out).encode("utf-8", "surrogatepass"),
        m,
        np.array(shift_at, dtype=np.int32),
        np.array(shift, dtype=np.int32),
        np.array(run_at, dtype=np.int32),
        np.array(run_end, dtype=np.int32),
        np.array(via_at, dtype=np.int32),
        np.array(via, dtype=np.uint8),
        np.array(via_rep, dtype=np.uint32),
        np.array(skipped, dtype=np.int64),
    )
