"""Keyword list files: validation and loading into plain data.

The format is DESIGN.md's, extended with combinations (``{all: [...]}``), negative
weights and ``count: every``; see blocklists/README.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    field_validator,
)

from .normalize import HARD_GAP_CHARS, is_latin_term, normalize
from .yamlloc import SourceError, format_loc, line_of, load_yaml

MatchMode = Literal["word", "prefix", "substring"]
Weight = Annotated[StrictInt, Field(ge=-1000, le=1000)]


def _nonblank(v: str) -> str:
    if not v.strip():
        raise ValueError("empty term")
    return v


class TermSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: StrictStr
    weight: Weight | None = None
    match: MatchMode | None = None

    _check = field_validator("term")(_nonblank)


class PartSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: StrictStr
    match: MatchMode | None = None

    _check = field_validator("term")(_nonblank)


def _part_kind(v: Any) -> str:
    return "str" if isinstance(v, str) else "spec"


Part = Annotated[
    Annotated[StrictStr, Tag("str")] | Annotated[PartSpec, Tag("spec")],
    Discriminator(_part_kind),
]


class ComboSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    all: Annotated[list[Part], Field(min_length=2)]
    weight: Weight | None = None

    @field_validator("all")
    @classmethod
    def _parts_nonblank(cls, v: list[Any]) -> list[Any]:
        for p in v:
            if isinstance(p, str):
                _nonblank(p)
        return v


def _entry_kind(v: Any) -> str:
    if isinstance(v, str):
        return "str"
    if isinstance(v, dict) and "all" in v:
        return "combo"
    return "term"


Entry = Annotated[
    Annotated[StrictStr, Tag("str")]
    | Annotated[TermSpec, Tag("term")]
    | Annotated[ComboSpec, Tag("combo")],
    Discriminator(_entry_kind),
]


class ListFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Annotated[StrictStr, Field(pattern=r"^[a-z0-9_-]+$")]
    lang: Annotated[StrictStr, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")] | None = None
    weight: Weight = 10
    count: Literal["once", "every"] = "once"
    terms: list[Entry] = Field(default_factory=list)
    exceptions: list[StrictStr] = Field(default_factory=list)

    @field_validator("terms", mode="before")
    @classmethod
    def _terms_list(cls, v: Any) -> Any:
        return [] if v is None else v

    @field_validator("exceptions", mode="before")
    @classmethod
    def _exc_list(cls, v: Any) -> Any:
        return [] if v is None else v

    @field_validator("exceptions")
    @classmethod
    def _exc_nonblank(cls, v: list[str]) -> list[str]:
        for e in v:
            _nonblank(e)
        return v


@dataclass(frozen=True, slots=True)
class Origin:
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


@dataclass(frozen=True, slots=True)
class Pattern:
    """A string the automaton looks for, with the rules a hit must obey."""

    text: str  # as written
    norm: str  # normalised: what the automaton holds
    match: MatchMode
    latin: bool
    breaks: frozenset[int]  # word gaps inside a multi-word Latin term


@dataclass(frozen=True, slots=True)
class Term:
    pattern: Pattern
    category: str
    weight: int
    every: bool  # count every occurrence instead of once per document
    origin: Origin


@dataclass(frozen=True, slots=True)
class Combination:
    parts: tuple[Pattern, ...]
    category: str
    weight: int
    origin: Origin

    @property
    def name(self) -> str:
        return "+".join(p.text for p in self.parts)


@dataclass(frozen=True, slots=True)
class ExceptionPhrase:
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


def make_pattern(text: str, match: MatchMode | None) -> Pattern:
    n = normalize(text)
    latin = is_latin_term(n.text)
    breaks: set[int] = set()
    if latin:
        for i in range(1, len(n.text)):
            between = text[n.pos[i - 1] + 1 : n.pos[i]]
            if any(c.isspace() or c in HARD_GAP_CHARS for c in between):
                breaks.add(i)
    mode: MatchMode = match or ("word" if latin else "substring")
    return Pattern(text, n.text, mode, latin, frozenset(breaks))


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


def load_lists(dirs: Iterable[str | Path]) -> ListSet:
    """Load and validate every ``*.yaml`` under ``dirs``; raises SourceError."""
    ls = ListSet()
    h = hashlib.sha256()
    seen: dict[tuple[str, str, str], Term] = {}
    for path in list_files(dirs):
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SourceError(path, None, f"not UTF-8 (byte {e.start})") from None
        except OSError as e:
            raise SourceError(path, None, f"cannot read: {e.strerror}") from None
        h.update(str(path).encode() + b"\0" + raw + b"\0")
        spec = parse_list(text, path)
        _add_file(ls, spec, str(path), seen)
    ls.digest = h.hexdigest()
    return ls


def _add_file(
    ls: ListSet, spec: ListFile, path: str, seen: dict[tuple[str, str, str], Term]
) -> None:
    ls.files.append(path)
    ls.langs[path] = spec.lang
    every = spec.count == "every"
    for i, entry in enumerate(spec.terms):
        origin = Origin(path, ("terms", i))
        if isinstance(entry, ComboSpec):
            parts = tuple(
                make_pattern(p, None) if isinstance(p, str) else make_pattern(p.term, p.match)
                for p in entry.all
            )
            for j, p in enumerate(parts):
                if not p.norm:
                    raise SourceError(
                        path, origin.line(), f"terms[{i}].all[{j}]: term is only noise"
                    )
            weight = spec.weight if entry.weight is None else entry.weight
            ls.combinations.append(Combination(parts, spec.category, weight, origin))
            continue
        if isinstance(entry, str):
            pat, weight = make_pattern(entry, None), spec.weight
        else:
            pat = make_pattern(entry.term, entry.match)
            weight = spec.weight if entry.weight is None else entry.weight
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
    for i, exc in enumerate(spec.exceptions):
        pat = make_pattern(exc, None)
        if not pat.norm:
            raise SourceError(path, None, f"exceptions[{i}]: phrase is only noise")
        ls.exceptions.append(ExceptionPhrase(pat, spec.category, Origin(path, ("exceptions", i))))
