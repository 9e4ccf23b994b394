"""Domain lists: which categories a host belongs to.

Format (the one the big public category lists such as UT1's use): one file per
category, ``<list dir>/domains/<category>.txt``, one domain per line. ``#`` starts
a comment (a whole line, or after a space), blank lines are ignored. A line may
be written ``example.com``, ``.example.com`` or ``*.example.com``: all three list
the domain and every name under it. A line ``@@example.com`` (qinglang's
extension, borrowed from adblock's exceptions) takes the domain and everything
under it out of that category again, whatever else lists it. Names are
case-insensitive, may end in a dot and may be written in Unicode or punycode.

Lookups cost one set probe per label suffix of the host (``a.b.example.com``:
four probes), so a million listed domains cost memory, not time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from qinglang.engine.yamlloc import SourceError
from qinglang.policy.hosts import NAME_RE, canonical_name, parse_ip

CATEGORY_RE = re.compile(r"^[a-z0-9_-]+$")
EXCEPTION_PREFIX = "@@"


@dataclass(frozen=True, slots=True)
class DomainWarning:
    """A line that was skipped, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def parse_line(raw: str) -> tuple[str | None, bool, str | None]:
    """One line of a domain file: (domain or None, is_exception, problem or None).

    The problem is a short reason without the line's text, so reports can count them."""
    text = raw.strip()
    if not text or text.startswith("#"):
        return None, False, None
    cut = text.find(" #")
    if cut < 0:
        cut = text.find("\t#")
    if cut >= 0:
        text = text[:cut].rstrip()
    exception = text.startswith(EXCEPTION_PREFIX)
    if exception:
        text = text[len(EXCEPTION_PREFIX) :]
    if text.startswith("*."):
        text = text[2:]
    elif text.startswith("."):
        text = text[1:]
    if any(c.isspace() for c in text):
        return None, exception, "more than one word on the line (one domain per line)"
    if "/" in text:
        return None, exception, "a URL, not a domain"
    host = canonical_name(text)
    if host is None:
        return None, exception, "not a valid domain name"
    return host, exception, None


@dataclass(slots=True)
class DomainLists:
    """Compiled domain lists. ``categories_for`` is pure and thread-safe."""

    categories: tuple[str, ...] = ()
    files: list[str] = field(default_factory=list)
    warnings: list[DomainWarning] = field(default_factory=list)
    digest: str = ""
    # domain -> bit mask over ``categories`` (ints are far smaller than sets
    # when a million domains are listed).
    _listed: dict[str, int] = field(default_factory=dict)
    _excepted: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._listed)

    def __bool__(self) -> bool:
        return bool(self._listed)

    def categories_for(self, host: str) -> set[str]:
        """Categories listing ``host`` or one of its parent domains."""
        if not self._listed:
            return set()
        h = canonical_name(host)
        if h is None:
            return set()
        listed, excepted = self._masks(h)
        return set(self._names(listed & ~excepted))

    def matches(self, host: str) -> dict[str, str]:
        """category -> the listed domain that put ``host`` in it (for logs and block pages)."""
        h = canonical_name(host)
        if h is None or not self._listed:
            return {}
        out: dict[str, str] = {}
        excepted = self._masks(h)[1]
        for suffix in _suffixes(h):
            mask = self._listed.get(suffix, 0) & ~excepted
            for name in self._names(mask):
                out.setdefault(name, suffix)
        return out

    def counts(self) -> dict[str, tuple[int, int]]:
        """category -> (listed domains, exceptions)."""
        listed = [0] * len(self.categories)
        excepted = [0] * len(self.categories)
        for table, out in ((self._listed, listed), (self._excepted, excepted)):
            for mask in table.values():
                for i in _bits(mask):
                    out[i] += 1
        return {c: (listed[i], excepted[i]) for i, c in enumerate(self.categories)}

    def _masks(self, host: str) -> tuple[int, int]:
        listed = excepted = 0
        get_l, get_e = self._listed.get, self._excepted.get
        for suffix in _suffixes(host):
            listed |= get_l(suffix, 0)
            excepted |= get_e(suffix, 0)
        return listed, excepted

    def _names(self, mask: int) -> tuple[str, ...]:
        return _mask_names(self.categories, mask) if mask else ()


