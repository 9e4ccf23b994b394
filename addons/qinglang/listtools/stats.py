"""``qinglang lists stats [DIR]``: what the lists hold, per category and language."""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from qinglang.engine.lists import ListSet, load_lists
from qinglang.engine.yamlloc import SourceError
from qinglang.policy.domains import load_domains

# Weight bands, read against the documented rule: 100 blocks on its own under
# the default threshold, smaller weights only add up.
BANDS: tuple[tuple[str, int, int], ...] = (
    ("< 0 (context)", -1000, -1),
    ("0", 0, 0),
    ("1-9", 1, 9),
    ("10-29", 10, 29),
    ("30-59", 30, 59),
    ("60-99", 60, 99),
    (">= 100 (blocks alone)", 100, 1000),
)


@dataclass(slots=True)
class Row:
    category: str
    lang: str
    terms: int = 0
    combinations: int = 0
    exceptions: int = 0
    weights: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        w = self.weights
        return {
            "category": self.category,
            "lang": self.lang,
            "terms": self.terms,
            "combinations": self.combinations,
            "exceptions": self.exceptions,
            "weight_min": min(w) if w else None,
            "weight_median": statistics.median(w) if w else None,
            "weight_max": max(w) if w else None,
        }


def collect(ls: ListSet) -> list[Row]:
    rows: dict[tuple[str, str], Row] = {}

    def row(cat: str, path: str) -> Row:
        lang = ls.langs.get(path) or "-"
        key = (cat, lang)
        if key not in rows:
            rows[key] = Row(cat, lang)
        return rows[key]

    for t in ls.terms:
        r = row(t.category, t.origin.path)
        r.terms += 1
        r.weights.append(t.weight)
    for c in ls.combinations:
        r = row(c.category, c.origin.path)
        r.combinations += 1
        r.weights.append(c.weight)
    for e in ls.exceptions:
        row(e.category, e.origin.path).exceptions += 1
    return [rows[k] for k in sorted(rows)]


def bands(weights: list[int]) -> list[tuple[str, int]]:
    return [(name, sum(1 for w in weights if lo <= w <= hi)) for name, lo, hi in BANDS]


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    return "\n".join([fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def render(rows: list[Row], domains: dict[str, tuple[int, int]], files: int) -> str:
    out: list[str] = [f"Keyword lists ({files} files)", ""]
    body = []
    for r in rows:
        w = r.weights
        spread = f"{min(w)} / {statistics.median(w):g} / {max(w)}" if w else "-"
        body.append(
            [r.category, r.lang, str(r.terms), str(r.combinations), str(r.exceptions), spread]
        )
    tot = [
        "total",
        "",
        str(sum(r.terms for r in rows)),
        str(sum(r.combinations for r in rows)),
        str(sum(r.exceptions for r in rows)),
        "",
    ]
    out.append(
        _table(
            [
                "category",
                "lang",
                "terms",
                "combinations",
                "exceptions",
                "weight min / median / max",
            ],
            [*body, tot],
            {2, 3, 4},
        )
    )
    by_lang: dict[str, int] = defaultdict(int)
    for r in rows:
        by_lang[r.lang] += r.terms
    out += ["", "Terms per language", ""]
    out.append(_table(["lang", "terms"], [[k, str(v)] for k, v in sorted(by_lang.items())], {1}))
    weights = [w for r in rows for w in r.weights]
    out += ["", "Weight distribution (terms and combinations)", ""]
    peak = max((n for _, n in bands(weights)), default=0) or 1
    out.append(
        _table(
            ["weight", "count", ""],
            [[name, str(n), "#" * round(40 * n / peak)] for name, n in bands(weights)],
            {1},
        )
    )
    if domains:
        out += ["", "Domain lists", ""]
        out.append(
            _table(
                ["category", "domains", "exceptions"],
                [[c, str(n), str(x)] for c, (n, x) in sorted(domains.items())],
                {1, 2},
            )
        )
    return "\n".join(out)


def main(dirs: list[str], as_json: bool = False) -> int:
    try:
        ls = load_lists(dirs)
        dom = load_domains(dirs)
    except SourceError as e:
        print(f"qinglang: {e}", file=sys.stderr)
        return 2
    rows = collect(ls)
    domains = dom.counts()
    if as_json:
        weights = [w for r in rows for w in r.weights]
        doc = {
            "files": len(ls.files),
            "categories": [r.to_json() for r in rows],
            "weights": {str(k): v for k, v in sorted(Counter(weights).items())},
            "weight_bands": dict(bands(weights)),
            "domains": {c: {"domains": n, "exceptions": x} for c, (n, x) in domains.items()},
        }
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        print(render(rows, domains, len(ls.files)))
    return 0
