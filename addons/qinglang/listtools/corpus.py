"""``qinglang lists test CORPUS``: a labelled corpus through the engine.

Two ways to label documents:

- folders: ``CORPUS/block/``, ``CORPUS/allow/``, ``CORPUS/mask/`` hold the
  documents expected to get that action. A document's category is the folder
  under the action folder (``block/porn/ad.html``) or, for files directly in
  it, the longest category of the lists that starts the file name followed by
  ``_``, ``-`` or ``.`` (``block/self_harm_methods_en.txt`` -> ``self_harm``).
- a manifest: ``CORPUS`` is (or contains) ``manifest.yaml`` / ``.yml`` / ``.json``,
  a list of ``{path, expect, category?, content_type?, profile?}``, paths
  relative to the manifest.

Each document runs through the same steps as ``qinglang scan`` (charset
sniffing, the extractor its type calls for, the engine with the profile). For
each expected action (block, mask) and category: recall is the share of the
documents labelled with that category that got the action; precision is the
share of the documents that got the action with that category on top (the
highest-scoring one; ``pii`` when personal data decided) that were labelled
with the action. A document whose action does not fit its label is wrong, and
is printed with the terms that decided it. As for the shipped corpus
(tests/test_shipped_lists.py): ``block`` must be blocked, ``mask`` must be served
masked and not blocked, ``allow`` must not be blocked (a masked word is
acceptable, but counts against the precision of ``mask``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from qinglang.engine.yamlloc import SourceError, format_loc, line_of, load_yaml

ACTIONS = ("block", "mask", "allow")
MANIFESTS = ("manifest.yaml", "manifest.yml", "manifest.json")
PII = "pii"
_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".json": "application/json",
    ".txt": "text/plain",
    ".md": "text/plain",
}


class CorpusError(Exception):
    pass


class ManifestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    expect: Literal["block", "mask", "allow"]
    category: str | None = None
    content_type: str | None = None
    profile: str | None = None


@dataclass(slots=True)
class Doc:
    path: Path
    name: str  # as shown: relative to the corpus
    expect: str
    category: str | None
    content_type: str | None = None
    profile: str | None = None


@dataclass(slots=True)
class Outcome:
    doc: Doc
    action: str
    score: int
    categories: dict[str, int]
    top: str | None
    decided_by: list[str]
    reason: str | None = None
    problem: str | None = None

    @property
    def wrong(self) -> bool:
        if self.doc.expect == "allow":  # not blocked; a masked word is acceptable
            return self.action == "block"
        return self.action != self.doc.expect

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.doc.name,
            "expect": self.doc.expect,
            "category": self.doc.category,
            "action": self.action,
            "score": self.score,
            "categories": self.categories,
            "top_category": self.top,
            "decided_by": self.decided_by,
            "reason": self.reason,
            "wrong": self.wrong,
        }


@dataclass(slots=True)
class CategoryStats:
    action: str
    category: str
    labelled: int = 0  # documents labelled with the action and category
    hit: int = 0  # of those, given the action
    flagged: int = 0  # documents given the action with this category on top
    correct: int = 0  # of those, labelled with the action

    @property
    def recall(self) -> float | None:
        return self.hit / self.labelled if self.labelled else None

    @property
    def precision(self) -> float | None:
        return self.correct / self.flagged if self.flagged else None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "category": self.category,
            "labelled": self.labelled,
            "hit": self.hit,
            "flagged": self.flagged,
            "correct": self.correct,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass(slots=True)
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def wrong(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.wrong]

    def per_category(self) -> list[CategoryStats]:
        table: dict[tuple[str, str], CategoryStats] = {}

        def row(action: str, cat: str) -> CategoryStats:
            return table.setdefault((action, cat), CategoryStats(action, cat))

        for o in self.outcomes:
            if o.doc.expect != "allow":
                r = row(o.doc.expect, o.doc.category or "-")
                r.labelled += 1
                r.hit += o.action == o.doc.expect
            if o.action != "allow":
                r = row(o.action, o.top or "-")
                r.flagged += 1
                r.correct += o.doc.expect == o.action
        order = {a: i for i, a in enumerate(ACTIONS)}
        return sorted(table.values(), key=lambda r: (order[r.action], r.category))


def _category_from_name(name: str, categories: list[str]) -> str | None:
    best = None
    for c in categories:
        if (
            name.startswith(c)
            and name[len(c) : len(c) + 1] in ("_", "-", ".")
            and (best is None or len(c) > len(best))
        ):
            best = c
    return best


def _is_document(p: Path) -> bool:
    return p.is_file() and not p.name.startswith(".") and not p.name.lower().startswith("readme")


def discover(corpus: Path, categories: list[str]) -> list[Doc]:
    if corpus.is_file():
        return read_manifest(corpus)
    if not corpus.is_dir():
        raise CorpusError(f"{corpus}: no such file or folder")
    for name in MANIFESTS:
        if (corpus / name).is_file():
            return read_manifest(corpus / name)
    docs: list[Doc] = []
    found = False
    for action in ACTIONS:
        folder = corpus / action
        if not folder.is_dir():
            continue
        found = True
        for p in sorted(folder.rglob("*")):
            if not _is_document(p):
                continue
            rel = p.relative_to(folder)
            cat = rel.parts[0] if len(rel.parts) > 1 else _category_from_name(p.name, categories)
            docs.append(
                Doc(p, str(p.relative_to(corpus)), action, cat, _TYPES.get(p.suffix.lower()))
            )
    if not found:
        raise CorpusError(
            f"{corpus}: no block/, allow/ or mask/ folder and no manifest.yaml: nothing to test"
        )
    return docs


def read_manifest(path: Path) -> list[Doc]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CorpusError(f"{path}: cannot read: {e}") from None
    data = load_yaml(text, path)
    base: tuple[str | int, ...] = ()
    if isinstance(data, dict) and "documents" in data:
        data, base = data["documents"], ("documents",)
    if not isinstance(data, list):
        raise SourceError(path, 1, "a manifest is a list of {path, expect, category?} entries")
    docs: list[Doc] = []
    for i, item in enumerate(data):
        try:
            entry = ManifestEntry.model_validate(item)
        except ValidationError as err:
            first = err.errors()[0]
            loc = (*base, i, *first["loc"])
            msg = str(first["msg"])
            if first["type"] == "extra_forbidden":
                msg = f"unknown key `{first['loc'][-1]}`"
            raise SourceError(path, line_of(text, loc), f"{format_loc(loc)}: {msg}") from None
        p = (path.parent / entry.path).resolve()
        if not p.is_file():
            raise SourceError(path, line_of(text, (*base, i)), f"no such document: {entry.path}")
        ct = entry.content_type or _TYPES.get(p.suffix.lower())
        docs.append(Doc(p, entry.path, entry.expect, entry.category, ct, entry.profile))
    return docs


def run(docs: list[Doc], lists: Any, cfg: Any, profile_name: str) -> Report:
    from qinglang.content.pipeline import ScanJob, scan_body, verdict
    from qinglang.engine.scanner import Engine
    from qinglang.engine.verdict import Action, Reason
    from qinglang.pages.risknotice import notice_for

    engine = Engine(lists)
    report = Report()
    for doc in docs:
        name = doc.profile or profile_name
        if name not in cfg.profiles:
            raise CorpusError(f"{doc.name}: no profile {name!r} in the config")
        profile = cfg.profiles[name]
        # The proxy's pipeline, as ``qinglang scan`` runs it: the document as a response
        # with its Content-Type (from the manifest or the file's extension).
        job = ScanJob(doc.path.read_bytes(), doc.content_type, None, None, profile)
        out = scan_body(engine, job, notice=notice_for).outcome
        d = verdict(out, profile)
        action = Action.ALLOW if d.action == Action.PASS else d.action
        top = out.top_category or (PII if d.reason == Reason.PII else None)
        if top is None and action == Action.MASK and out.pii:
            top = PII
        report.outcomes.append(
            Outcome(
                doc,
                action,
                out.score,
                out.categories,
                top,
                list(out.decided_by),
                d.reason if action == Action.BLOCK else None,
                out.problem,
            )
        )
    return report


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def render(report: Report, verbose: bool = False) -> str:
    out: list[str] = []
    stats = report.per_category()
    rows = [
        [
            s.action,
            s.category,
            str(s.labelled),
            str(s.hit),
            _pct(s.recall),
            str(s.flagged),
            str(s.correct),
            _pct(s.precision),
        ]
        for s in stats
    ]
    head = ["action", "category", "labelled", "got it", "recall", "flagged", "right", "precision"]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
    for cells in [head, ["-" * w for w in widths], *rows]:
        out.append(
            "  ".join(
                c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(cells)
            )
        )
    out.append("")
    shown = report.outcomes if verbose else report.wrong
    for o in shown:
        mark = "WRONG" if o.wrong else "ok"
        cats = ", ".join(f"{c} {s}" for c, s in o.categories.items() if s) or "nothing scored"
        terms = ", ".join(o.decided_by) if o.decided_by else "no terms"
        why = f" ({o.reason})" if o.reason and o.reason != "keywords" else ""
        out.append(
            f"{mark:5}  {o.doc.name}: expected {o.doc.expect}, got {o.action}{why}; "
            f"score {o.score} ({cats}); decided by: {terms}"
        )
    n, bad = len(report.outcomes), len(report.wrong)
    out.append(f"{n - bad} of {n} documents right, {bad} wrong")
    return "\n".join(out)


def main(args: argparse.Namespace) -> int:
    from qinglang.engine.lists import load_lists
    from qinglang.policy.config import default_config, load_config

    try:
        from qinglang.deploy.datadir import existing_config

        # As `qinglang run`: the data directory's config, else the shipped defaults.
        config = args.config or existing_config()
        cfg = load_config(config) if config else default_config()
        lists = load_lists(args.lists or cfg.lists)
        name = args.profile or cfg.default_profile
        if name not in cfg.profiles:
            raise CorpusError(
                f"no profile {name!r} in the config (have: {', '.join(cfg.profiles)})"
            )
        docs = discover(Path(args.corpus), [*lists.categories, PII])
        if not docs:
            raise CorpusError(f"{args.corpus}: no documents")
        report = run(docs, lists, cfg, name)
    except (SourceError, CorpusError) as e:
        print(f"qinglang: {e}", file=sys.stderr)
        return 2
    if args.json:
        doc = {
            "documents": [o.to_json() for o in report.outcomes],
            "categories": [s.to_json() for s in report.per_category()],
            "right": len(report.outcomes) - len(report.wrong),
            "wrong": len(report.wrong),
        }
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        print(render(report, verbose=args.verbose))
    return 1 if report.wrong else 0
