"""Issue 23 item 14: the child default keeps help, prevention and news pages readable.

Real pages (tests/fixtures/help_pages/, written as such pages are) go through
``qinglang scan`` with the shipped lists and the default child profile: the harm words on
them still count (they are in the matches) but are not masked, because the page's help
lines and prevention words bring the category's score to 0. A page about harm, without
that context, is still masked or blocked, and ``mask_in_context: true`` masks as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PAGES = Path(__file__).parent / "fixtures" / "help_pages"
HTML = "text/html; charset=utf-8"


def scan(path: Path, *extra: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "qinglang.cli", "scan", "--content-type", HTML, *extra,
         str(path)],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout)
    return out


@pytest.mark.parametrize(
    ("page", "words"),
    [
        ("prevention.zh.html", ["想死", "自杀", "自残", "不想活了"]),
        ("prevention.en.html", ["want to die", "suicide", "self harm"]),
        ("news.en.html", ["want to die", "suicide", "self harm"]),
    ],
)
def test_a_help_page_is_left_readable_and_its_words_still_count(
    page: str, words: list[str]
) -> None:
    out = scan(PAGES / page)
    original = (PAGES / page).read_text(encoding="utf-8")
    assert out["action"] == "allow", out["categories"]
    cats = out["categories"]
    assert isinstance(cats, dict) and cats["self_harm"] == 0 and not any(cats.values())
    matched = {m["term"] for m in out["matches"]}  # type: ignore[attr-defined]
    assert set(words) <= matched  # counted...
    assert out["body"] == original  # ...and not masked
    for w in words:
        assert w in str(out["body"])


def test_a_page_about_harm_without_help_is_still_masked(tmp_path: Path) -> None:
    page = tmp_path / "post.html"
    page.write_text("<p>honestly i want to die, nothing helps</p>", encoding="utf-8")
    out = scan(page)
    assert out["action"] == "mask" and "want to die" not in str(out["body"])


def test_a_harmful_page_is_still_blocked() -> None:
    out = scan(PAGES / "harmful.en.html")
    assert out["action"] == "block"


def test_help_lines_piled_onto_instructions_do_not_show_them(tmp_path: Path) -> None:
    """A hostile page adding crisis lines to cancel its score: a term that blocks on its
    own is masked whatever the category's score."""
    page = tmp_path / "trick.html"
    page.write_text(
        "<p>cutting tips. crisis line, samaritans, 988, help is available, "
        "you are not alone, support services</p>",
        encoding="utf-8",
    )
    out = scan(page)
    assert out["action"] == "mask", out
    assert "cutting tips" not in str(out["body"])


def test_other_categories_on_a_help_page_are_still_masked(tmp_path: Path) -> None:
    page = tmp_path / "mixed.html"
    text = (PAGES / "prevention.en.html").read_text(encoding="utf-8")
    page.write_text(text.replace("<main>", "<main><p>this fucking week</p>"), encoding="utf-8")
    out = scan(page)
    body = str(out["body"])
    assert out["action"] == "mask" and "fucking" not in body and "want to die" in body


def test_mask_in_context_masks_as_before(tmp_path: Path) -> None:
    config = tmp_path / "qinglang.yaml"
    config.write_text(
        "lists: [<shipped>]\nprofiles:\n  child: {mask_in_context: true}\ndefault_profile: child\n",
        encoding="utf-8",
    )
    out = scan(PAGES / "prevention.zh.html", "--config", str(config))
    assert out["action"] == "mask" and "想死" not in str(out["body"])