def _suffixes(host: str) -> Iterable[str]:
    yield host
    # An address has no parent domains: ``0.0.1`` listed is no parent of ``127.0.0.1``.
    if ":" in host or (host[-1:].isdigit() and parse_ip(host) is not None):
        return
    i = host.find(".")
    while i >= 0:
        yield host[i + 1 :]
        i = host.find(".", i + 1)


def _bits(mask: int) -> Iterable[int]:
    i = 0
    while mask:
        if mask & 1:
            yield i
        mask >>= 1
        i += 1


@lru_cache(maxsize=4096)
def _mask_names(categories: tuple[str, ...], mask: int) -> tuple[str, ...]:
    return tuple(categories[i] for i in _bits(mask))


def domain_files(dirs: Iterable[str | Path]) -> list[Path]:
    """``<dir>/domains/*.txt`` for each list directory; a ``domains`` folder or a
    ``.txt`` file may also be named directly. A list directory without domain
    lists is fine (keyword-only lists)."""
    out: list[Path] = []
    for d in dirs:
        p = Path(d)
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            folder = p if p.name == "domains" else p / "domains"
            if folder.is_dir():
                out.extend(sorted(q for q in folder.glob("*.txt") if q.is_file()))
        else:
            raise SourceError(p, None, "list directory does not exist")
    return out


def load_domains(dirs: Iterable[str | Path]) -> DomainLists:
    """Load every domain list under ``dirs``.

    Bad lines are skipped and reported in ``warnings`` (file and line), never
    raised: one typo in a million-line list must not stop the proxy. A file that
    cannot be read at all, or a category name that is not ``[a-z0-9_-]+``,
    raises ``SourceError``.
    """
    files = domain_files(dirs)
    cats: list[str] = []
    index: dict[str, int] = {}
    for path in files:
        cat = path.stem
        if not CATEGORY_RE.match(cat):
            raise SourceError(
                path, None, f"category name {cat!r} (the file name) must be [a-z0-9_-]+"
            )
        if cat not in index:
            index[cat] = len(cats)
            cats.append(cat)

    out = DomainLists(categories=tuple(cats))
    h = hashlib.sha256()
    listed, excepted = out._listed, out._excepted
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise SourceError(path, None, f"cannot read: {e.strerror}") from None
        h.update(str(path).encode() + b"\0" + hashlib.sha256(raw).digest())
        text = raw.decode("utf-8", "replace")
        bit = 1 << index[path.stem]
        out.files.append(str(path))
        _read_file(text, str(path), bit, listed, excepted, out.warnings)
    out.digest = h.hexdigest()
    return out


def _read_file(
    text: str,
    path: str,
    bit: int,
    listed: dict[str, int],
    excepted: dict[str, int],
    warnings: list[DomainWarning],
) -> None:
    match = NAME_RE.match
    for n, line in enumerate(text.splitlines(), start=1):
        # Fast path: most lines of a big list are a plain lower-case name.
        s = line.strip()
        if s and s[0] not in "#.*@" and s.isascii() and " " not in s and "\t" not in s:
            s = s.rstrip(".").lower()
            # Ending in a digit it may be an address in another notation (0x7f.1): the
            # slow path makes it the dotted quad.
            if match(s) and len(s) <= 253 and not s[-1:].isdigit():
                listed[s] = listed.get(s, 0) | bit
                continue
        host, exception, problem = parse_line(line)
        if problem:
            warnings.append(DomainWarning(path, n, f"{problem}: {line.strip()[:80]!r}"))
        elif host is not None:
            table = excepted if exception else listed
            table[host] = table.get(host, 0) | bit
