"""DansGuardian / e2guardian phrase lists (banned, weighted and exception).

The format, as e2guardian's own list headers document it and its list reader
(ListContainer::readPhraseList) behaves:

- a phrase is written between ``<`` and ``>``; spaces inside the brackets are
  word edges: ``< sex >`` the word, ``< sex>`` words starting with it, ``<sex >``
  words ending with it, ``<sex>`` the string anywhere;
- ``<a>,<b>,<c>`` is a combination: all parts on the same page;
- ``<phrase><40>`` gives a weight (weighted list), negative weights lower the
  page's score, ``<phrase><50%>`` is a share of the group's naughtiness limit;
  a phrase without a weight is banned (or, in an exception list, an exception);
- ``#listcategory: "Name"`` names the category of the phrases that follow,
  ``.Include</path/to/list>`` reads another list, ``#`` starts a comment;
  other lines (anything not starting with ``<``) are ignored;
- lines are lower-cased, and ASCII punctuation inside a phrase (``-``, ``.``,
  ``"`` …) is read as a space, runs of spaces as one.

qinglang's mapping (see docs/getting-started/lists.md):

- word edges: both -> ``match: word``; start only -> ``prefix``; none ->
  ``substring``; end only has no counterpart -> ``substring`` (reported);
- banned -> weight 100 (blocks on its own under the default threshold);
- exception phrases let a whole page through in e2guardian, whereas qinglang's
  ``exceptions`` only cancel the matches they overlap, so they become terms of
  weight -1000 (the lowest), which zero their category's score on that page;
- ``<n%>`` -> n (a share of a threshold of 100).
"""

from __future__ import annotations

import re
from pathlib import Path

from qinglang.listtools.categories import qinglang_category
from qinglang.listtools.importers import (
    ImportFailed,
    ImportReport,
    KeywordImport,
    KwEntry,
    Options,
    Progress,
    progress,
    read_lines,
)

BANNED_WEIGHT = 100
EXCEPTION_WEIGHT = -1000
_INCLUDE = re.compile(r"^\.include<([^>]*)>", re.I)
_CATEGORY = re.compile(r'^#listcategory:[^"]*"([^"]*)"', re.I)
_PLACEHOLDERS = ("@DGCONFDIR@", "@E2CONFDIR@", "__LISTDIR__")
_LEADING_INT = re.compile(r"^\s*([+-]?\d+)")


def _atoi(s: str) -> int:
    """C's atoi: leading digits, 0 when there are none (e2guardian parses weights so)."""
    m = _LEADING_INT.match(s)
    return int(m.group(1)) if m else 0


# e2guardian's punctuation rule (String::removePunctuation): ASCII punctuation other
# than / < > { | } ~ becomes a space, and runs of spaces become one.
_PUNCT = {c: " " for c in range(0x2F) if chr(c) not in "\n"}
_PUNCT.update({ord(c): " " for c in ":;=?@[\\]^_`"})
_SPACES = re.compile(" {2,}")


def _depunct(phrase: str) -> str:
    return _SPACES.sub(" ", phrase.translate(_PUNCT))


def _mode(phrase: str) -> tuple[str, str]:
    """(text, match mode) from a phrase whose edge spaces mark word edges."""
    left, right = phrase.startswith(" "), phrase.endswith(" ")
    text = phrase.strip(" ")
    if left and right:
        return text, "word"
    if left:
        return text, "prefix"
    if right:
        return text, "suffix"  # no such mode in qinglang: the writer decides
    return text, "substring"


