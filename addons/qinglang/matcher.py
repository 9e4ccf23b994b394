"""One Aho-Corasick pass for terms, exceptions and combination parts, then the rules.

The automaton runs over normalised text with overlapping Standard matching (a
rejected hit must not hide an accepted one, ENGINE-NOTES.md). Each raw hit is then
checked against its pattern's rules, vectorised with numpy because a page can
produce many more raw hits than real ones:

- Latin terms: whole words (``word``), a word start (``prefix``) or anywhere
  (``substring``); the characters beside the hit in the source text decide.
- A gap of whitespace or "." inside a Latin hit is accepted only where the term
  itself has a word break, or between single letters (``p o r n``), so that
  ``an Al Jazeera`` never contains ``anal``.
- An exception phrase cancels every term or part hit it overlaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from ahocorasick_rs import AhoCorasick, MatchKind

from .lists import ListSet, Pattern
from .normalize import HARD_GAP_CHARS, Normalized, tables

KIND_TERM, KIND_EXCEPTION, KIND_PART = 0, 1, 2
_MODES = {"word": 0, "prefix": 1, "substring": 2}


class Hit(NamedTuple):
    """A term hit that counts, in normalised coordinates ``[start, end)``."""

    term: int  # index into ListSet.terms
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Found:
    hits: list[Hit]
    parts: set[tuple[int, int]]  # (combination index, part index) seen


class Matcher:
    """Built once per list set; ``find`` is pure and thread-safe."""

    def __init__(self, lists: ListSet) -> None:
        self.lists = lists
        index: dict[str, int] = {}
        users: list[list[tuple[int, int, int, int]]] = []  # (kind, id, sub, mode)
        breaks: list[frozenset[int]] = []
        latin: list[bool] = []

        def add(p: Pattern, kind: int, ident: int, sub: int) -> None:
            i = index.get(p.norm)
            if i is None:
                i = index[p.norm] = len(users)
                users.append([])
                breaks.append(p.breaks)
                latin.append(p.latin)
            elif p.breaks and not breaks[i]:
                breaks[i] = p.breaks
            users[i].append((kind, ident, sub, _MODES[p.match]))

        for t_id, t in enumerate(lists.terms):
            add(t.pattern, KIND_TERM, t_id, 0)
        for e_id, e in enumerate(lists.exceptions):
            add(e.pattern, KIND_EXCEPTION, e_id, 0)
        for c_id, c in enumerate(lists.combinations):
            for p_id, p in enumerate(c.parts):
                add(p, KIND_PART, c_id, p_id)

        self._patterns = list(index)
        self._users = users
        self._breaks = breaks
        self._latin = np.array(latin, dtype=bool)
        self._ac = AhoCorasick(self._patterns, matchkind=MatchKind.Standard) if users else None

    @property
    def pattern_count(self) -> int:
        return len(self._patterns)

    def find(self, norm: Normalized) -> Found:
        if self._ac is None or not norm.text:
            return Found([], set())
        raw = self._ac.find_matches_as_indexes(norm.text, overlapping=True)
        if not raw:
            return Found([], set())
        arr = np.array(raw, dtype=np.int64)
        pid, s, e = arr[:, 0], arr[:, 1], arr[:, 2]
        ok = np.ones((3, len(arr)), dtype=bool)  # validity per mode: word, prefix, substring
        latin = self._latin[pid]
        if latin.any():
            self._check_latin(norm, pid, s, e, latin, ok)

        exc_spans: list[tuple[int, int]] = []
        cand: list[tuple[int, int, int, int, int]] = []  # kind, id, sub, s, e
        for k in np.flatnonzero(ok[2]):
            p, hs, he = int(pid[k]), int(s[k]), int(e[k])
            for kind, ident, sub, mode in self._users[p]:
                if not ok[mode, k]:
                    continue
                if kind == KIND_EXCEPTION:
                    exc_spans.append((hs, he))
                else:
                    cand.append((kind, ident, sub, hs, he))

        cancel = _overlap_test(exc_spans)
        hits: list[Hit] = []
        parts: set[tuple[int, int]] = set()
        for kind, ident, sub, hs, he in cand:
            if cancel(hs, he):
                continue
            if kind == KIND_TERM:
                hits.append(Hit(ident, hs, he))
            else:
                parts.add((ident, sub))
        hits.sort(key=lambda h: (h.start, h.end))
        return Found(hits, parts)

    def _check_latin(
        self,
        norm: Normalized,
        pid: np.ndarray,
        s: np.ndarray,
        e: np.ndarray,
        latin: np.ndarray,
        ok: np.ndarray,
    ) -> None:
        _, _, word = tables()
        src = norm.source
        n_src = len(src)
        idx = np.flatnonzero(latin)
        first = norm.pos[s[idx]]
        last = norm.pos[e[idx] - 1]

        def word_at(where: np.ndarray) -> np.ndarray:
            inside = (where >= 0) & (where < n_src)
            out = np.zeros(len(where), dtype=bool)
            if inside.any():
                chars = np.array([ord(src[i]) for i in where[inside]], dtype=np.int64)
                out[inside] = word[chars]
            return out

        left_ok = ~word_at(first - 1)
        right_ok = ~word_at(last + 1)
        # A hit whose source span is longer than its normalised length skipped noise.
        gappy = (last - first) != (e[idx] - s[idx] - 1)
        gap_ok = np.ones(len(idx), dtype=bool)
        for j in np.flatnonzero(gappy):
            k = idx[j]
            gap_ok[j] = self._gaps_ok(norm, int(pid[k]), int(s[k]), int(e[k]))
        ok[0, idx] = left_ok & right_ok & gap_ok
        ok[1, idx] = left_ok & gap_ok
        ok[2, idx] = gap_ok

    def _gaps_ok(self, norm: Normalized, p: int, s: int, e: int) -> bool:
        pos = norm.pos
        src = norm.source
        hard: list[int] = []  # relative positions preceded by a word gap
        for i in range(s + 1, e):
            a, b = int(pos[i - 1]), int(pos[i])
            if b - a > 1 and any(c.isspace() or c in HARD_GAP_CHARS for c in src[a + 1 : b]):
                hard.append(i - s)
        if not hard:
            return True
        breaks = self._breaks[p]
        cuts = [0, *hard, e - s]
        for j, g in enumerate(hard, start=1):
            if g in breaks:
                continue
            # Letter-spaced evasion: the pieces on both sides are single characters.
            if cuts[j] - cuts[j - 1] != 1 or cuts[j + 1] - cuts[j] != 1:
                return False
        return True


def _overlap_test(spans: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
    """A function telling whether ``[s, e)`` overlaps any of ``spans``."""
    if not spans:
        return lambda s, e: False
    spans.sort()
    starts = np.array([a for a, _ in spans], dtype=np.int64)
    max_end = np.maximum.accumulate(np.array([b for _, b in spans], dtype=np.int64))

    def overlaps(s: int, e: int) -> bool:
        k = int(np.searchsorted(starts, e, side="left"))
        return k > 0 and int(max_end[k - 1]) > s

    return overlaps
