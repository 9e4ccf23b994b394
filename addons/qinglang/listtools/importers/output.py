"""Write imported lists in qinglang's own formats, and check that they load."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from qinglang.engine.lists import Pattern, make_patterns
from qinglang.listtools.categories import slug
from qinglang.listtools.importers import (
    DomainImport,
    ImportFailed,
    ImportReport,
    KeywordImport,
    KwEntry,
    Options,
    Progress,
    progress,
)
from qinglang.policy.domains import CATEGORY_RE, load_domains

# Written by hand rather than with yaml.dump: one flow mapping per term keeps a
# 100,000-term file readable and diffable, and this is several times faster.
_CHARS = r"\u00a0-\u2027\u202a-\ufefe\uff00-\U0010ffff"
_PLAIN = re.compile(rf"^[A-Za-z{_CHARS}][\w{_CHARS} .'-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"}
_CJK = re.compile("[\u2e80-\U0010ffff]")


def scalar(s: str) -> str:
    """``s`` as a YAML scalar that reads back as the same string in a flow mapping."""
    if (
        _PLAIN.match(s)
        and not s.endswith((" ", "-", "'"))
        and s.lower() not in _YAML_WORDS
        and "  " not in s
    ):
        return s
    return (
        json.dumps(s, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    )


def _check_targets(paths: list[Path], force: bool) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise ImportFailed(
            "these files exist already (use --force to replace them): " + ", ".join(existing)
        )


def _guess_lang(pats: list[Pattern]) -> str | None:
    cjk = sum(1 for p in pats if _CJK.search(p.norm))
    return "zh" if pats and cjk * 2 > len(pats) else None


def write_keywords(
    data: KeywordImport,
    src: Path,
    out: Path,
    opts: Options,
    report: ImportReport,
    force: bool,
) -> None:
    stem = slug(src.name.replace(".", "_")) or "imported"
    plan: list[tuple[str, Path, list[KwEntry]]] = []
    for category, entries in data.entries.items():
        if not CATEGORY_RE.match(category):
            raise ImportFailed(f"category {category!r} must be [a-z0-9_-]+")
        plan.append((category, out / f"{category}.{stem}.yaml", entries))
    _check_targets([p for _, p, _ in plan], force)
    out.mkdir(parents=True, exist_ok=True)
    total = sum(len(e) for _, _, e in plan)
    with progress(total, "writing", opts.progress, unit=" entries") as bar:
        rendered = [
            (path, *_render_keywords(category, entries, src, opts, report, bar))
            for category, path, entries in plan
        ]
    for path, text, n in rendered:
        if not n:
            continue
        path.write_text(text, encoding="utf-8")
        report.written.append((str(path), n, 0))


def _render_keywords(
    category: str,
    entries: list[KwEntry],
    src: Path,
    opts: Options,
    report: ImportReport,
    bar: Progress,
) -> tuple[str, int]:
    pats = iter(make_patterns([(t, None) for e in entries for t, _ in e.parts]))
    terms: list[tuple[str, str | None, int]] = []  # text, match (None: the default), weight
    combos: list[tuple[list[tuple[str, str | None]], int]] = []
    seen: dict[tuple[str, str], tuple[int, KwEntry]] = {}
    seen_combos: set[tuple[tuple[str, str], ...]] = set()
    all_pats: list[Pattern] = []
    for i, e in enumerate(entries, start=1):
        if not i % 4096:
            bar.update(4096)
        parts: list[tuple[str, str | None]] = []
        keys: list[tuple[str, str]] = []
        noise = False
        for text, mode in e.parts:
            pat = next(pats)
            all_pats.append(pat)
            if not pat.norm:
                noise = True
                continue
            if pat.latin:
                final = "substring" if mode == "suffix" else mode
                parts.append((text, final))
                if " " in text.strip():
                    report.approx(
                        "phrase with spaces: also matches written together or with other "
                        "punctuation between the words (qinglang ignores them inside a term)",
                        e.path,
                        e.line,
                    )
            else:
                final = "substring"
                parts.append((text, None))
                if mode != "substring":
                    report.approx(
                        "word edges of a phrase that is not Latin script dropped: it matches "
                        "anywhere (substring), as CJK terms do",
                        e.path,
                        e.line,
                    )
            keys.append((pat.norm, final))
        if noise:
            report.skip("phrase is only punctuation or spaces", e.path, e.line)
            continue
        if len(parts) == 1:
            prev = seen.get(keys[0])
            if prev is not None:
                why = "the same weight" if prev[0] == e.weight else "another weight"
                report.skip(
                    f"repeats an earlier phrase with {why}: the first is kept", e.path, e.line
                )
                continue
            seen[keys[0]] = (e.weight, e)
            terms.append((parts[0][0], parts[0][1], e.weight))
        else:
            ckey = tuple(sorted(keys))
            if ckey in seen_combos:
                report.skip("repeats an earlier combination: the first is kept", e.path, e.line)
                continue
            seen_combos.add(ckey)
            combos.append((parts, e.weight))

    if not terms and not combos:
        return "", 0
    weights = Counter(w for _, _, w in terms) + Counter(w for _, w in combos)
    file_weight = weights.most_common(1)[0][0]
    lang = opts.lang or _guess_lang(all_pats)
    lines = [
        f"# Imported by `qinglang lists import` from {src.name}.",
        "# Review before shipping: weights and match modes follow blocklists/README.md.",
        f"category: {category}",
    ]
    if lang:
        lines.append(f"lang: {lang}")
    lines.append(f"weight: {file_weight}")
    lines.append("terms:")
    for text, match, w in terms:
        if match is None and w == file_weight:
            lines.append(f"  - {scalar(text)}")
            continue
        fields = [f"term: {scalar(text)}"]
        if w != file_weight:
            fields.append(f"weight: {w}")
        if match is not None:
            fields.append(f"match: {match}")
        lines.append("  - {" + ", ".join(fields) + "}")
    for parts, w in combos:
        items = [
            scalar(t) if m is None else "{term: " + scalar(t) + f", match: {m}}}" for t, m in parts
        ]
        weight = f", weight: {w}" if w != file_weight else ""
        lines.append("  - {all: [" + ", ".join(items) + "]" + weight + "}")
    return "\n".join(lines) + "\n", len(terms) + len(combos)


def write_domains(
    data: DomainImport, src: Path, out: Path, report: ImportReport, force: bool, fmt: str
) -> None:
    folder = out / "domains"
    cats = sorted(set(data.listed) | set(data.excepted))
    for c in cats:
        if not CATEGORY_RE.match(c):
            raise ImportFailed(f"category {c!r} must be [a-z0-9_-]+")
    targets = [folder / f"{c}.txt" for c in cats]
    _check_targets(targets, force)
    folder.mkdir(parents=True, exist_ok=True)
    for c, path in zip(cats, targets, strict=True):
        listed = sorted(data.listed.get(c, {}))
        excepted = sorted(data.excepted.get(c, {}))
        if not listed and not excepted:
            continue
        lines = [
            f"# Imported by `qinglang lists import {fmt}` from {src.name}.",
            "# One domain per line; it covers every name under it. @@ lines are exceptions.",
            *listed,
        ]
        if excepted:
            lines.append("# exceptions")
            lines.extend(EXC + d for d in excepted)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        report.written.append((str(path), len(listed), len(excepted)))
    written = [Path(p) for p, _, _ in report.written]
    if written:
        loaded = load_domains(written)
        if loaded.warnings:
            raise ImportFailed(
                f"the written list does not load cleanly (please report this): {loaded.warnings[0]}"
            )


EXC = "@@"
