"""Every error the config can produce has a Chinese text (issue 23, item 7): pydantic's
standard error types by ``type``, our validators' by the ``Bilingual`` they raise.

Bad values are put in every field of every section (found by walking the models, so a
new field is covered without touching this file); each error pydantic reports is turned
into Chinese as the dashboard does, and must be one of the texts written for it and read
as Chinese (no English sentence outside values, keys and patterns)."""

from __future__ import annotations

import copy
import re
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from qinglang.engine.bilingual import Bilingual
from qinglang.engine.yamlloc import SourceError
from qinglang.policy.config import Config, parse_config
from qinglang.policy.configtext import PYDANTIC_ZH, zh_reason

# Values of every kind YAML gives, wrong for most fields and out of range for the rest.
BAD: list[Any] = [
    None, True, 0, -1, 10**7, 1.5, "", "x", "a b", "a" * 300, "25:00", "22:00-22:00",
    "2025-13-01..2025-12-01", "tls://x", "http://", [], ["x"], [1], [{}], {}, {"zz": 1},
]  # fmt: skip

# Valid entries for the sections that are lists, so each field's own error shows.
LIST_BASES: dict[str, list[dict[str, Any]]] = {
    "clients": [{"match": "10.0.0.1", "profile": "child"}],
    "devices": [
        {"name": "tab", "profile": "child", "ip": "10.0.0.2"},
        {"name": "phone", "profile": "child", "wireguard_port": 51820},
    ],
    "subscriptions": [
        {"name": "s", "url": "https://lists.example/l.txt", "format": "domains", "category": "x"}
    ],
}

# A run of three or more English words: a sentence left untranslated.
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[\s,;()]+[A-Za-z]{2,}){2,}")


