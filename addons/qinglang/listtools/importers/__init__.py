"""``qinglang lists import FORMAT SRC``: other projects' lists into qinglang's format.

Each format module reads its source into plain data (``KeywordImport`` or
``DomainImport``) and records in an ``ImportReport`` every line it could not
import, or imported only approximately, with the reason. ``output`` writes the
result as list files that ``load_lists`` / ``load_domains`` accept.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Loc = tuple[str, int | None]

# How many line numbers a report shows per reason unless asked for all.
SHOWN_LINES = 10


@dataclass(slots=True)
class ImportReport:
    source: str
    skipped: dict[str, list[Loc]] = field(default_factory=dict)  # not imported
    approximated: dict[str, list[Loc]] = field(default_factory=dict)  # imported, changed
    notes: list[str] = field(default_factory=list)
    written: list[tuple[str, int, int]] = field(default_factory=list)  # path, entries, exc.
    lines: int = 0

    def skip(self, reason: str, path: str | Path, line: int | None) -> None:
        self.skipped.setdefault(reason, []).append((str(path), line))

    def approx(self, reason: str, path: str | Path, line: int | None) -> None:
        self.approximated.setdefault(reason, []).append((str(path), line))

    @property
    def skipped_count(self) -> int:
        return sum(len(v) for v in self.skipped.values())

    def render(self, verbose: bool = False) -> str:
        out: list[str] = []
        for path, n, exc in self.written:
            extra = f" and {exc} exceptions" if exc else ""
            out.append(f"wrote {path}: {n} entries{extra}")
        if not self.written:
            out.append("nothing was imported")
        out.extend(self.notes)
        for title, table in (
            ("imported with a change", self.approximated),
            ("not imported", self.skipped),
        ):
            for reason, locs in sorted(table.items(), key=lambda kv: -len(kv[1])):
                out.append(f"{title}: {len(locs)} × {reason}")
                shown = locs if verbose else locs[:SHOWN_LINES]
                for path, line in shown:
                    out.append(f"  {path}:{line}" if line else f"  {path}")
                if len(locs) > len(shown):
                    out.append(f"  … and {len(locs) - len(shown)} more (--verbose lists all)")
        return "\n".join(out)


@dataclass(slots=True)
class KwEntry:
    """A term (one part) or a combination (several parts) from the source."""

    parts: list[tuple[str, str]]  # (text, match mode meant by the source)
    weight: int
    path: str
    line: int


@dataclass(slots=True)
class KeywordImport:
    """Per category, in source order."""

    entries: dict[str, list[KwEntry]] = field(default_factory=dict)

    def add(self, category: str, entry: KwEntry) -> None:
        self.entries.setdefault(category, []).append(entry)


@dataclass(slots=True)
class DomainImport:
    """Per category: listed domains and exceptions, in source order, without repeats."""

    listed: dict[str, dict[str, None]] = field(default_factory=dict)
    excepted: dict[str, dict[str, None]] = field(default_factory=dict)

    def add(self, category: str, domain: str, exception: bool = False) -> None:
        table = self.excepted if exception else self.listed
        table.setdefault(category, {})[domain] = None
        if not exception:
            self.excepted.setdefault(category, {})
        else:
            self.listed.setdefault(category, {})


@dataclass(slots=True)
class Options:
    category: str | None = None
    lang: str | None = None
    kind: str | None = None  # e2guardian: banned | weighted | exception
    progress: bool = True


class ImportFailed(Exception):
    """The import cannot go ahead at all (missing source, no category, …)."""


class Progress:
    """A byte-counting progress bar on stderr that appears only after a second.

    tqdm does the drawing (and stays silent when stderr is not a terminal).
    """

    def __init__(self, total: int, desc: str, enabled: bool, unit: str = "B") -> None:
        self._bar: Any = None
        if enabled and total > 0:
            try:
                from tqdm import tqdm
            except ImportError:  # the bar is a convenience: import without it
                return
            self._bar = tqdm(
                total=total,
                desc=desc,
                unit=unit,
                unit_scale=unit == "B",
                delay=1.0,
                disable=None,
                file=sys.stderr,
                leave=False,
            )

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextmanager
def progress(total: int, desc: str, enabled: bool, unit: str = "B") -> Iterator[Progress]:
    bar = Progress(total, desc, enabled, unit)
    try:
        yield bar
    finally:
        bar.close()


def read_lines(path: Path, report: ImportReport) -> list[str]:
    """A source file's lines; list files in the wild are often Latin-1 or GBK."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        from qinglang.content.charset import decode

        dec = decode(raw, None)
        text = dec.text.encode("utf-8", "replace").decode("utf-8")
        report.notes.append(f"{path}: not UTF-8; read as {dec.charset}")
    return text.splitlines()


def numbered(lines: list[str], bar: Progress, report: ImportReport) -> Iterator[tuple[int, str]]:
    """(line number, line), moving the progress bar by the characters read."""
    done = 0
    for n, raw in enumerate(lines, start=1):
        done += len(raw) + 1
        if not n % 4096:
            bar.update(done)
            done = 0
        report.lines += 1
        yield n, raw
    bar.update(done)


Reader = Callable[[Path, Options, ImportReport], KeywordImport | DomainImport]


def readers() -> dict[str, Reader]:
    from qinglang.listtools.importers import adblock, domainlist, e2guardian, hosts

    return {
        "e2guardian": e2guardian.read,
        "hosts": hosts.read,
        "domains": domainlist.read,
        "adblock": adblock.read,
    }


FORMATS = ("e2guardian", "hosts", "domains", "adblock")


def run_import(fmt: str, src: Path, out: Path, opts: Options, force: bool = False) -> ImportReport:
    """Read ``src`` in ``fmt`` and write qinglang list files under ``out``."""
    from qinglang.listtools.importers import output

    if not src.exists():
        raise ImportFailed(f"{src}: no such file or directory")
    report = ImportReport(str(src))
    data = readers()[fmt](src, opts, report)
    if isinstance(data, KeywordImport):
        output.write_keywords(data, src, out, opts, report, force)
    else:
        output.write_domains(data, src, out, report, force, fmt)
    return report
