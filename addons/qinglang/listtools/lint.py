"""``qinglang lists lint [DIR]``: mistakes in list files, with file and line.

Errors (the lists would not load, or load wrong):
- a file that is not valid YAML or not a valid list (``lists.parse_list``);
- a term, part or exception that is only noise characters (matches nothing);
- the same term in one category with two different weights.

Warnings (the lists load, but probably not as meant):
- the same term written twice in one category, or two spellings that normalise
  to the same text (``賭博`` and ``赌博``, ``Porn`` and ``p.o.r.n``): one is enough;
- a term listed with a positive weight in two categories: a page with it scores
  in both (negative context terms are meant per category);
- a term an exception always cancels (see ``always_cancels``), whatever the match
  modes, compared after the evasion folding the matcher does: it can never score;
- terms the evasion folding makes equal (``porn`` and ``p0rn``, ``ass`` and ``as``,
  ``三级片`` and ``3级片`` in a list with ``numerals: true``): one is enough, and the
  shorter spelling may find the other's words too;
- a Latin term in ``substring`` or ``prefix`` mode found inside common English
  words (Debian's ``wamerican`` list), the classic ``ass`` in ``class``; words
  that are the term with an inflection (``-s``, ``-ed``, ``-ing`` …), words on
  the lists themselves and words an exception covers do not count;
- a line of a domain list that is not a domain.

Regular expressions are not part of the list format, so there is nothing to compile.
"""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from ahocorasick_rs import AhoCorasick, MatchKind

from qinglang.engine.evasion import fold
from qinglang.engine.lists import (
    ComboSpec,
    ListSet,
    Origin,
    Pattern,
    Term,
    list_files,
    make_patterns,
    parse_list,
)
from qinglang.engine.matcher import Matcher
from qinglang.engine.normalize import BOUNDARY, normalize, tables
from qinglang.engine.yamlloc import SourceError
from qinglang.policy.domains import load_domains

DEFAULT_WORDS = Path("/usr/share/dict/american-english")
EXAMPLES = 6
# Endings that make a word a form of the term itself rather than another word
# (``anal`` + ``ysis`` is another word; ``fuck`` + ``ing`` is not).
INFLECTIONS = frozenset(
    {"s", "es", "d", "ed", "er", "ers", "ing", "ings", "e", "y", "ly", "ies", "ier"}
    | {"iest", "ion", "ions", "ic", "ics", "ism", "ist", "ists", "or", "ors"}
)

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int | None
    level: str  # "error" | "warning"
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.level}: {self.message}"


@dataclass(frozen=True, slots=True)
class Rec:
    """One string of a list file: a term, a combination part or an exception."""

    kind: str  # "term" | "part" | "exception"
    pattern: Pattern
    category: str
    weight: int
    path: str
    line: int | None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(slots=True)
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    records: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.level == "warning")

    def error(self, path: str, line: int | None, msg: str) -> None:
        self.findings.append(Finding(path, line, "error", msg))

    def warn(self, path: str, line: int | None, msg: str) -> None:
        self.findings.append(Finding(path, line, "warning", msg))


