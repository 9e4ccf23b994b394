"""The child's own personal data (a profile's ``own_data``) looked for in request text.

Each configured value is reduced to the detectors' canonical form (``pii.canonical``:
case, width, traditional/simplified, spaces and noise dropped, ``+86`` removed) and looked
for in the engine's normalised text of a request (``pii.find_value``), so ``138 1234 5678``
is caught as ``13812345678``, ``138-1234-5678``, ``+86 138 1234 5678`` or in full-width
digits. Chinese names and schools match as substrings; a value that starts or ends with
a Latin letter or digit must not continue a longer word or number there (``Tom`` is not
in ``tomato``, a phone number is not inside a longer number). Nothing here logs or keeps
the values found: callers get the config keys (``phone``, ``name`` ...), never text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from qinglang.engine.normalize import BOUNDARY, Normalized, normalize
from qinglang.engine.pii.detect import canonical, find_value
from qinglang.engine.settings import OwnValues


@dataclass(frozen=True, slots=True)
class _Key:
    kind: str  # the own_data key: name | phone | id | school | address | email
    key: str  # canonical value
    digit_left: bool  # the value starts with a digit: no digit may precede it
    word_left: bool  # ... with a Latin letter: no letter or digit may precede it
    digit_right: bool
    word_right: bool


def _ascii_alnum(c: str) -> str:
    """``d`` for a digit, ``w`` for a Latin letter (any width), ``""`` otherwise."""
    c = unicodedata.normalize("NFKC", c)
    if len(c) != 1 or not c.isascii():
        return ""
    return "d" if c.isdigit() else "w" if c.isalpha() else ""


def _make_key(kind: str, value: str) -> _Key:
    key = canonical(value)
    first, last = _ascii_alnum(key[0]), _ascii_alnum(key[-1])
    return _Key(kind, key, first == "d", first == "w", last == "d", last == "w")


class OwnDataMatcher:
    """Finds which kinds of a profile's own data occur in some text."""

    def __init__(self, own: OwnValues) -> None:
        keys = {(k, canonical(v)): _make_key(k, v) for k, v in own.items()}
        self.keys = tuple(keys.values())

    def __bool__(self) -> bool:
        return bool(self.keys)

    def kinds_in(self, pieces: Iterable[str]) -> list[str]:
        """Sorted own_data keys found in ``pieces`` (values never span two pieces)."""
        text = BOUNDARY.join(p for p in pieces if p)
        if not text or not self.keys:
            return []
        norm = _without_spaces(normalize(text))
        found: set[str] = set()
        for k in self.keys:
            if k.kind in found:
                continue
            for s, e in find_value(norm, k.key):
                if _stands_alone(norm.source, s, e, k):
                    found.add(k.kind)
                    break
        return sorted(found)


def _without_spaces(norm: Normalized) -> Normalized:
    """The normalised text without the word gaps it keeps, once for every key
    (``find_value`` would otherwise drop them again for each one)."""
    if " " not in norm.text:
        return norm
    keep = np.flatnonzero(
        np.frombuffer(norm.text.encode("utf-32-le", "surrogatepass"), np.uint32) != 32
    )
    return Normalized(norm.text.replace(" ", ""), norm.pos[keep], norm.source, norm.cps)


def _stands_alone(src: str, s: int, e: int, k: _Key) -> bool:
    if s > 0 and (k.digit_left or k.word_left):
        before = _ascii_alnum(src[s - 1])
        glued = before == "d" or (before == "w" and k.word_left)
        if glued and not (before == "d" and k.kind == "phone" and _country_code_before(src, s)):
            return False
    if e < len(src) and (k.digit_right or k.word_right):
        after = _ascii_alnum(src[e])
        if after == "d" or (after == "w" and k.word_right):
            return False
    return True


def _country_code_before(src: str, s: int) -> bool:
    """The digits just before ``s`` are a ``86``/``0086`` country code (``+8613812345678``,
    ``0086-138...``), not the end of a longer number."""
    j = s
    while j > 0 and s - j < 4 and _separator(src[j - 1]):
        j -= 1
    i = j
    while i > 0 and j - i <= 4 and _ascii_alnum(src[i - 1]) == "d":
        i -= 1
    return unicodedata.normalize("NFKC", src[i:j]) in ("86", "0086")


def _separator(c: str) -> bool:
    return c.isspace() or unicodedata.normalize("NFKC", c) in "-."
