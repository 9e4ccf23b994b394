"""Normalisation of scan text with a map back to the original characters.

One code-point table does case folding, NFKC reduced to one character, number and
letter styles (①, ⒈, ❶, Ⓐ) and character-level traditional to simplified Chinese.
Noise characters (spaces, ``*``, ``_``, ``.``, zero-width …) are then dropped while
``pos`` keeps, for every normalised character, the index of the character it came
from. ENGINE-NOTES.md measured the table at about four times the speed of
``unicodedata.normalize`` + ``str.translate`` and a per-character Python loop; that
speed is why the table exists instead of calling those per page. The tables are
built here; ``_normtext.pyx`` applies them in one compiled pass over the characters.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import zhconv_rs

from qinglang.engine import _normtext

MAX_CP = 0x110000

# Characters ignored inside a term. Whitespace and "." also separate real words,
# so the matcher treats gaps made of them specially for Latin terms (HARD_GAP).
NOISE_CHARS = "*_.-|~·•+/\\^`#=・‧∙⋅"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u034f"
# Invisible on screen, so noise inside a word: bidi marks, embeddings, overrides and
# isolates, invisible operators, tag characters, variation selectors, Mongolian
# variation selectors and the Hangul fillers.
INVISIBLE_RANGES = (
    (0x200E, 0x2010),
    (0x202A, 0x202F),
    (0x2061, 0x2065),
    (0x2066, 0x206A),
    (0x061C, 0x061D),
    (0xE0000, 0xE0080),
    (0xFE00, 0xFE10),
    (0xE0100, 0xE01F0),
    (0x180B, 0x1810),
    (0x115F, 0x1161),
    (0x3164, 0x3165),
    (0xFFA0, 0xFFA1),
)
# A right-to-left override shows the letters after it in reverse order up to a pop
# (PDF), the end of the paragraph or of the text.
RLO, LRO, PDF, RLE, LRE = "\u202e", "\u202d", "\u202c", "\u202b", "\u202a"
HARD_GAP_CHARS = "."

# Separates text that must never be joined into one word (two HTML blocks, two
# JSON strings). It is not noise and not a word character.
BOUNDARY = "\x1e"

# First code point of the CJK blocks: below it, letters and digits form words
# that the whole-word rule applies to.
CJK_START = 0x2E80

_CJK_RANGES = (
    (0x3400, 0x4DC0),
    (0x4E00, 0xA000),
    (0x20000, 0x2A6E0),
    (0x2A700, 0x2EBF0),
)


def _single(ch: str) -> str | None:
    """Reduce one character to one canonical character, or None to keep it."""
    nf = unicodedata.normalize("NFKC", ch)
    if len(nf) != 1:
        # ⑴ -> "(1)", ⒈ -> "1.": keep the single letter or digit they stand for.
        alnum = [c for c in nf if c.isalnum()]
        if len(alnum) != 1:
            return None
        nf = alnum[0]
    low = nf.lower()
    if len(low) != 1:
        return None
    return low


@cache
def tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(canon, noise, word): code point -> canonical code point, is noise, is a word char.

    Built once per process (about half a second); forked scan workers inherit it.
    """
    canon = np.arange(MAX_CP, dtype=np.uint32)
    # Only these ranges contain characters that NFKC or lower() change.
    for lo, hi in ((0x41, 0x3400), (0xA000, 0x10000), (0x10000, 0x20000), (0x2F800, 0x2FA20)):
        for cp in range(lo, hi):
            if 0xD800 <= cp < 0xE000:
                continue
            ch = chr(cp)
            s = _single(ch)
            if s is not None and s != ch:
                canon[cp] = ord(s)
    # ❶..❿, ⓿ and similar digit symbols (category No) have no NFKC form but a digit
    # value. Digits of other scripts (category Nd) stay theirs.
    for cp in range(0x80, 0x20000):
        ch = chr(cp)
        if canon[cp] == cp and unicodedata.category(ch) == "No":
            d = unicodedata.digit(ch, None)
            if d is not None:
                canon[cp] = ord(str(d))

    # Traditional -> simplified, one character at a time, so offsets stay valid.
    chars: list[str] = []
    for lo, hi in _CJK_RANGES:
        chars.extend(chr(cp) for cp in range(lo, hi))
    converted = zhconv_rs.zhconv("\n".join(chars), "zh-hans").split("\n")
    if len(converted) == len(chars):
        for src, dst in zip(chars, converted, strict=True):
            if len(dst) == 1 and dst != src:
                canon[ord(src)] = ord(dst)
    # Apply t2s after NFKC too (CJK compatibility ideographs map to traditional forms).
    canon = canon[canon]
    # Typographic apostrophes and primes read as the ASCII one (don’t = don't).
    for ch in "’‘ʼ′＇´":
        canon[ord(ch)] = ord("'")

    noise = np.zeros(MAX_CP, dtype=bool)
    for ch in NOISE_CHARS + ZERO_WIDTH:
        noise[ord(ch)] = True
        noise[canon[ord(ch)]] = True
    for lo, hi in INVISIBLE_RANGES:
        noise[lo:hi] = True
        noise[canon[lo:hi]] = True
    for cp in range(0x3100):
        if chr(cp).isspace():
            noise[cp] = True
    noise[0x3000] = True
    # A character is noise if what it normalises to is noise (full-width forms).
    noise = noise | noise[canon]
    noise[ord(BOUNDARY)] = False
    # Lone surrogates stand for bytes invalid in the page's charset (surrogateescape): a
    # reader sees a replacement character inside the word, so the word still counts.
    noise[0xD800:0xE000] = True

    word = np.zeros(MAX_CP, dtype=bool)
    for cp in range(CJK_START):
        if chr(cp).isalnum():
            word[cp] = True
    word = word[canon]
    word[noise] = False
    return canon, noise, word