def _entry_lines(text: str) -> tuple[list[int | None], list[int | None]]:
    """Lines of every ``terms`` and ``exceptions`` item, from one compose of the file
    (``yamlloc.line_of`` per item would compose a 100,000-term file 100,000 times)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return [], []
    out: dict[str, list[int | None]] = {"terms": [], "exceptions": []}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value in out and isinstance(v, yaml.SequenceNode):
                out[k.value] = [item.start_mark.line + 1 for item in v.value]
    return out["terms"], out["exceptions"]


def read_records(paths: Iterable[Path], result: LintResult) -> list[Rec]:
    recs: list[Rec] = []
    for path in paths:
        result.files += 1
        p = str(path)
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            result.error(p, None, f"not UTF-8 (byte {e.start})")
            continue
        except OSError as e:
            result.error(p, None, f"cannot read: {e.strerror}")
            continue
        try:
            spec = parse_list(text, path)
        except SourceError as e:
            result.error(p, e.line, e.reason)
            continue
        term_lines, exc_lines = _entry_lines(text)

        def line(lines: list[int | None], i: int) -> int | None:
            return lines[i] if i < len(lines) else None

        wanted: list[tuple[str, object]] = []
        meta: list[tuple[str, int, int | None]] = []  # kind, weight, line
        for i, entry in enumerate(spec.terms):
            ln = line(term_lines, i)
            if isinstance(entry, ComboSpec):
                w = spec.weight if entry.weight is None else entry.weight
                for part in entry.all:
                    text_, match = (
                        (part, None) if isinstance(part, str) else (part.term, part.match)
                    )
                    wanted.append((text_, match))
                    meta.append(("part", w, ln))
            elif isinstance(entry, str):
                wanted.append((entry, None))
                meta.append(("term", spec.weight, ln))
            else:
                w = spec.weight if entry.weight is None else entry.weight
                wanted.append((entry.term, entry.match))
                meta.append(("term", w, ln))
        for i, exc in enumerate(spec.exceptions):
            wanted.append((exc, None))
            meta.append(("exception", 0, line(exc_lines, i)))
        pats = make_patterns(wanted, spec.evasion.rules(spec.numerals))  # type: ignore[arg-type]
        for pat, (kind, w, ln) in zip(pats, meta, strict=True):
            recs.append(Rec(kind, pat, spec.category, w, p, ln))
    result.records += len(recs)
    return recs


def check_noise(recs: list[Rec], result: LintResult) -> None:
    for r in recs:
        if not r.pattern.norm:
            result.error(
                r.path, r.line, f"{r.kind} {r.pattern.text!r} is only noise: it matches nothing"
            )


def check_duplicates(recs: list[Rec], result: LintResult) -> None:
    by_key: dict[tuple[str, str, str], list[Rec]] = defaultdict(list)
    by_norm: dict[tuple[str, str], dict[str, Rec]] = defaultdict(dict)
    exc_seen: dict[str, Rec] = {}
    for r in recs:
        if not r.pattern.norm:
            continue
        if r.kind == "term":
            by_key[(r.category, forms(r.pattern)[-1], r.pattern.match)].append(r)
            if r.weight > 0:  # negative context terms are meant per category
                by_norm[(r.pattern.norm, r.pattern.match)].setdefault(r.category, r)
        elif r.kind == "exception":
            first = exc_seen.setdefault(r.pattern.norm.replace(" ", ""), r)
            if first is not r:
                if first.pattern.text == r.pattern.text:
                    what = "duplicate exception"
                elif first.pattern.norm == r.pattern.norm:
                    what = "exception normalises to the same text as"
                else:
                    what = "exception differs only in word spaces from"
                result.warn(r.path, r.line, f"{what} {first.pattern.text!r} ({first.where})")
    for group in by_key.values():
        first = group[0]
        for r in group[1:]:
            if r.weight != first.weight and r.pattern.norm == first.pattern.norm:
                result.error(
                    r.path,
                    r.line,
                    f"term {r.pattern.text!r} has weight {r.weight} here and {first.weight} "
                    f"at {first.where}: the lists will not load",
                )
            elif r.pattern.text == first.pattern.text:
                result.warn(r.path, r.line, f"duplicate term {r.pattern.text!r} ({first.where})")
            elif r.pattern.norm == first.pattern.norm:
                result.warn(
                    r.path,
                    r.line,
                    f"term {r.pattern.text!r} normalises to the same text as "
                    f"{first.pattern.text!r} ({first.where}): one is enough",
                )
            else:  # "loot box" also finds "lootbox": the spaced one covers both
                result.warn(
                    r.path,
                    r.line,
                    f"term {r.pattern.text!r} differs from {first.pattern.text!r} "
                    f"({first.where}) only in word spaces: the one with spaces matches both",
                )
    for cats in by_norm.values():
        if len(cats) < 2:
            continue
        ordered = sorted(cats.values(), key=lambda r: r.category)
        for r in ordered[1:]:
            other = ordered[0]
            result.warn(
                r.path,
                r.line,
                f"term {r.pattern.text!r} is also in category {other.category!r} "
                f"({other.where}): a page with it scores in both",
            )


def forms(p: Pattern, exception: bool = False) -> list[str]:
    """The strings the automaton looks for: a multi-word Latin term also without its
    spaces (``sex toy`` finds ``sextoy``), as the matcher does; an exception only as
    written (``pen is`` must not cancel ``penis``)."""
    if p.latin and " " in p.norm and not exception:
        return [p.norm, p.norm.replace(" ", "")]
    return [p.norm]


def folded_forms(p: Pattern, exception: bool = False) -> list[str]:
    """``forms`` after the evasion fold: what the automaton really holds."""
    return [fold(f).text for f in forms(p, exception)]


def always_cancels(term: Pattern, exc: Pattern) -> bool:
    """Whether exception ``exc`` matches wherever ``term`` matches, so the term can
    never count.

    Each form of the term (see ``forms``) must contain a form of the exception at
    a place where the exception's own match rule is met for every occurrence of
    the term: a CJK or ``substring`` exception anywhere; a Latin ``prefix`` or
    ``word`` exception only where its edges are word edges whatever surrounds the
    term, i.e. at a space or other non-word character of the term, or at the
    term's own edge when the term's mode guarantees a word edge there. An
    exception longer than the term cancels it only where the longer phrase
    occurs: that is what exceptions are for, not a mistake.
    """
    return all(
        any(_cancels_in(t, term, e, exc) for e in folded_forms(exc, True))
        for t in folded_forms(term)
    )


def _cancels_in(text: str, term: Pattern, e_text: str, exc: Pattern) -> bool:
    _, _, word = tables()
    n, m = len(text), len(e_text)

    def edge_before(i: int) -> bool:
        if i == 0:
            return term.latin and term.match in ("word", "prefix")
        return not word[ord(text[i - 1])]

    def edge_after(i: int) -> bool:
        if i == n:
            return term.latin and term.match == "word"
        return not word[ord(text[i])]

    at = text.find(e_text)
    while at >= 0:
        if not exc.latin or exc.match == "substring":
            return True
        if edge_before(at) and (exc.match == "prefix" or edge_after(at + m)):
            return True
        at = text.find(e_text, at + 1)
    return False


def check_exceptions(recs: list[Rec], result: LintResult) -> None:
    excs = [r for r in recs if r.kind == "exception" and r.pattern.norm]
    terms = [r for r in recs if r.kind in ("term", "part") and r.pattern.norm]
    if not excs or not terms:
        return
    by_form: dict[str, list[Rec]] = defaultdict(list)
    for r in excs:
        for f in folded_forms(r.pattern, True):
            if f:
                by_form[f].append(r)
    if not by_form:
        return
    keys = sorted(by_form)
    ac = AhoCorasick(keys, matchkind=MatchKind.Standard)
    for t in terms:
        cands: dict[int, Rec] = {}
        for text in folded_forms(t.pattern):
            for idx, _, _ in ac.find_matches_as_indexes(text, overlapping=True):
                for e in by_form[keys[idx]]:
                    cands.setdefault(id(e), e)
        hit = next((e for e in cands.values() if always_cancels(t.pattern, e.pattern)), None)
        if hit is not None:
            what = "term" if t.kind == "term" else "combination part"
            result.warn(
                t.path,
                t.line,
                f"{what} {t.pattern.text!r} can never count: exception "
                f"{hit.pattern.text!r} ({hit.where}) cancels it wherever it occurs",
            )


def check_folding(recs: list[Rec], result: LintResult) -> None:
    """Terms that the evasion rules find in another term written out: the matcher
    itself (with each file's rules) scans every term, one separated from the next."""
    terms = [r for r in recs if r.kind == "term" and r.pattern.norm]
    if len(terms) < 2:
        return
    ls = ListSet(terms=[Term(r.pattern, r.category, 1, False, Origin(r.path, ())) for r in terms])
    texts = [r.pattern.text for r in terms]
    norm = normalize(BOUNDARY.join(texts))
    found = Matcher(ls).find(norm)
    starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
    ends = starts + np.array([len(t) for t in texts])
    reported: set[tuple[int, int]] = set()
    src_s = norm.pos[found.start]
    src_e = norm.pos[found.end - 1] + 1
    for j, a, b in zip(found.term.tolist(), src_s.tolist(), src_e.tolist(), strict=True):
        k = int(np.searchsorted(starts, a, side="right")) - 1
        pair = (min(j, k), max(j, k))
        if k == j or pair in reported or b > ends[k]:
            continue
        rk, rj = terms[k], terms[j]
        if rk.pattern.norm.replace(" ", "") == rj.pattern.norm.replace(" ", ""):
            continue  # the same term (check_duplicates reports those)
        # Only where the whole term is found: "sex" in "sex toy" is the usual case.
        whole = norm.text[np.searchsorted(norm.pos, starts[k]) : np.searchsorted(norm.pos, ends[k])]
        if whole != norm.text[np.searchsorted(norm.pos, a) : np.searchsorted(norm.pos, b)]:
            continue
        reported.add(pair)
        later, other = terms[pair[1]], terms[pair[0]]
        result.warn(
            later.path,
            later.line,
            f"term {later.pattern.text!r} and {other.pattern.text!r} ({other.where}) find "
            "each other through the evasion rules (leet, repeats, look-alikes, numerals): "
            "one is enough",
        )


def load_words(path: Path) -> list[str]:
    words: dict[str, None] = {}
    for w in path.read_text(encoding="utf-8", errors="replace").splitlines():
        w = w.strip()
        if w and "'" not in w:  # skip possessives: the word itself is listed too
            words[w.lower()] = None
    return list(words)


def check_english(recs: list[Rec], words: list[str], result: LintResult) -> None:
    cands = [
        r
        for r in recs
        if r.kind in ("term", "part")
        and r.pattern.latin
        and r.pattern.norm
        and r.pattern.match in ("substring", "prefix")
    ]
    if not cands or not words:
        return
    # Dictionary words have no spaces: multi-word patterns count in their spaceless form.
    listed = {forms(r.pattern)[-1] for r in recs if r.pattern.norm}
    excs = sorted({forms(r.pattern)[-1] for r in recs if r.kind == "exception" and r.pattern.norm})
    exc_ac = AhoCorasick(excs, matchkind=MatchKind.Standard) if excs else None
    norms = sorted({forms(r.pattern)[-1] for r in cands})
    ac = AhoCorasick(norms, matchkind=MatchKind.Standard)
    text = "\n".join(words)
    starts: list[int] = []
    at = 0
    for w in words:
        starts.append(at)
        at += len(w) + 1
    found: dict[str, dict[str, bool]] = defaultdict(dict)  # norm -> word -> at word start
    for idx, s, e in ac.find_matches_as_indexes(text, overlapping=True):
        k = bisect_right(starts, s) - 1
        w = words[k]
        if e - s == len(w) or w in listed:
            continue  # the word is the term itself, or is on the lists
        off = s - starts[k]
        if exc_ac is not None and any(
            a < off + (e - s) and b > off
            for _, a, b in exc_ac.find_matches_as_indexes(w, overlapping=True)
        ):
            continue  # an exception cancels the term inside this word
        if off == 0 and w[e - s :] in INFLECTIONS:
            continue  # the term with an ending (fucked, masturbating): what it is meant for
        seen = found[norms[idx]]
        seen[w] = seen.get(w, False) or off == 0
    reported: set[tuple[str, str]] = set()
    for r in cands:
        hits = found.get(forms(r.pattern)[-1], {})
        # Shortest first: the everyday words make the best examples.
        inside = sorted(
            (w for w, at_start in hits.items() if r.pattern.match == "substring" or at_start),
            key=lambda w: (len(w), w),
        )
        key = (r.pattern.norm, r.pattern.match)
        if not inside or key in reported:
            continue
        reported.add(key)
        eg = ", ".join(inside[:EXAMPLES]) + (", …" if len(inside) > EXAMPLES else "")
        fix = "match: word" if r.pattern.match == "substring" else "match: word or exceptions"
        result.warn(
            r.path,
            r.line,
            f"{r.pattern.text!r} ({r.pattern.match}) occurs inside {len(inside)} common English "
            f"word{'s' if len(inside) > 1 else ''} ({eg}): use {fix}, or list those words "
            "as exceptions",
        )


def check_domains(dirs: list[str], result: LintResult) -> None:
    try:
        loaded = load_domains(dirs)
    except SourceError as e:
        result.error(e.path, e.line, e.reason)
        return
    result.files += len(loaded.files)
    for w in loaded.warnings:
        result.warn(w.path, w.line, w.reason)


def _context(against: Iterable[str], own: list[Path], result: LintResult) -> list[Rec]:
    """The records of the lists loaded together with ``own`` (not ``own`` itself)."""
    mine = {p.resolve() for p in own}
    try:
        paths = [p for p in list_files(against) if p.resolve() not in mine]
    except SourceError as e:
        result.notes.append(f"the lists to check against do not load: {e}")
        return []
    result.notes.append(
        f"checked together with {len(paths)} list files the proxy loads with these "
        f"({', '.join(against)}); --alone checks these files by themselves"
    )
    return read_records(paths, LintResult())


def lint(dirs: list[str], words_path: str | None = None, against: Iterable[str] = ()) -> LintResult:
    """``dirs``' list files checked; ``against``: the other lists the proxy loads with
    them (a term here with another weight there stops the proxy's lists from loading).
    Findings are reported for ``dirs``' files only."""
    result = LintResult()
    try:
        paths = list_files(dirs)
    except SourceError as e:
        result.error(e.path, e.line, e.reason)
        return result
    recs = read_records(paths, result)
    check_noise(recs, result)
    others = _context(against, paths, result) if against else []
    if others:
        # Theirs first: the proxy loads them first, so a conflict is this file's.
        together = LintResult()
        check_duplicates(others + recs, together)
        check_exceptions(others + recs, together)
        own = {str(p) for p in paths}
        result.findings.extend(f for f in together.findings if f.path in own)
    else:
        check_duplicates(recs, result)
        check_exceptions(recs, result)
    check_folding(recs, result)
    wpath = Path(words_path) if words_path else DEFAULT_WORDS
    if wpath.is_file():
        check_english(recs, load_words(wpath), result)
    else:
        result.notes.append(
            f"no English word list at {wpath} (install Debian's `wamerican` or give "
            "--words FILE): the check for terms inside English words was skipped"
        )
    check_domains(dirs, result)
    return result


def main(
    dirs: list[str], words: str | None = None, strict: bool = False, against: Iterable[str] = ()
) -> int:
    result = lint(dirs, words, against)
    order = sorted(result.findings, key=lambda f: (f.path, f.line or 0, f.level))
    for f in order:
        print(f)
    for note in result.notes:
        print(f"qinglang: note: {note}", file=sys.stderr)
    print(
        f"{result.errors} error{'s' * (result.errors != 1)}, "
        f"{result.warnings} warning{'s' * (result.warnings != 1)} "
        f"in {result.files} file{'s' * (result.files != 1)} ({result.records} entries)",
        file=sys.stderr,
    )
    if result.errors or (strict and result.warnings):
        return 1
    return 0
