"""Evasion folding: leet, repeated letters, look-alike letters, skip characters, numerals.

The matcher searches a *folded* form of the normalised text, and list terms are folded
the same way; each hit is then verified against the term's own characters, so a fold
only ever adds the matches its list allows (docs/matching.md, "Evasions"):

- **Repeats**: a run of one character is folded to one character and remembers its
  length. A hit counts if every run of the text is at least as long as the term's
  (``ass`` never matches ``as``), and where the text has more (``fuuuuck``), that is a
  run of three or more, a doubled letter at the term's first or last letter
  (``sexx``, ``fFuck``), or doubled letters in two places: one doubled letter inside a
  word (``cook`` against a term ``cok``) is a real word, not an evasion.
- **Leet**: digits and ``$ @ !`` read as letters only inside a word that mixes letters
  with them and is mostly letters (``p0rn``, ``a$$``), never in ``2000``, ``4x4``,
  ``h264``, ``$100`` or a hex hash.
- **Look-alikes**: letters of another script (Cyrillic ``р``, Greek ``ο``) read as the
  Latin letter they are confusable with (Unicode's TR39 confusables data, from the
  ``confusable_homoglyphs`` package) only inside a word that also has Latin letters;
  Latin letters with marks or hooks (``é``, ``ẗ``, ``ƈ``) read as their base letter.
- **Skip characters**: brackets, hearts, ``@`` and emoji standing alone between other
  characters (``傻@冒``, ``赌🎲博``, ``al[]l``) are dropped.
- **Numerals**: Chinese numerals read as digits (``下三滥`` and ``下3滥`` are one word)
  for lists with ``numerals: true``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
from confusable_homoglyphs import confusables as _tr39

import qinglang.engine._evasion as _evasion
from qinglang.engine.normalize import MAX_CP, tables
from qinglang.engine.normalize import build_tables as _build_normalize

# Rule bits of a list (and of the ``via`` array of the fold: leet, look-alike, numeral).
LEET, CONFUSABLES, NUMERALS, REPEATS, SKIPS = 1, 2, 4, 8, 16
RULES = {"leet": LEET, "repeats": REPEATS, "confusables": CONFUSABLES, "skips": SKIPS}
DEFAULT_RULES = LEET | CONFUSABLES | REPEATS | SKIPS  # numerals are per list, off by default

# Bits of the fold table; _evasion.pyx's enum reads the same ones.
_ASCII, _DIGIT, _LEETD, _LEETS = 1 << 21, 1 << 22, 1 << 23, 1 << 24
_CONF, _LATX, _NUM, _SKIP, _LETTER, _HEX = 1 << 25, 1 << 26, 1 << 27, 1 << 28, 1 << 29, 1 << 30

# What leet writers use for a letter (a convention, not Unicode data): one letter each.
LEET_DIGITS = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"}
LEET_SYMBOLS = {"$": "s", "@": "a", "!": "i"}
# Characters used to split a word that are not noise to the normaliser (they matter
# elsewhere: "@" in e-mail addresses, brackets in numbers). Emoji are added by range.
SKIP_CHARS = "@[]【】〖〗「」『』〔〕［］♥♡❤★☆"
_EMOJI = ((0x1F000, 0x1FB00), (0x2600, 0x27C0), (0x2B00, 0x2C00))
# Chinese numerals, financial forms included (after traditional -> simplified).
NUMERALS_ZH = {
    "〇": "0",
    "零": "0",
    "一": "1",
    "壹": "1",
    "二": "2",
    "贰": "2",
    "两": "2",
    "三": "3",
    "叁": "3",
    "四": "4",
    "肆": "4",
    "五": "5",
    "伍": "5",
    "六": "6",
    "陆": "6",
    "七": "7",
    "柒": "7",
    "八": "8",
    "捌": "8",
    "九": "9",
    "玖": "9",
}


def _latin_base(ch: str) -> str | None:
    """The a-z letter a Latin letter is written on (é, ẗ: marks removed; ƈ, ɦ: the
    letter its Unicode name is "with" a hook on), or None."""
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    if len(base) == 1 and "a" <= base <= "z":
        return base
    name = unicodedata.name(ch, "")
    words = name.split()
    latin = len(words) >= 4 and words[:3] == ["LATIN", "SMALL", "LETTER"]
    if latin and len(words[3]) == 1 and (len(words) == 4 or words[4] == "WITH"):
        return words[3].lower()
    return None


def _lookalike(ch: str) -> str | None:
    """The a-z letter TR39 says ``ch`` (a letter of another script) is confusable with."""
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    for cand in dict.fromkeys((ch, base)):
        for entry in _tr39.confusables_data.get(cand, ()):
            target = entry["c"].lower()
            if len(target) == 1 and "a" <= target <= "z":
                return target
    return None


# Switches for the whole engine (the benchmark measures each rule's cost with them, the
# benign-corpus test compares with all of them off); lists switch rules per file.
SWITCHES = ("leet", "repeats", "confusables", "skips", "numerals", "phrases", "fold")


def build_tables() -> None:
    """Build every table a scan reads (normalisation's and the fold's), e.g. in the proxy
    before it forks its scan workers, which then share them."""
    _build_normalize()
    fold_table()


@cache
def fold_table(off: frozenset[str] = frozenset()) -> np.ndarray:
    """``_fold_table`` with the kinds of the rules in ``off`` cleared."""
    if not off:
        return _fold_table()
    table = _fold_table().copy()
    own = np.arange(MAX_CP, dtype=np.uint32)
    kinds = {
        "leet": _LEETD | _LEETS,
        "confusables": _CONF | _LATX,
        "skips": _SKIP,
        "numerals": _NUM,
    }
    for name in off:
        bits = np.uint32(kinds.get(name, 0))
        hit = (table & bits) != 0
        table[hit] &= ~bits
        if name != "skips":  # the character stands for itself again
            table[hit] = (table[hit] & ~np.uint32(0x1FFFFF)) | own[hit]
        if name == "confusables":
            table[hit] |= np.uint32(_LETTER)
    return table


@cache
def _fold_table() -> np.ndarray:
    """Per code point of normalised text: its fold target (low 21 bits) and kind bits."""
    canon, noise, _ = tables()
    table = np.arange(MAX_CP, dtype=np.uint32)
    for c in range(ord("a"), ord("z") + 1):
        table[c] |= _ASCII | (_HEX if c <= ord("f") else 0)
    for d in "0123456789":
        table[ord(d)] |= _DIGIT
    for d, letter in LEET_DIGITS.items():
        table[ord(d)] = ord(letter) | _DIGIT | _LEETD
    for s, letter in LEET_SYMBOLS.items():
        table[ord(s)] = ord(letter) | _LEETS
    # Only characters the normaliser keeps as they are can reach the fold.
    for cp in range(0x80, 0x2E80):
        if canon[cp] != cp or noise[cp]:
            continue
        ch = chr(cp)
        if not ch.isalpha():
            continue
        if unicodedata.name(ch, "").startswith("LATIN"):
            base = _latin_base(ch)
            table[cp] = (ord(base) | _LATX) if base else (cp | _LETTER)
            continue
        look = _lookalike(ch)
        table[cp] = (ord(look) | _CONF) if look else (cp | _LETTER)
    for ch in SKIP_CHARS:
        table[canon[ord(ch)]] |= _SKIP
    for lo, hi in _EMOJI:
        for cp in range(lo, hi):
            if unicodedata.category(chr(cp)) == "So":
                table[cp] |= _SKIP
    for zh, digit in NUMERALS_ZH.items():
        table[canon[ord(zh)]] = ord(digit) | _NUM
    return table


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text: folded character ``k`` stands for the normalised characters
    ``start_of(k) .. end_of(k)`` (a run of one repeated character). Only the characters
    that are not one plain character each are recorded (``_evasion.fold_text``)."""

    utf8: bytes  # the folded text, as the automaton searches it
    length: int  # its length in characters
    shift_at: np.ndarray  # int32, sorted; shift[j] applies from folded index shift_at[j]
    shift: np.ndarray  # int32: start_of(k) - k
    run_at: np.ndarray  # int32, sorted folded indexes of runs of two or more
    run_end: np.ndarray  # int32, last normalised index of each of those runs
    via_at: np.ndarray  # int32, sorted folded indexes made by leet, look-alike, numeral
    via: np.ndarray  # uint8: LEET | CONFUSABLES | NUMERALS bits that made each of them
    via_rep: np.ndarray  # uint32, the normalised character at start_of(k) for each
    skipped: np.ndarray  # int64, sorted indexes of the skip characters dropped

    @property
    def text(self) -> str:
        return self.utf8.decode("utf-8", "surrogatepass")

    def start_of(self, k: np.ndarray) -> np.ndarray:
        """Normalised index of the first character each folded character stands for."""
        j = np.searchsorted(self.shift_at, k, side="right") - 1
        return k + self.shift[j]

    def end_of(self, k: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Normalised index of the last character (``start``: ``start_of(k)``)."""
        found, end = self._lookup(self.run_at, self.run_end, k)
        return np.where(found, end, start)

    def via_of(self, k: np.ndarray) -> np.ndarray:
        """The ``via`` bits of each folded character (0: written as it reads)."""
        found, via = self._lookup(self.via_at, self.via, k)
        return np.where(found, via, np.uint8(0))

    def rep_of(self, k: np.ndarray, cps: np.ndarray) -> np.ndarray:
        """The normalised character each folded character starts with, given their
        folded code points ``cps`` (what was written where no fold made them)."""
        found, rep = self._lookup(self.via_at, self.via_rep, k)
        return np.where(found, rep, cps)

    @staticmethod
    def _lookup(at: np.ndarray, values: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found, value): whether each ``k`` is in the sorted ``at``, and its value."""
        if not len(at):
            return np.zeros(len(k), dtype=bool), np.zeros(len(k), dtype=values.dtype)
        j = np.minimum(np.searchsorted(at, k), len(at) - 1)
        return at[j] == k, values[j]

    def spans(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, end, folded) of the folded spans [a, b) (non-empty): the normalised
        span [start, end) each stands for and ``folded_in(a, b)``, in one compiled pass
        (the same as ``start_of``, ``end_of`` and ``folded_in``, faster for hits)."""
        return _evasion.hit_spans(
            np.ascontiguousarray(a, dtype=np.int64),
            np.ascontiguousarray(b, dtype=np.int64),
            self.shift_at,
            self.shift,
            self.run_at,
            self.run_end,
            self.via_at,
        )

    def folded_in(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """How many characters made by leet, look-alike or numeral folding are in each
        folded span [a, b)."""
        return np.searchsorted(self.via_at, b) - np.searchsorted(self.via_at, a)

    def skipped_in(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """How many skip characters were dropped in each normalised span [a, b)."""
        return np.searchsorted(self.skipped, b) - np.searchsorted(self.skipped, a)

    def arrays(self) -> FoldArrays:
        """Every folded character's code point, span, via and what was written."""
        cps = np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        k = np.arange(self.length, dtype=np.int64)
        start = self.start_of(k)
        return FoldArrays(cps, start, self.end_of(k, start), self.via_of(k), self.rep_of(k, cps))


@dataclass(frozen=True, slots=True)
class FoldArrays:
    """A fold as one array per field, each as long as the folded text (for list terms,
    and for tests)."""

    cps: np.ndarray  # uint32, the folded code points
    start: np.ndarray  # int64, first normalised index of each
    end: np.ndarray  # int64, last normalised index (inclusive)
    via: np.ndarray  # uint8
    rep: np.ndarray  # uint32, the normalised character at start

    @property
    def runs(self) -> np.ndarray:
        return self.end - self.start + 1


def fold(text: str, off: frozenset[str] = frozenset()) -> Folded:
    if "fold" in off:
        return _identity(text)
    collapse = "repeats" not in off
    return Folded(*_evasion.fold_text(text, fold_table(off), collapse))


def _identity(text: str) -> Folded:
    """No fold at all: every character stands for itself (the benchmark's baseline)."""
    none = np.zeros(0, dtype=np.int32)
    return Folded(
        text.encode("utf-8", "surrogatepass"),
        len(text),
        np.zeros(1, dtype=np.int32),
        np.zeros(1, dtype=np.int32),
        none,
        none,
        none,
        np.zeros(0, dtype=np.uint8),
        np.zeros(0, dtype=np.uint32),
        np.zeros(0, dtype=np.int64),
    )
