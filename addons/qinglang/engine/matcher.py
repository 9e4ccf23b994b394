"""One Aho-Corasick pass for terms, exceptions and combination parts, then the rules.

The automaton runs over normalised text with overlapping Standard matching (a
rejected hit must not hide an accepted one, ENGINE-NOTES.md). Each raw hit is then
checked against its pattern's rules (the evasion checks in one compiled pass,
``_verify.pyx``; the word and exception checks vectorised with numpy), because a page
can produce many more raw hits than real ones:

- Latin terms: whole words (``word``), a word start (``prefix``) or anywhere
  (``substring``); the characters beside the hit in the source text decide.
- Word gaps between Latin words stay in the normalised text as one space (see
  ``normalize``), so a hit never spans two words unless the term has a space too.
  A multi-word Latin term is also looked for without its spaces, so that
  ``killyourself`` and ``k i l l y o u r s e l f`` match ``kill yourself``.
- An exception phrase cancels every term or part hit it overlaps. It is matched as
  written: ``pen is`` is not looked for written together, or it would cancel
  ``penis``.
- Evasions (``evasion.py``): the automaton searches the folded text and holds folded
  patterns; every hit is verified against its pattern's own characters and run
  lengths, with only the folds its list allows. A run at either end of a hit that is
  longer than the pattern's is cut to the pattern's length (``赌赌博`` holds ``赌博``;
  ``sexx`` holds ``sex`` followed by a letter), unless the list allows repeats and it
  is a letter: then the hit takes the whole run (``fuuuuckkk`` is matched and masked
  whole). Repeats inside a hit count only as a run of three or more, or in two places:
  one doubled letter inside a word is a real word (``cook`` is no ``cok``). Skip
  characters dropped inside a hit count only where the list allows skips.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
from ahocorasick_rs import BytesAhoCorasick, Implementation, MatchKind

import qinglang.engine._verify as _verify
from qinglang.engine._normtext import char_offsets
from qinglang.engine.evasion import fold
from qinglang.engine.lists import ListSet, Pattern
from qinglang.engine.normalize import BOUNDARY, Normalized, tables

KIND_TERM, KIND_EXCEPTION, KIND_PART = 0, 1, 2
# The DFA searches a page about 25% faster than the default automaton but costs about
# 2.6 MB and 7 ms to build per 1,000 patterns: worth it for lists of the usual size only
# (100,000 terms would take 800 MB, ENGINE-NOTES.md).
DFA_MAX_PATTERNS = 10_000
_MODES = {"word": 0, "prefix": 1, "substring": 2}


@dataclass(frozen=True, slots=True)
class Found:
    """Term hits that count, in normalised coordinates ``[start, end)``, sorted by start."""

    term: np.ndarray  # index into ListSet.terms
    start: np.ndarray
    end: np.ndarray
    parts: frozenset[tuple[int, int]]  # (combination index, part index) seen

    def __len__(self) -> int:
        return len(self.term)


def _utf8(text: str) -> bytes:
    # Normalised text holds no lone surrogates (they are noise), list terms neither; the
    # error handler only keeps a stray one from raising.
    return text.encode("utf-8", "surrogatepass")


_EMPTY = np.zeros(0, dtype=np.int64)
NOTHING = Found(_EMPTY, _EMPTY, _EMPTY, frozenset())


class Matcher:
    """Built once per list set; ``find`` is pure and thread-safe."""

    def __init__(self, lists: ListSet, off: frozenset[str] = frozenset()) -> None:
        """``off``: evasion rules switched off for every list (``evasion.SWITCHES``)."""
        self.lists = lists
        self.off = off
        # (pattern, kind, id, sub, mode, cancellable, rules, normalised form)
        entries: list[tuple[Pattern, int, int, int, int, int, int, str]] = []

        def add(p: Pattern, kind: int, ident: int, sub: int, cancellable: bool) -> None:
            forms = [p.norm]
            if kind != KIND_EXCEPTION and p.latin and " " in p.norm:
                forms.append(p.norm.replace(" ", ""))
            for form in forms:
                entries.append(
                    (p, kind, ident, sub, _MODES[p.match], int(cancellable), p.rules, form)
                )

        for t_id, t in enumerate(lists.terms):
            add(t.pattern, KIND_TERM, t_id, 0, t.weight > 0)
        for e_id, e in enumerate(lists.exceptions):
            add(e.pattern, KIND_EXCEPTION, e_id, 0, False)
        for c_id, c in enumerate(lists.combinations):
            for p_id, p in enumerate(c.parts):
                add(p, KIND_PART, c_id, p_id, c.weight > 0)

        # Fold every form in one call; each folded character keeps what was written
        # (rep), how it was folded (via) and its run length, for the verification.
        folded = fold(BOUNDARY.join(e[7] for e in entries), off) if entries else None
        ft = folded.arrays() if folded else None
        cut = np.flatnonzero(ft.cps == ord(BOUNDARY)) if ft else _EMPTY
        f_starts = np.concatenate(([0], cut + 1)).astype(np.int64)
        f_ends = np.concatenate((cut, [len(ft.cps) if ft else 0])).astype(np.int64)
        ft_text = folded.text if folded else ""
        index: dict[str, int] = {}
        # (kind, id, sub, mode, cancellable, rules, offset into the folded forms):
        # exceptions cancel harmful hits only, never context (negative weights), or
        # "problem gambling" would lose its -40.
        users: list[list[tuple[int, int, int, int, int, int, int]]] = []
        latin: list[bool] = []
        for k, (p, kind, ident, sub, mode, cancellable, rules, _) in enumerate(entries):
            a, b = int(f_starts[k]), int(f_ends[k])
            if a == b or ft is None:
                continue  # folds to nothing (only skip characters): it can never match
            form = ft_text[a:b]
            i = index.get(form)
            if i is None:
                i = index[form] = len(users)
                users.append([])
                latin.append(p.latin)
            users[i].append((kind, ident, sub, mode, cancellable, rules, a))

        self._patterns = list(index)
        # Users of each pattern as flat arrays (CSR): pattern p owns ptr[p]:ptr[p+1].
        flat = [u for us in users for u in us]
        self._ptr = np.concatenate(([0], np.cumsum([len(us) for us in users]))).astype(np.int64)
        table = np.array(flat, dtype=np.int64).reshape(-1, 7)
        self._u_kind, self._u_id, self._u_sub, self._u_mode = (
            np.ascontiguousarray(table[:, i]) for i in range(4)
        )
        self._u_cancellable = table[:, 4].astype(bool)
        self._u_rules = table[:, 5].astype(np.uint8)
        self._u_off = np.ascontiguousarray(table[:, 6])
        self._f_rep = ft.rep if ft else np.zeros(0, dtype=np.uint32)
        # A hit's folded characters are its pattern's: the text's are read from here.
        self._f_cps = ft.cps if ft else np.zeros(0, dtype=np.uint32)
        self._f_via = ft.via if ft else np.zeros(0, dtype=np.uint8)
        self._f_run = ft.runs if ft else _EMPTY
        # Users whose pattern folded to itself (no runs, no leet, look-alike or numeral):
        # on a text span just as plain, their hits need no check per character.
        plain_char = (self._f_run == 1) & (self._f_via == 0)
        plain_cum = np.concatenate(([0], np.cumsum(~plain_char)))
        f_len = np.array([len(p) for p in self._patterns], dtype=np.int64)
        u_len = np.repeat(f_len, np.diff(self._ptr))
        self._u_plain = plain_cum[self._u_off + u_len] == plain_cum[self._u_off]
        # Normalised length of each user's pattern (the sum of its runs): a text span
        # shorter than that has a run shorter than the pattern's somewhere, which
        # ``_verify`` always rejects ("also" is never "all" folded to "al").
        run_cum = np.concatenate(([0], np.cumsum(self._f_run)))
        self._u_norm_len = run_cum[self._u_off + u_len] - run_cum[self._u_off]
        self._latin = np.array(latin, dtype=bool)
        impl = Implementation.DFA if len(self._patterns) <= DFA_MAX_PATTERNS else None
        # Searched as UTF-8 bytes: the str search converts every hit's offsets through a
        # byte-to-character table it builds over the whole text per call (8 bytes per
        # byte of text, ENGINE-NOTES.md); counting characters up to the hits alone is
        # 30-50 us less per 100 KB page, and a 10 MB page needs no table of 80 MB.
        self._ac = (
            BytesAhoCorasick(
                [_utf8(p) for p in self._patterns],
                matchkind=MatchKind.Standard,
                implementation=impl,
            )
            if users
            else None
        )

    @property
    def pattern_count(self) -> int:
        return len(self._patterns)

    def find(self, norm: Normalized) -> Found:
        if self._ac is None or not norm.text:
            return NOTHING
        f = fold(norm.text, self.off)
        text = f.utf8
        raw = self._ac.find_matches_as_indexes(text, overlapping=True)
        if not raw:
            return NOTHING
        arr = np.fromiter(chain.from_iterable(raw), dtype=np.int64, count=3 * len(raw))
        arr = arr.reshape(-1, 3)
        pid = arr[:, 0]
        spans = arr[:, 1:].copy()  # (start, end) pairs, contiguous
        if len(text) != f.length:  # not ASCII: byte offsets to characters
            char_offsets(text, spans.reshape(-1))
        # Every hit expanded to the entries (users) of its pattern, each checked against
        # its own characters (plain pairs taken as they are): the pairs that count, with
        # their spans in normalised coordinates (``_verify.pyx``).
        _, user, s, e = _verify.accept(
            np.ascontiguousarray(pid),
            np.ascontiguousarray(spans[:, 0]),
            np.ascontiguousarray(spans[:, 1]),
            f.shift_at,
            f.shift,
            f.run_at,
            f.run_end,
            f.via_at,
            f.via,
            f.via_rep,
            f.skipped,
            self._ptr,
            self._u_off,
            self._u_rules,
            self._u_plain.view(np.uint8),
            self._u_norm_len,
            self._f_via,
            self._f_rep,
            self._f_cps,
            self._f_run,
            self._latin.view(np.uint8),
            self._u_mode,
            norm.pos,
            norm.cps,
            tables()[2].view(np.uint8),
        )
        kind = self._u_kind[user]
        hs, he = s, e

        # An exception cancels every term or part hit it overlaps.
        is_exc = kind == KIND_EXCEPTION
        keep = ~is_exc
        if is_exc.any():
            order = np.argsort(hs[is_exc], kind="stable")
            ex_s, ex_e = hs[is_exc][order], he[is_exc][order]
            max_end = np.maximum.accumulate(ex_e)
            k = np.searchsorted(ex_s, he, side="left")
            cancelled = (k > 0) & (max_end[np.maximum(k - 1, 0)] > hs) & self._u_cancellable[user]
            keep &= ~cancelled

        is_term = keep & (kind == KIND_TERM)
        is_part = keep & (kind == KIND_PART)
        parts = frozenset(
            zip(
                self._u_id[user[is_part]].tolist(), self._u_sub[user[is_part]].tolist(), strict=True
            )
        )
        t_id, t_s, t_e = self._u_id[user[is_term]], hs[is_term], he[is_term]
        order = np.lexsort((t_e, t_s))
        return Found(t_id[order], t_s[order], t_e[order], parts)
