"""The quick path for HTML pages that match nothing must never let a match through."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from qinglang.config import Profile, shipped_lists
from qinglang.engine import Engine
from qinglang.lists import load_lists

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_lists([shipped_lists()]))


def decisions(engine: Engine, doc: str, profile: Profile) -> tuple[tuple, tuple]:  # type: ignore[type-arg]
    quick = engine.scan(doc, "html", profile)
    full = engine.scan(doc, "html", profile, quick=False)
    key = lambda r: (r.action, r.score, r.categories, r.body, [(p.kind, p.start) for p in r.pii])  # noqa: E731
    return key(quick), key(full)


@pytest.mark.parametrize("path", sorted(CORPUS.rglob("*.html")) + sorted(CORPUS.rglob("*.txt")))
def test_corpus_same_decision(engine: Engine, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    doc = text if path.suffix == ".html" else f"<html><body><p>{text}</p></body></html>"
    quick, full = decisions(engine, doc, Profile())
    assert quick == full


# Pieces that stress the differences between the quick text and the exact one:
# words split by inline tags, blocks, comments, scripts, entities, attributes,
# single letters at block edges, a stray "<".
PIECES = [
    "赌",
    "博",
    "网络",
    "赌场",
    "p",
    "o",
    "r",
    "n",
    "porn",
    " ",
    "xy",
    "&#36172;",
    "&amp;",
    "<b>",
    "</b>",
    "<p>",
    "</p>",
    "<div class='a > b'>",
    "</div>",
    "<!-- c -->",
    "<script>var a = '<b>';</script>",
    "<img alt='赌博 porn'>",
    '<a title="裸聊">',
    "</a>",
    "<br>",
    " < ",
    "138",
    "1234",
    "5678",
    "-",
    "\n",
    "<title>",
    "</title>",
    "身份证",
    "kill",
    "yourself",
    ".",
    "<textarea placeholder='x'>",
    "</textarea>",
    "<plaintext>",
    "<style>",
    "</style>",
    "<TITLE>",
    "&nbsp;",
    "&lt;",
    "<!--",
    "-->",
    "<img/alt=porn>",
    "<a href='x'title='赌博'>",
    "<",
    ">",
    "'",
    "qq:",
    "微信：",
    "x@y.cn",
    "家住",
    "广东省深圳市南山区",
    "13812345678",
]


def test_random_pages_same_decision(engine: Engine) -> None:
    rng = random.Random(20261123)
    profile = Profile(block_threshold=10**6)  # see every mask, never a block page
    for _ in range(3000):
        doc = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 14)))
        quick, full = decisions(engine, doc, profile)
        assert quick == full, doc
