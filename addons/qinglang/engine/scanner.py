"""The engine: one document in, a decision and the document as a profile receives it.

extract (what a person sees) -> normalise -> one automaton pass -> PII detectors
-> score per category -> decide -> mask in place. Used unchanged by
``qinglang scan`` and by the proxy's scan workers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from qinglang.engine.extract import Extracted, Kind, extract
from qinglang.engine.lists import ListSet
from qinglang.engine.matcher import Found, Matcher
from qinglang.engine.normalize import RLO, Normalized, normalize
from qinglang.engine.pii.detect import PiiFound, detect_pii, doxxing_exposure
from qinglang.engine.settings import ScanSettings
from qinglang.engine.verdict import Action, Reason

MASK_CHAR = "*"


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
    action: Action
    score: int
    categories: dict[str, int]
    matches: list[MatchOut]
    pii: list[PiiOut]
    body: str
    combinations: list[ComboOut] = field(default_factory=list)
    reason: Reason | None = None  # why it was blocked
    changed: bool = False  # body differs from the input
    problem: str | None = None  # input was not what it claimed (e.g. broken JSON)
    term_names: list[str] = field(default_factory=list)  # distinct terms that counted

    @property
    def top_category(self) -> str | None:
        pos = {c: s for c, s in self.categories.items() if s > 0}
        return max(pos, key=lambda c: pos[c]) if pos else None

    def decided_by(self) -> list[str]:
        """Names of the terms and combinations that scored (never page text)."""
        return self.term_names + ["+".join(c.all) for c in self.combinations]

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


def _forward(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spans ``[a, b)`` made from a first and a last character's source index, turned
    around where they run backwards: text shown reversed by a bidi override is read
    as displayed (``normalize``), so its characters run backwards in the source."""
    return np.minimum(a, b - 1), np.maximum(a, b - 1) + 1