def english_left(zh: str) -> str | None:
    """An English sentence in a Chinese message, outside quoted values, `keys` and
    patterns (which stay as written in the file)."""
    rest = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`|\{[^}]*\}|\^\S*\$", " ", zh)
    m = ENGLISH.search(rest)
    return m.group(0) if m else None


def _models(annotation: Any) -> Iterator[tuple[type[BaseModel], Callable[[Any], Any]]]:
    """The models inside a field's type, each with how to wrap a value of it."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, lambda v: v
        return
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        yield from _models(args[0])
    elif origin in (typing.Union, types.UnionType):
        for a in args:
            yield from _models(a)
    elif origin is list:
        for m, wrap in _models(args[0]):
            yield m, lambda v, w=wrap: [w(v)]
    elif origin is dict:
        for m, wrap in _models(args[1]):
            yield m, lambda v, w=wrap: {"k": w(v)}


def _placements() -> Iterator[tuple[tuple[Any, ...], Callable[[Any], dict[str, Any]]]]:
    """(where, build) for every field: ``build(value)`` is a config with it there."""
    seen: set[tuple[type[BaseModel], str]] = set()

    def walk(
        model: type[BaseModel], at: tuple[Any, ...], put: Callable[[dict[str, Any]], Any]
    ) -> Iterator[tuple[tuple[Any, ...], Callable[[Any], dict[str, Any]]]]:
        for name, field in model.model_fields.items():
            key = (model, name)
            if key in seen:
                continue
            seen.add(key)

            def build(value: Any, name: str = name) -> dict[str, Any]:
                return put({name: value})

            yield (*at, name), build
            for sub, wrap in _models(field.annotation):
                yield from walk(sub, (*at, name), lambda d, b=build, w=wrap: b(w(d)))

    def top(section: dict[str, Any]) -> dict[str, Any]:
        ((name, value),) = section.items()
        if (
            name in LIST_BASES
            and isinstance(value, list)
            and value
            and isinstance(value[0], dict)
            and value[0]
        ):
            # A field of one entry: into a copy of each valid entry.
            return {name: [{**copy.deepcopy(b), **value[0]} for b in LIST_BASES[name]]}
        return section

    def profile(d: dict[str, Any]) -> dict[str, Any]:
        return {"profiles": {"child": d}}

    for name, field in Config.model_fields.items():
        if name == "profiles":
            from qinglang.policy.config import Profile

            yield from walk(Profile, ("profiles", "child"), profile)
            continue
        yield (name,), lambda v, name=name: top({name: v})
        for sub, wrap in _models(field.annotation):
            if name in LIST_BASES:
                yield from walk(sub, (name,), lambda d, name=name: top({name: [d]}))
            else:
                yield from walk(sub, (name,), lambda d, w=wrap, name=name: {name: w(d)})


def _errors() -> Iterator[tuple[dict[str, Any], Any]]:
    for _where, build in _placements():
        for value in BAD:
            try:
                Config.model_validate(build(value))
            except ValidationError as e:
                for err in e.errors():
                    yield err, value


def test_every_config_error_has_its_chinese() -> None:
    types_seen: set[str] = set()
    ours = 0
    count = 0
    for err, value in _errors():
        count += 1
        kind = str(err["type"])
        types_seen.add(kind)
        cause = (err.get("ctx") or {}).get("error")
        if kind in ("value_error", "assertion_error"):
            # Our validators' own messages: each names its Chinese where it is raised.
            assert isinstance(cause, Bilingual), f"{err['loc']}: {err['msg']!r} has no Chinese"
            ours += 1
        else:
            assert kind in PYDANTIC_ZH, f"pydantic error {kind!r} ({err['msg']}) has no Chinese"
        zh = zh_reason(err, str(err["loc"][-1]) if err["loc"] else None)
        # Filled in: no placeholder of the template is left.
        assert not re.search(r"\{(?:key|expected|gt|ge|lt|le|min_length|max_length|pattern)", zh)
        assert re.search(r"[\u4e00-\u9fff]", zh), f"{zh!r} ({value!r}) is not Chinese"
        assert english_left(zh) is None, f"{zh!r}: English left in it ({err['msg']})"
    # The walk reached the kinds of errors a parent meets (not a silent empty loop).
    assert count > 500 and ours > 30
    assert {
        "missing", "extra_forbidden", "literal_error", "int_type", "bool_type",
        "string_type", "list_type", "greater_than_equal", "less_than_equal",
        "string_pattern_mismatch", "value_error",
    } <= types_seen, types_seen  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        "profiles:\n  child:\n    pii: maybe\n",
        "profiles:\n  child:\n    curfew: 25:00-06:00\n",
        "devices:\n  - {name: a, profile: child, ip: 10.0.0.1}\n"
        "  - {name: A, profile: child, mac: aa:bb:cc:dd:ee:ff}\n",
        "devices:\n  - {name: a, profile: nobody, ip: 10.0.0.1}\n",
        "default_profile: nobody\n",
        "a: [\n",
        "- just a list\n",
    ],
)
def test_source_error_in_both_languages(text: str) -> None:
    """The English is the message as before (its place first); the Chinese has the same
    place and no English sentence."""
    with pytest.raises(SourceError) as caught:
        parse_config(text, "/etc/qinglang.yaml")
    e = caught.value
    assert e.text("en") == str(e) == f"{e.where}: {e.reason}"
    zh = e.text("zh")
    assert zh.startswith(e.where + ": ") and zh != str(e)
    assert english_left(zh.removeprefix(e.where + ": ").split(": ", 1)[-1]) is None, zh


def test_both_languages_survive_a_pickle() -> None:
    """A worker process hands an error back pickled: still English by ``str()``, Chinese
    by ``text("zh")``."""
    import pickle

    e = pickle.loads(pickle.dumps(Bilingual("not a day: 'x'", "不是星期几：'x'")))
    assert isinstance(e, ValueError) and str(e) == "not a day: 'x'"
    assert e.text("zh") == "不是星期几：'x'" and e.text("en") == str(e)