class _Reader:
    def __init__(self, src: Path, opts: Options, report: ImportReport, result: KeywordImport):
        self.src = src
        self.opts = opts
        self.report = report
        self.result = result
        self.root = src.parent
        self.stack: list[Path] = []
        self.read_files: set[Path] = set()
        self.bar: Progress | None = None
        kind = (opts.kind or "").lower()
        if kind and kind not in ("banned", "weighted", "exception"):
            raise ImportFailed(f"unknown e2guardian list kind {kind!r}")
        self.exception = kind == "exception" or (not kind and "exception" in src.name.lower())
        self.folder_category = qinglang_category(src.parent.name)
        self.used_folder_category = False

    def run(self) -> None:
        total = self.src.stat().st_size
        with progress(total, f"reading {self.src.name}", self.opts.progress) as bar:
            self.bar = bar
            self.read(self.src, None)
        if self.used_folder_category:
            self.report.notes.append(
                f"phrases without #listcategory went to category {self.folder_category!r} "
                "(the folder's name); give --category to choose"
            )
        if self.exception:
            self.report.notes.append(
                "exception phrases were imported as terms of weight "
                f"{EXCEPTION_WEIGHT}: in e2guardian they let the whole page through"
            )

    def read(self, path: Path, category: str | None) -> None:
        resolved = path.resolve()
        if resolved in self.stack:
            self.report.skip("include loop", path, None)
            return
        self.stack.append(resolved)
        self.read_files.add(resolved)
        try:
            lines = read_lines(path, self.report)
        except OSError as e:
            self.report.skip(f"cannot read included list ({e.strerror})", path, None)
            self.stack.pop()
            return
        done = 0
        for n, raw in enumerate(lines, start=1):
            done += len(raw) + 1
            if n % 2048 == 0 and self.bar is not None and len(self.stack) == 1:
                self.bar.update(done)
                done = 0
            self.report.lines += 1
            line = raw.strip(" \t\r\n")
            if not line:
                continue
            if line.startswith("<"):
                self.phrase_line(line.lower(), path, n, category)
            elif line.startswith("."):
                m = _INCLUDE.match(line)
                if m and m.group(1).strip():
                    self.include(m.group(1).strip(), path, n, category)
                else:
                    self.report.skip("not an .Include<path> line", path, n)
            elif line.startswith("#"):
                m = _CATEGORY.match(line)
                if m:
                    category = self.category(m.group(1), path, n) or category
                elif line.lower().startswith("#time:"):
                    self.report.approx(
                        "time-limited list (#time:): imported as always active", path, n
                    )
            else:
                self.report.skip("not a phrase (phrases are written <like this>)", path, n)
        if self.bar is not None and len(self.stack) == 1:
            self.bar.update(done)
        self.stack.pop()

    def category(self, name: str, path: Path, n: int) -> str | None:
        if self.opts.category:
            return self.opts.category
        cat = qinglang_category(name)
        if cat is None:
            self.report.skip(f"#listcategory {name!r} has no usable name", path, n)
        return cat

    def include(self, target: str, path: Path, n: int, category: str | None) -> None:
        found = self.resolve(target, path)
        if found is None:
            self.report.skip(f"included list not found ({target})", path, n)
            return
        if found.resolve() in self.read_files and found.resolve() not in self.stack:
            self.report.skip("list included twice (read once)", path, n)
            return
        self.read(found, category)

    def resolve(self, target: str, including: Path) -> Path | None:
        """Find an included list: as written, beside the including list, or (for a
        copied e2guardian tree whose includes name /etc/...) the longest tail of
        the path that exists under the source's folder."""
        for ph in _PLACEHOLDERS:
            target = target.replace(ph, "")
        p = Path(target)
        if p.is_absolute() and p.is_file():
            return p
        bases = [including.parent, self.root]
        for base in bases:
            q = base / target.lstrip("/")
            if q.is_file():
                return q
        parts = [x for x in Path(target).parts if x not in ("/", "")]
        for k in range(1, len(parts)):
            tail = Path(*parts[k:])
            for base in (*bases, self.root.parent):
                q = base / tail
                if q.is_file():
                    return q
        return None

    def phrase_line(self, line: str, path: Path, n: int, category: str | None) -> None:
        weight_text = line.split("><", 1)[1] if "><" in line else ""
        pct = _atoi(weight_text.split("%>", 1)[0]) if "%>" in weight_text else 0
        weight = pct if pct else _atoi(weight_text.split(">", 1)[0]) if weight_text else 0
        if pct:
            self.report.approx(
                "weight given as a share of the naughtiness limit (<n%>): read as n", path, n
            )
        if weight:
            body = line.split("><", 1)[0] + ">"
        else:
            body = line
            if "><" in line:
                self.report.approx("weight 0: e2guardian reads the phrase as banned", path, n)
            weight = EXCEPTION_WEIGHT if self.exception else BANNED_WEIGHT
            if not self.exception:
                self.report.approx(
                    f"banned phrase (no weight): weight {BANNED_WEIGHT}, which blocks a page "
                    f"on its own only where block_threshold is {BANNED_WEIGHT} or less",
                    path,
                    n,
                )
        if weight > 1000 or weight < -1000:
            self.report.approx(f"weight {weight} outside -1000..1000: clamped", path, n)
            weight = max(-1000, min(1000, weight))

        raw_parts: list[str] = []
        rest = body
        if len(rest.split(">,", 1)[1] if ">," in rest else "") > 2:
            while len(rest) > 2:
                rest = rest.split("<", 1)[1] if "<" in rest else ""
                raw_parts.append(rest.split(">", 1)[0] if ">" in rest else "")
                rest = rest.split(">,", 1)[1] if ">," in rest else ""
        else:
            inner = body.split("<", 1)[1] if "<" in body else ""
            if ">" not in inner:
                self.report.skip("phrase without a closing >", path, n)
                return
            raw_parts.append(inner.split(">", 1)[0])

        parts: list[tuple[str, str]] = []
        for rp in raw_parts:
            text, mode = _mode(_depunct(rp))
            if not text:
                continue  # e2guardian drops empty parts too
            if mode == "suffix":
                self.report.approx(
                    "word-end-only phrase (<word >): matched anywhere (substring)", path, n
                )
            parts.append((text, mode))
        if not parts:
            self.report.skip("empty phrase", path, n)
            return
        cat = self.opts.category or category
        if cat is None:
            cat = self.folder_category
            self.used_folder_category = True
        if cat is None:
            raise ImportFailed(f"{path}:{n}: no #listcategory for this phrase; give --category")
        self.result.add(cat, KwEntry(parts, weight, str(path), n))


def read(src: Path, opts: Options, report: ImportReport) -> KeywordImport:
    if src.is_dir():
        raise ImportFailed(f"{src} is a folder: give the phrase list file to import")
    result = KeywordImport()
    _Reader(src, opts, report, result).run()
    return result