@dataclass(frozen=True, slots=True)
class Normalized:
    """Normalised text and, for each of its characters, the source index."""

    text: str
    pos: np.ndarray  # len(text); index into the source string
    source: str
    cps: np.ndarray  # the source's code points (uint32), for checks beside a match


@cache
def hard_table() -> np.ndarray:
    """Noise that separates real words: whitespace and "." (and their full-width forms)."""
    canon, noise, _ = tables()
    hard = np.zeros(MAX_CP, dtype=bool)
    for cp in range(0x3100):
        if chr(cp).isspace() or chr(cp) in HARD_GAP_CHARS:
            hard[cp] = True
    return noise & hard[canon]


# Flag bits of the packed table (_normtext.pyx's enum reads the same ones): the canonical
# code point (below MAX_CP) takes the low 21 bits, the flags go above it.
_NOISE, _WORD, _HARD, _PHRASE = 1 << 24, 1 << 25, 1 << 26, 1 << 27


@cache
def _packed_table() -> np.ndarray:
    """One uint32 per code point: its canonical code point and its noise, word and hard
    flags. The compiled pass then reads one entry per character instead of two or three
    from separate tables (4.4 + 3 x 1.1 MB, mostly out of cache): 216 -> 131 us for a
    100 KB page's scan text."""
    canon, noise, word = tables()
    packed = canon.copy()
    packed[noise] |= _NOISE
    packed[word] |= _WORD
    packed[hard_table()] |= _HARD
    # Kept characters whose canonical form is one of the phrase characters.
    phrase = np.isin(canon, np.array([ord(c) for c in PHRASE_CHARS], dtype=np.uint32))
    packed[phrase & ~noise] |= _PHRASE
    return packed


def build_tables() -> None:
    """Build the normalisation tables (the packed one is made from the others);
    ``evasion.build_tables`` builds these and the evasion fold's table."""
    _packed_table()


def normalize(source: str, *, phrases: bool = True, displayed: bool = True) -> Normalized:
    """Normalise ``source``; noise is dropped, except that a word gap between two
    Latin words of more than one letter stays as one space.

    That keeps ``an Al Jazeera`` from containing ``anal`` while ``p o r n`` and
    ``p.o.r.n`` (single letters) still read as ``porn``, and CJK text (which has no
    spaces between words) is joined: ``賭 博`` reads as ``赌博``. A word gap is noise
    holding whitespace or "." between two word characters; its space sits at the
    first noise character after the left word. Text decoded with surrogateescape
    carries lone surrogates: they are noise (see ``tables``) and stay in ``cps``.
    """
    text, pos, cps, phrase_at = _normtext.normalize_text(source, _packed_table())
    if phrases and phrase_at:
        text = _phrases(text, phrase_at)
    if displayed and RLO in source:
        text, pos = _as_displayed(source, text, pos)
    return Normalized(text, pos, source, cps)


