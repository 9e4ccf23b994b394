"""The engine: one document in, a decision and the document as a profile receives it.

extract (what a person sees) -> normalise -> one automaton pass -> PII detectors
-> score per category -> decide -> mask in place. Used unchanged by
``qinglang scan`` and by the proxy's scan workers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .config import Profile
from .extract import Extracted, Kind, extract
from .lists import ListSet
from .matcher import Found, Matcher
from .normalize import Normalized, normalize
from .pii import PiiFound, detect_pii, doxxing_exposure

MASK_CHAR = "*"

ALLOW, MASK, BLOCK = "allow", "mask", "block"
REASON_KEYWORDS = "keywords"
REASON_PII = "personal information exposure"


@dataclass(slots=True)
class MatchOut:
    term: str
    category: str
    weight: int
    start: int
    end: int
    text: str


@dataclass(slots=True)
class ComboOut:
    all: list[str]
    category: str
    weight: int


@dataclass(slots=True)
class PiiOut:
    kind: str
    start: int
    end: int


@dataclass(slots=True)
class ScanResult:
    action: str
    score: int
    categories: dict[str, int]
    matches: list[MatchOut]
    pii: list[PiiOut]
    body: str
    combinations: list[ComboOut] = field(default_factory=list)
    reason: str | None = None  # why it was blocked
    changed: bool = False  # body differs from the input
    problem: str | None = None  # input was not what it claimed (e.g. broken JSON)

    @property
    def top_category(self) -> str | None:
        pos = {c: s for c, s in self.categories.items() if s > 0}
        return max(pos, key=lambda c: pos[c]) if pos else None

    def decided_by(self) -> list[str]:
        """Names of the terms and combinations that scored (never page text)."""
        names = sorted({m.term for m in self.matches if m.weight})
        return names + ["+".join(c.all) for c in self.combinations]

    def to_json(self) -> dict[str, Any]:
        """The `qinglang scan` object (DESIGN.md), with the documented extensions."""
        out: dict[str, Any] = {
            "action": self.action,
            "score": self.score,
            "categories": self.categories,
            "matches": [asdict(m) for m in self.matches],
            "pii": [asdict(p) for p in self.pii],
            "body": self.body,
        }
        if self.combinations:
            out["combinations"] = [asdict(c) for c in self.combinations]
        if self.reason:
            out["reason"] = self.reason
        if self.problem:
            out["problem"] = self.problem
        return out


class Engine:
    """Compiled lists. Build once, share; ``scan`` keeps no state between calls."""

    def __init__(self, lists: ListSet) -> None:
        self.lists = lists
        self.matcher = Matcher(lists)

    def scan(self, doc: str, kind: Kind, profile: Profile) -> ScanResult:
        ex = extract(doc, kind)
        norm = normalize(ex.text)
        found = self.matcher.find(norm)
        pii = detect_pii(norm) if profile.pii != "off" else []
        return self._decide(ex, norm, found, pii, profile)

    def _decide(
        self,
        ex: Extracted,
        norm: Normalized,
        found: Found,
        pii: list[PiiFound],
        profile: Profile,
    ) -> ScanResult:
        terms = self.lists.terms
        cats: Counter[str] = Counter()
        counted: set[int] = set()
        matches: list[MatchOut] = []
        mask_spans: list[tuple[int, int]] = []  # scan coordinates
        for h in found.hits:
            t = terms[h.term]
            if not profile.counts(t.category):
                continue
            if t.every or profile.count == "every" or h.term not in counted:
                cats[t.category] += t.weight
            counted.add(h.term)
            a, b = int(norm.pos[h.start]), int(norm.pos[h.end - 1]) + 1
            d0, d1 = ex.doc_span(a, b)
            matches.append(MatchOut(t.pattern.text, t.category, t.weight, d0, d1, ex.doc[d0:d1]))
            if t.weight > 0:
                mask_spans.append((a, b))

        combos: list[ComboOut] = []
        for c_id, c in enumerate(self.lists.combinations):
            if not profile.counts(c.category):
                continue
            if all((c_id, p) in found.parts for p in range(len(c.parts))):
                cats[c.category] += c.weight
                combos.append(ComboOut([p.text for p in c.parts], c.category, c.weight))

        # Context (negative weights) lowers a category's score but never below zero,
        # so it cannot offset another category.
        categories = {c: max(0, s) for c, s in sorted(cats.items())}
        score = sum(categories.values())

        pii_out: list[PiiOut] = []
        pii_edits: list[tuple[int, int, str]] = []
        for p in pii:
            d0, d1 = ex.doc_span(p.start, p.end)
            pii_out.append(PiiOut(p.kind, d0, d1))
            for hs, he in p.hide:
                pii_edits.extend(_mask_edits(ex, hs, he))

        reason: str | None = None
        if score >= profile.block_threshold:
            action, reason = BLOCK, REASON_KEYWORDS
        elif profile.pii != "off" and doxxing_exposure(pii, profile):
            action, reason = BLOCK, REASON_PII
        else:
            edits: list[tuple[int, int, str]] = []
            if profile.mask:
                for a, b in mask_spans:
                    edits.extend(_mask_edits(ex, a, b))
            if profile.pii == "mask":
                edits.extend(pii_edits)
            action = MASK if edits else ALLOW
            body = _apply(ex.doc, edits)
            return ScanResult(
                action,
                score,
                categories,
                matches,
                pii_out,
                body,
                combos,
                None,
                body != ex.doc,
                ex.problem,
            )
        return ScanResult(
            action, score, categories, matches, pii_out, "", combos, reason, True, ex.problem
        )


def _mask_edits(ex: Extracted, a: int, b: int) -> list[tuple[int, int, str]]:
    """Edits that hide scan characters ``[a, b)``; whitespace stays so layout holds."""
    out: list[tuple[int, int, str]] = []
    for d0, d1, text in ex.doc_pieces(a, b):
        if d1 - d0 == len(text):  # a plain run: character for character
            out.append((d0, d1, "".join(c if c.isspace() else MASK_CHAR for c in text)))
        elif text.strip():  # an entity or escape: one mask character for what it showed
            out.append((d0, d1, MASK_CHAR * len(text.strip())))
    return out


def _apply(doc: str, edits: list[tuple[int, int, str]]) -> str:
    if not edits:
        return doc
    edits.sort()
    out: list[str] = []
    at = 0
    for d0, d1, rep in edits:
        if d0 < at:  # overlaps a previous edit: both mask, keep the part not yet done
            if d1 <= at:
                continue
            rep = rep[at - d0 :] if len(rep) == d1 - d0 else MASK_CHAR
            d0 = at
        out.append(doc[at:d0])
        out.append(rep)
        at = d1
    out.append(doc[at:])
    return "".join(out)
