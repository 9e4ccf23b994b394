"""Keyword list files: validation and loading into plain data.

The format is DESIGN.md's, extended with combinations (``{all: [...]}``), negative
weights and ``count: every``; see docs/getting-started/lists.md.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import zhconv_rs
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
)

import qinglang.engine._evasion as _evasion
from qinglang.engine import _normtext
from qinglang.engine.evasion import DEFAULT_RULES, LEET_SYMBOLS, NUMERALS, RULES
from qinglang.engine.normalize import BOUNDARY, normalize, tables
from qinglang.engine.yamlloc import SourceError, format_loc, line_of, load_yaml

MatchMode = Literal["word", "prefix", "substring"]
Weight = Annotated[StrictInt, Field(ge=-1000, le=1000)]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _nonblank(v: str) -> str:
    if not v.strip():
        raise ValueError("empty term")
    if _CONTROL.search(v):
        raise ValueError(f"control character in term {v!r}")
    return v


Phrase = Annotated[StrictStr, AfterValidator(_nonblank)]


class TermSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: Phrase
    weight: Weight | None = None
    match: MatchMode | None = None


class PartSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: Phrase
    match: MatchMode | None = None


def _part_kind(v: Any) -> str:
    return "str" if isinstance(v, str) else "spec"


Part = Annotated[
    Annotated[Phrase, Tag("str")] | Annotated[PartSpec, Tag("spec")],
    Discriminator(_part_kind),
]


class ComboSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    all: Annotated[list[Part], Field(min_length=2)]
    weight: Weight | None = None


def _entry_kind(v: Any) -> str:
    if isinstance(v, str):
        return "str"
    if isinstance(v, dict) and "all" in v:
        return "combo"
    return "term"


Entry = Annotated[
    Annotated[Phrase, Tag("str")]
    | Annotated[TermSpec, Tag("term")]
    | Annotated[ComboSpec, Tag("combo")],
    Discriminator(_entry_kind),
]


class EvasionSpec(BaseModel):
    """Which evasion rules apply to a file's terms (docs/matching.md, "Evasions")."""

    model_config = ConfigDict(extra="forbid")
    leet: StrictBool = True
    repeats: StrictBool = True
    confusables: StrictBool = True
    skips: StrictBool = True

    def rules(self, numerals: bool) -> int:
        bits = sum(bit for name, bit in RULES.items() if getattr(self, name))
        return bits | (NUMERALS if numerals else 0)


class ListFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Annotated[StrictStr, Field(pattern=r"^[a-z0-9_-]+$")]
    lang: Annotated[StrictStr, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")] | None = None
    weight: Weight = 10
    count: Literal["once", "every"] = "once"
    numerals: StrictBool = False
    evasion: EvasionSpec = Field(default_factory=EvasionSpec)
    terms: list[Entry] = Field(default_factory=list)
    exceptions: list[Phrase] = Field(default_factory=list)

    @field_validator("terms", mode="before")
    @classmethod
    def _terms_list(cls, v: Any) -> Any:
        return [] if v is None else v

    @field_validator("exceptions", mode="before")
    @classmethod
    def _exc_list(cls, v: Any) -> Any:
        return [] if v is None else v


class Origin(NamedTuple):
    """Where an entry was written: file and YAML path (line found on demand)."""

    path: str
    loc: tuple[str | int, ...]

    def line(self) -> int | None:
        try:
            return line_of(Path(self.path).read_text(encoding="utf-8"), self.loc)
        except OSError:
            return None

    def where(self) -> str:
        line = self.line()
        return f"{self.path}:{line}" if line else self.path


class Pattern(NamedTuple):
    """A string the automaton looks for, with the rules a hit must obey."""

    text: str  # as written
    norm: str  # normalised: what the automaton holds
    match: MatchMode
    latin: bool
    rules: int = DEFAULT_RULES  # evasion rule bits its list allows (engine/evasion.py)


class Term(NamedTuple):
    pattern: Pattern
    category: str
    weight: int
    every: bool  # count every occurrence instead of once per document
    origin: Origin


class Combination(NamedTuple):
    parts: tuple[Pattern, ...]
    category: str
    weight: int
    origin: Origin

    @property
    def name(self) -> str:
        return "+".join(p.text for p in self.parts)


class ExceptionPhrase(NamedTuple):
    pattern: Pattern
    category: str
    origin: Origin


@dataclass(slots=True)
class ListSet:
    terms: list[Term] = field(default_factory=list)
    combinations: list[Combination] = field(default_factory=list)
    exceptions: list[ExceptionPhrase] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    langs: dict[str, str | None] = field(default_factory=dict)  # file -> lang
    digest: str = ""

    @property
    def categories(self) -> list[str]:
        return sorted({t.category for t in self.terms} | {c.category for c in self.combinations})


def make_pattern(text: str, match: MatchMode | None, rules: int = DEFAULT_RULES) -> Pattern:
    return make_patterns([(text, match)], rules)[0]


def make_patterns(
    specs: Sequence[tuple[str, MatchMode | None]], rules: int = DEFAULT_RULES
) -> list[Pattern]:
    """Patterns for many terms with one normalisation call (100,000 calls cost seconds)."""
    if not specs:
        return []
    _, _, word = tables()
    joined = BOUNDARY.join(t for t, _ in specs)
    n = normalize(joined)
    cps = np.frombuffer(n.text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cut = np.flatnonzero(cps == ord(BOUNDARY))
    starts = np.concatenate(([0], cut + 1))
    ends = np.concatenate((cut, [len(cps)]))
    # A term is Latin when all its characters are word characters, spaces or
    # apostrophes (don't tell), or leet symbols.
    latin_char = word[cps] | (cps == ord(" ")) | (cps == ord("'"))
    # Leet symbols read as letters: a term written "a$$" is a word like "ass".
    for sym in LEET_SYMBOLS:
        latin_char |= cps == ord(sym)
    nonlatin = np.concatenate(([0], np.cumsum(~latin_char)))
    latin = (ends > starts) & (nonlatin[ends] == nonlatin[starts])
    text = n.text
    out: list[Pattern] = []
    for k, (term, match) in enumerate(specs):
        is_latin = bool(latin[k])
        mode: MatchMode = match or ("word" if is_latin else "substring")
        out.append(Pattern(term, text[int(starts[k]) : int(ends[k])], mode, is_latin, rules))
    return out


def parse_list(text: str, path: str | Path) -> ListFile:
    """Validate one list file's text; raises SourceError naming the line."""
    data = load_yaml(text, path)
    if not isinstance(data, dict):
        raise SourceError(path, 1, "a list file must be a mapping with `category` and `terms`")
    try:
        return ListFile.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _TAGS))
        raise SourceError(path, line_of(text, loc), _explain(err, loc)) from None


_TAGS = {"str", "term", "combo", "spec"}