class Engine:
    """Compiled lists. Build once, share; ``scan`` keeps no state between calls."""

    def __init__(self, lists: ListSet, evasion_off: frozenset[str] = frozenset()) -> None:
        """``evasion_off``: evasion rules switched off for the whole engine
        (``evasion.SWITCHES``; the benchmark and the benign-corpus test use it)."""
        self.lists = lists
        self.matcher = Matcher(lists, evasion_off)
        self._phrases = "phrases" not in evasion_off
        self.category_names = lists.categories
        cat_index = {c: i for i, c in enumerate(self.category_names)}
        self._cat_index = cat_index
        terms = lists.terms
        self._t_cat = np.array([cat_index[t.category] for t in terms], dtype=np.int64)
        self._t_weight = np.array([t.weight for t in terms], dtype=np.int64)
        self._t_every = np.array([t.every for t in terms], dtype=bool)

    def scan(
        self,
        doc: str,
        kind: Kind,
        profile: ScanSettings,
        *,
        details: bool = True,
        xml: bool = False,
    ) -> ScanResult:
        """Decide on one document. ``details=False`` skips the per-occurrence match
        list (the proxy needs only the decision and the names of the terms); ``xml``: an
        HTML-kind document served as XML (``extract``)."""
        ex = extract(doc, kind, xml=xml)
        norm = normalize(ex.text, phrases=self._phrases)
        found = self.matcher.find(norm)
        pii: list[PiiFound] = []
        if profile.pii != "off":
            # The detectors read the source beside a number: they get the text in its
            # written order (bidi overrides not applied).
            logical = norm
            if RLO in ex.text:
                logical = normalize(ex.text, phrases=self._phrases, displayed=False)
            pii = detect_pii(logical)
        return self._decide(ex, norm, found, pii, profile, details)

    def _counted(self, profile: ScanSettings) -> np.ndarray:
        if profile.categories is None:  # every category counts (the usual profile)
            return np.ones(len(self.category_names), dtype=bool)
        return np.array([profile.counts(c) for c in self.category_names], dtype=bool)

    def _decide(
        self,
        ex: Extracted,
        norm: Normalized,
        found: Found,
        pii: list[PiiFound],
        profile: ScanSettings,
        details: bool,
    ) -> ScanResult:
        ncat = len(self.category_names)
        counted = self._counted(profile) if ncat else np.zeros(0, dtype=bool)
        keep = counted[self._t_cat[found.term]] if len(found) else np.zeros(0, dtype=bool)
        t_id, t_s, t_e = found.term[keep], found.start[keep], found.end[keep]

        # Singular: each distinct term once; `every` terms (or profile) per occurrence.
        every = self._t_every[t_id] | (profile.count == "every")
        once_ids = np.unique(t_id[~every])
        scores = np.bincount(
            self._t_cat[once_ids], weights=self._t_weight[once_ids], minlength=ncat
        ) + np.bincount(
            self._t_cat[t_id[every]], weights=self._t_weight[t_id[every]], minlength=ncat
        )
        cats: dict[str, int] = {}
        for i in np.unique(self._t_cat[t_id]).tolist():
            cats[self.category_names[i]] = int(scores[i])

        combos: list[ComboOut] = []
        # Only combinations with a part on the page can be complete (most pages: none).
        for c_id in sorted({c for c, _ in found.parts}):
            c = self.lists.combinations[c_id]
            if not profile.counts(c.category):
                continue
            if all((c_id, p) in found.parts for p in range(len(c.parts))):
                cats[c.category] = cats.get(c.category, 0) + c.weight
                combos.append(ComboOut([p.text for p in c.parts], c.category, c.weight))

        # Context (negative weights) lowers a category's score but never below zero,
        # so it cannot offset another category.
        categories = {c: max(0, v) for c, v in sorted(cats.items())}
        score = sum(categories.values())

        # Scan-text spans of the hits, then document spans.
        a = norm.pos[t_s] if len(t_id) else t_s
        b = norm.pos[t_e - 1] + 1 if len(t_id) else t_e
        if len(t_id):
            a, b = _forward(a, b)
        terms = self.lists.terms
        matches: list[MatchOut] = []
        if details and len(t_id):
            d0, d1 = ex.doc_spans(a, b)
            doc = ex.doc
            for ti, x, y in zip(t_id.tolist(), d0.tolist(), d1.tolist(), strict=True):
                t = terms[ti]
                matches.append(MatchOut(t.pattern.text, t.category, t.weight, x, y, doc[x:y]))
        names = sorted({terms[i].pattern.text for i in np.unique(t_id).tolist()})

        pii_out: list[PiiOut] = []
        if pii:
            px, py = ex.doc_spans(
                *_forward(
                    np.array([p.start for p in pii], dtype=np.int64),
                    np.array([p.end for p in pii], dtype=np.int64),
                )
            )
            pii_out = [
                PiiOut(p.kind, x, y) for p, x, y in zip(pii, px.tolist(), py.tolist(), strict=True)
            ]

        reason: Reason | None = None
        if score >= profile.block_threshold:
            action, reason = Action.BLOCK, Reason.KEYWORDS
        elif profile.pii != "off" and doxxing_exposure(pii, profile):
            action, reason = Action.BLOCK, Reason.PII
        if reason:
            return ScanResult(
                action,
                score,
                categories,
                matches,
                pii_out,
                "",
                combos,
                reason,
                True,
                ex.problem,
                names,
            )

        spans: list[tuple[np.ndarray, np.ndarray]] = []
        if profile.mask and len(t_id):
            positive = self._t_weight[t_id] >= profile.mask_min_weight
            if not profile.mask_in_context:
                # A category whose context words bring its score to 0 or below (a help
                # line, a prevention page, news) is not what the page is about: its
                # words stay readable (they still counted towards the score above).
                raw = np.zeros(max(ncat, 1), dtype=np.int64)
                for name, v in cats.items():
                    if name in self._cat_index:
                        raw[self._cat_index[name]] = v
                # A term that blocks a page on its own (instructions, invitations) is
                # never context: context words piled onto a harmful page do not show it.
                alone = self._t_weight[t_id] >= profile.block_threshold
                positive &= (raw[self._t_cat[t_id]] > 0) | alone
            spans.append((a[positive], b[positive]))
        if profile.pii == "mask":
            hide = [h for p in pii for h in p.hide]
            if hide:
                arr = np.array(hide, dtype=np.int64)
                spans.append(_forward(arr[:, 0], arr[:, 1]))
        body = ex.doc
        if any(len(x) for x, _ in spans):
            n = len(ex.text)
            starts = np.concatenate([x for x, _ in spans])
            ends = np.concatenate([y for _, y in spans])
            # Spans are few next to the text: set them slice by slice.
            mask = np.zeros(n, dtype=bool)
            for x, y in zip(starts.tolist(), ends.tolist(), strict=True):
                mask[x:y] = True
            # Plain text is its own scan text: reuse its code points.
            cps = norm.cps if ex.text is ex.doc else None
            body = ex.masked(mask, MASK_CHAR, cps)
        changed = body != ex.doc
        action = Action.MASK if changed else Action.ALLOW
        return ScanResult(
            action,
            score,
            categories,
            matches,
            pii_out,
            body,
            combos,
            None,
            changed,
            ex.problem,
            names,
        )