# The characters zhconv-rs's phrase tables change where the character table leaves
# them (覆 in 反覆): printed by scripts/make_phrase_chars.py from zhconv-rs itself.
PHRASE_CHARS = "么侷崑慇昇沈甦著蒐薰藉覆跼釐餬"
# Longest context a phrase conversion needs on either side of such a character.
_PHRASE_REACH = 8


def phrase_windows(n: int, at: list[int]) -> list[tuple[int, int]]:
    """Windows ``[a, b)`` of a text of length ``n`` around the sorted indexes ``at`` of
    its phrase characters: ``_PHRASE_REACH`` on either side, joined where a further
    phrase character is close by, so that no phrase is cut between windows."""
    windows: list[tuple[int, int]] = []
    done = 0
    k, count = 0, len(at)
    while k < count:
        p = at[k]
        a = max(done, p - _PHRASE_REACH)
        b = min(n, p + 1 + _PHRASE_REACH)
        k += 1
        while k < count and at[k] < b + _PHRASE_REACH:
            if at[k] >= b:
                b = min(n, at[k] + 1 + _PHRASE_REACH)
            k += 1
        windows.append((a, b))
        done = b
    return windows


def _phrases(text: str, at: list[int]) -> str:
    """Phrase-level traditional -> simplified (zhconv-rs's OpenCC and MediaWiki phrase
    tables: 反反覆覆 -> 反反复复, where 覆 alone stays 覆) over text already converted
    character by character, in windows around the characters it can still change (``at``,
    found by the normalisation pass; a whole-page conversion cost about a seventh of the
    engine's time). A window whose conversion changes its length is left as it is, so
    ``pos`` stays valid.

    The windows go through zhconv-rs in one call, joined by newlines: normalised text
    holds none (whitespace is noise) and no phrase holds one, so no conversion reaches
    across two windows; one call per window cost more than the conversion."""
    windows = phrase_windows(len(text), at)
    parts = [text[a:b] for a, b in windows]
    converted = zhconv_rs.zhconv("\n".join(parts), "zh-hans", False).split("\n")
    if len(converted) != len(parts):  # cannot happen (see above); convert one by one
        converted = [zhconv_rs.zhconv(w, "zh-hans", False) for w in parts]
    pieces: list[str] = []
    done = 0
    for (a, b), window, conv in zip(windows, parts, converted, strict=True):
        pieces.append(text[done:a])
        pieces.append(conv if len(conv) == len(window) else window)
        done = b
    pieces.append(text[done:])
    return "".join(pieces)


def _overridden(source: str) -> list[tuple[int, int]]:
    """Source spans ``[a, b)`` shown right to left by an override (RLO ... PDF).

    Embeddings and overrides nest; a paragraph break (a newline or a block boundary)
    ends them all, as in the Unicode bidi algorithm."""
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    i = source.find(RLO)
    while 0 <= i < len(source):
        ch = source[i]
        if ch in (RLO, LRO, RLE, LRE):
            stack.append((ch, i + 1))
        elif ch == PDF or ch in "\n\r\u2029" + BOUNDARY:
            closing = stack if ch != PDF else stack[-1:]
            for kind, at in reversed(closing):
                if kind == RLO:
                    spans.append((at, i))
            if ch == PDF:
                if stack:
                    stack.pop()
            else:
                stack.clear()
        i += 1
        if not stack:
            nxt = source.find(RLO, i)
            if nxt < 0:
                break
            i = nxt
    for kind, at in stack:
        if kind == RLO:
            spans.append((at, len(source)))
    return spans


def _as_displayed(source: str, text: str, pos: np.ndarray) -> tuple[str, np.ndarray]:
    """Reverse the normalised characters that an override shows reversed, keeping each
    one's source index (``pos`` is then not increasing inside those spans)."""
    chars = list(text)
    pos = pos.copy()
    for a, b in _overridden(source):
        i, j = np.searchsorted(pos, a), np.searchsorted(pos, b)
        # Nested overrides are reversed once each, outer spans last, as displayed.
        if j - i > 1:
            chars[i:j] = chars[i:j][::-1]
            pos[i:j] = pos[i:j][::-1].copy()
    return "".join(chars), pos


def normalize_term(term: str) -> str:
    """The form a list term takes in the automaton (same table as the text)."""
    return normalize(term).text


def is_latin_term(norm_term: str) -> bool:
    """Whole-word rules apply to terms made of letters or digits below the CJK blocks
    (several words of them, separated by spaces, included)."""
    _, _, word = tables()
    return bool(norm_term.strip()) and all(word[ord(c)] or c in " '" for c in norm_term)
