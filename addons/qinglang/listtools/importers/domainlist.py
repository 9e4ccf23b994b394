"""Plain domain lists (one domain per line) and UT1-style category folders
(``<root>/<category>/domains``, the layout of the Université Toulouse Capitole
lists and of e2guardian's ``blacklists`` folder).

Lines follow qinglang's own domain format (qinglang.domains): ``#`` comments,
optional leading ``.`` or ``*.``. UT1's ``urls`` files hold URL paths, which
qinglang's domain lists do not; they are reported and not imported.
"""

from __future__ import annotations

from pathlib import Path

from qinglang.listtools.categories import qinglang_category
from qinglang.listtools.importers import (
    DomainImport,
    ImportFailed,
    ImportReport,
    Options,
    numbered,
    progress,
    read_lines,
)
from qinglang.policy.domains import CATEGORY_RE, parse_line


def require_category(src: Path, opts: Options, fmt: str) -> str:
    if opts.category:
        return opts.category
    raise ImportFailed(f"a {fmt} list names no category: give --category (e.g. --category porn)")


def check_category(name: str) -> str:
    if not CATEGORY_RE.match(name):
        raise ImportFailed(f"category {name!r} must be [a-z0-9_-]+")
    return name


def _ut1_files(root: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    for p in sorted(root.rglob("domains")):
        if not p.is_file():
            continue
        rel = p.parent.relative_to(root)
        name = "_".join(rel.parts) if rel.parts else root.name
        out.append((p, name))
    return out


def read(src: Path, opts: Options, report: ImportReport) -> DomainImport:
    if src.is_dir():
        files = _ut1_files(src)
        if not files:
            raise ImportFailed(f"{src}: no <category>/domains files in this folder")
        urls = [p for p in src.rglob("urls") if p.is_file()]
        for p in urls:
            report.skip("UT1 urls file (URL paths are not domains)", p, None)
        pairs = []
        for path, name in files:
            cat = opts.category or qinglang_category(name)
            if cat is None:
                report.skip(f"folder name {name!r} is not a usable category", path, None)
                continue
            pairs.append((path, cat))
    elif src.name == "domains" and not opts.category:
        cat = qinglang_category(src.parent.name)
        if cat is None:
            raise ImportFailed(f"{src}: give --category")
        pairs = [(src, cat)]
    else:
        pairs = [(src, require_category(src, opts, "domains"))]

    result = DomainImport()
    total = sum(p.stat().st_size for p, _ in pairs)
    with progress(total, f"reading {src.name}", opts.progress) as bar:
        for path, cat in pairs:
            check_category(cat)
            lines = read_lines(path, report)
            for n, raw in numbered(lines, bar, report):
                host, exception, problem = parse_line(raw)
                if problem:
                    report.skip(problem, path, n)
                elif host is not None:
                    result.add(cat, host, exception)
    return result