def _explain(err: Any, loc: Sequence[str | int]) -> str:
    kind = err["type"]
    where = format_loc(loc)
    key = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        return f"unknown key `{key}`"
    if kind == "missing":
        return f"`{key}` is required"
    if key == "weight" or (kind.startswith("int") and "weight" in where):
        return f"{where}: bad weight {err.get('input')!r}: a whole number from -1000 to 1000"
    if key == "match" or (kind == "literal_error" and "match" in where):
        return f"{where}: unknown match mode {err.get('input')!r}: use word, prefix or substring"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def list_files(dirs: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for d in dirs:
        p = Path(d)
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out.extend(sorted(q for q in p.rglob("*.yaml") if q.is_file()))
        else:
            raise SourceError(p, None, "list directory does not exist")
    return out


def cache_dir() -> Path:
    env = os.environ.get("QINGLANG_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qinglang"


@cache
def _code_version() -> str:
    """Changes whenever the code that turns files into a ListSet changes."""
    h = hashlib.sha256(zhconv_rs.__name__.encode())
    for mod in ("lists.py", "normalize.py", "yamlloc.py", "evasion.py"):
        h.update((Path(__file__).parent / mod).read_bytes())
    for compiled in (_normtext, _evasion):  # the compiled normalisation and fold
        h.update(Path(compiled.__file__ or "").read_bytes())
    return h.hexdigest()[:16]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Creating 100,000s of small tuples triggers the cyclic GC over and over (5x slower)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def load_lists(dirs: Iterable[str | Path], *, use_cache: bool = True) -> ListSet:
    with _gc_paused():
        return _load_lists(dirs, use_cache)


def _load_lists(dirs: Iterable[str | Path], use_cache: bool) -> ListSet:
    """Load and validate every ``*.yaml`` under ``dirs``; raises SourceError.

    A validated set is cached under ``cache_dir()`` keyed by the files' paths and
    bytes and by this code's version: parsing 100,000 terms of YAML is the slow
    part (about 1.7 s), unpickling the result takes a tenth of that.
    """
    files: list[tuple[Path, bytes]] = []
    h = hashlib.sha256(_code_version().encode())
    for path in list_files(dirs):
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise SourceError(path, None, f"cannot read: {e.strerror}") from None
        files.append((path, raw))
        h.update(str(path).encode() + b"\0" + hashlib.sha256(raw).digest())
    digest = h.hexdigest()
    cached = cache_dir() / f"lists-{digest[:32]}.pickle"
    if use_cache:
        try:
            with cached.open("rb") as f:
                ls = pickle.load(f)
            if isinstance(ls, ListSet) and ls.digest == digest:
                return ls
        except Exception:  # a missing, stale or damaged cache is only a slower start
            pass

    ls = ListSet()
    seen: dict[tuple[str, str, str], Term] = {}
    for path, raw in files:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SourceError(path, None, f"not UTF-8 (byte {e.start})") from None
        spec = parse_list(text, path)
        _add_file(ls, spec, str(path), seen)
    ls.digest = digest
    if use_cache and len(ls.terms) >= 5000:
        _write_cache(cached, ls)
    return ls


def _write_cache(path: Path, ls: ListSet) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump(ls, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        # Keep the newest few sets: every list edit makes a new one.
        old = sorted(path.parent.glob("lists-*.pickle"), key=lambda p: p.stat().st_mtime)
        for stale in old[:-8]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only home is fine: no cache


def _add_file(
    ls: ListSet, spec: ListFile, path: str, seen: dict[tuple[str, str, str], Term]
) -> None:
    ls.files.append(path)
    ls.langs[path] = spec.lang
    every = spec.count == "every"

    # Normalise every string of the file in one call, then build the entries.
    wanted: list[tuple[str, MatchMode | None]] = []
    for entry in spec.terms:
        if isinstance(entry, ComboSpec):
            wanted.extend((p, None) if isinstance(p, str) else (p.term, p.match) for p in entry.all)
        elif isinstance(entry, str):
            wanted.append((entry, None))
        else:
            wanted.append((entry.term, entry.match))
    wanted.extend((e, None) for e in spec.exceptions)
    pats = iter(make_patterns(wanted, spec.evasion.rules(spec.numerals)))

    for i, entry in enumerate(spec.terms):
        origin = Origin(path, ("terms", i))
        if isinstance(entry, ComboSpec):
            parts = tuple(next(pats) for _ in entry.all)
            for j, p in enumerate(parts):
                if not p.norm:
                    raise SourceError(
                        path, origin.line(), f"terms[{i}].all[{j}]: term is only noise"
                    )
            weight = spec.weight if entry.weight is None else entry.weight
            ls.combinations.append(Combination(parts, spec.category, weight, origin))
            continue
        pat = next(pats)
        weight = spec.weight if isinstance(entry, str) or entry.weight is None else entry.weight
        if not pat.norm:
            raise SourceError(path, origin.line(), f"terms[{i}]: term {pat.text!r} is only noise")
        term = Term(pat, spec.category, weight, every, origin)
        key = (spec.category, pat.norm, pat.match)
        prev = seen.get(key)
        if prev is not None:
            if prev.weight != weight:
                raise SourceError(
                    path,
                    origin.line(),
                    f"duplicate term {pat.text!r} with weight {weight}; "
                    f"{prev.origin.where()} gives it weight {prev.weight}",
                )
            continue  # same term, same weight: harmless, keep one
        seen[key] = term
        ls.terms.append(term)
    for i, _exc in enumerate(spec.exceptions):
        pat = next(pats)
        origin = Origin(path, ("exceptions", i))
        if not pat.norm:
            raise SourceError(path, origin.line(), f"exceptions[{i}]: phrase is only noise")
        ls.exceptions.append(ExceptionPhrase(pat, spec.category, origin))
