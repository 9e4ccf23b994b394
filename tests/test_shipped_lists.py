"""The shipped keyword lists: they load, cover every category in both languages, and
decide every document of the labelled corpus (tests/corpus/) the way its folder says.

The corpus folder names the action the default child profile must take:
``block/`` must be blocked, ``allow/`` must not be blocked (masking a word is
acceptable), ``mask/`` must be served with words masked but not blocked.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import zhconv_rs

from qinglang.engine.lists import load_lists, parse_list
from qinglang.engine.scanner import Engine, ScanResult
from qinglang.policy.config import Profile, shipped_lists

LISTS = shipped_lists()
CORPUS = Path(__file__).parent / "corpus"
ACTIONS = ("block", "allow", "mask")
CATEGORIES = (
    "porn",
    "gambling",
    "drugs",
    "violence",
    "self_harm",
    "bullying",
    "doxxing",
    "consumption",
    "vulgar",
)
LANGS = ("zh", "en")


@cache
def engine() -> Engine:
    return Engine(load_lists([LISTS], use_cache=False))


def corpus_docs() -> list[tuple[str, Path]]:
    docs = []
    for action in ACTIONS:
        folder = CORPUS / action
        if folder.is_dir():
            docs.extend(
                (action, p) for p in sorted(folder.iterdir()) if p.suffix in (".txt", ".html")
            )
    return docs


def scan(path: Path) -> ScanResult:
    kind = "html" if path.suffix == ".html" else "text"
    return engine().scan(path.read_text(encoding="utf-8"), kind, Profile())


def explain(path: Path, r: ScanResult) -> str:
    return (
        f"{path.parent.name}/{path.name}: action={r.action} score={r.score} "
        f"categories={r.categories} decided_by={r.decided_by()}"
    )


@pytest.mark.parametrize(
    ("expected", "path"), corpus_docs(), ids=[f"{a}/{p.name}" for a, p in corpus_docs()]
)
def test_corpus_document_gets_its_labelled_action(expected: str, path: Path) -> None:
    r = scan(path)
    if expected == "block":
        assert r.action == "block", explain(path, r)
    elif expected == "mask":
        assert r.action == "mask", explain(path, r)
    else:
        assert r.action != "block", explain(path, r)


ZH_DOCS = [(a, p) for a, p in corpus_docs() if p.stem.endswith("_zh")]


@pytest.mark.parametrize(("expected", "path"), ZH_DOCS, ids=[f"{a}/{p.name}" for a, p in ZH_DOCS])
def test_traditional_chinese_version_gets_the_same_decision(expected: str, path: Path) -> None:
    """Pages from Taiwan and Hong Kong are written in traditional characters."""
    kind = "html" if path.suffix == ".html" else "text"
    text = zhconv_rs.zhconv(path.read_text(encoding="utf-8"), "zh-tw")
    r = engine().scan(text, kind, Profile())
    assert (r.action == "block") == (expected == "block"), explain(path, r)


def test_allow_documents_that_are_masked_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    """Masking on a benign page is acceptable but worth seeing: print which words."""
    masked = []
    for action, path in corpus_docs():
        if action == "allow":
            r = scan(path)
            if r.action == "mask":
                words = sorted({m.term for m in r.matches if m.weight > 0})
                masked.append(f"{path.name}: score={r.score} masked={words}")
    with capsys.disabled():
        print("\nallow documents served with masked words:", len(masked))
        for line in masked:
            print("  " + line)


def test_corpus_is_big_enough_and_bilingual() -> None:
    docs = corpus_docs()
    by_action = {a: [p for b, p in docs if b == a] for a in ACTIONS}
    assert len(by_action["block"]) >= 25
    assert len(by_action["allow"]) >= 35
    for action in ("block", "allow"):
        paths = by_action[action]
        zh = [p for p in paths if p.stem.endswith("_zh")]
        en = [p for p in paths if p.stem.endswith("_en")]
        assert len(zh) + len(en) == len(paths), "corpus file names end in _zh or _en"
        assert abs(len(zh) - len(en)) <= max(2, len(paths) // 10), (action, len(zh), len(en))
    for _, path in docs:
        n = len(path.read_text(encoding="utf-8"))
        assert 300 <= n <= 3000, f"{path.name} has {n} characters"


def test_every_shipped_list_file_loads_on_its_own() -> None:
    files = sorted(LISTS.glob("*.yaml"))
    assert files
    for f in files:
        spec = parse_list(f.read_text(encoding="utf-8"), f)
        assert f.name == f"{spec.category}.{spec.lang}.yaml"
        load_lists([f], use_cache=False)  # duplicates with conflicting weights raise
    load_lists([LISTS], use_cache=False)


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("lang", LANGS)
def test_every_category_exists_in_both_languages_with_exceptions(category: str, lang: str) -> None:
    path = LISTS / f"{category}.{lang}.yaml"
    assert path.is_file(), f"missing {path.name}"
    spec = parse_list(path.read_text(encoding="utf-8"), path)
    assert spec.category == category and spec.lang == lang
    assert spec.exceptions, f"{path.name} has no exceptions"
    assert len(spec.terms) >= 40, f"{path.name} has only {len(spec.terms)} entries"
