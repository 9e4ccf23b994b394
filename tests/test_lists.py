"""List files: validation errors name the file, the line and the reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qinglang.engine.lists import load_lists
from qinglang.engine.yamlloc import SourceError


def error_for(write_list, body: str) -> SourceError:  # type: ignore[no-untyped-def]
    folder = write_list("bad.yaml", body)
    with pytest.raises(SourceError) as e:
        load_lists([folder], use_cache=False)
    return e.value


@pytest.mark.parametrize(
    "body, line, reason",
    [
        ("category: x\nterms:\n  - a\n  - {term: b, colour: red}\n", 4, "unknown key `colour`"),
        ("category: x\nterms:\n  - ok\n  - '  '\n", 4, "empty term"),
        ("category: x\nterms:\n  - {term: b, weight: heavy}\n", 3, "bad weight 'heavy'"),
        ("category: x\nterms:\n  - {term: b, weight: 5000}\n", 3, "bad weight 5000"),
        ("category: x\nterms:\n  - {term: b, weight: 1.5}\n", 3, "bad weight 1.5"),
        ("category: x\nterms:\n  - {term: b, match: fuzzy}\n", 3, "unknown match mode 'fuzzy'"),
        ("category: x\nterms:\n  - b\nextra: 1\n", 4, "unknown key `extra`"),
        ("terms:\n  - b\n", None, "`category` is required"),
        ("category: Bad Name\nterms: [a]\n", 1, "category"),
        ("category: x\nterms:\n  - {all: [a]}\n", 3, "at least 2"),
        ("category: x\nterms:\n  - [unclosed\n", 4, "YAML syntax error"),
        ("category: x\nweight: 10\nterms:\n  - a\n  - {term: A, weight: 20}\n", 5, "duplicate"),
        ("category: x\nterms:\n  - '***'\n", 3, "only noise"),
        ("- just\n- a list\n", 1, "must be a mapping"),
    ],
)
def test_errors_name_file_line_and_reason(write_list, body: str, line, reason: str) -> None:
    err = error_for(write_list, body)
    assert err.path.endswith("bad.yaml")
    if line is not None:
        assert err.line == line, str(err)
        assert re.search(rf"bad\.yaml:{line}: ", str(err))
    assert reason in str(err)


def test_duplicate_points_at_both_places(write_list) -> None:
    write_list("a.yaml", "category: x\nterms:\n  - {term: 赌博, weight: 10}\n")
    err = error_for(write_list, "category: x\nterms:\n  - z\n  - {term: 賭博, weight: 30}\n")
    assert "a.yaml:3" in str(err) and err.line == 4


def test_same_term_same_weight_and_other_categories_are_fine(write_list) -> None:
    write_list("a.yaml", "category: x\nterms: [赌博]\n")
    write_list("b.yaml", "category: x\nterms: [赌博]\n")
    folder = write_list("c.yaml", "category: y\nweight: 50\nterms: [赌博]\n")
    ls = load_lists([folder], use_cache=False)
    assert sorted((t.category, t.weight) for t in ls.terms) == [("x", 10), ("y", 50)]


def test_full_format_loads(write_list) -> None:
    folder = write_list(
        "full.yaml",
        """
        category: gambling
        lang: zh
        weight: 15
        count: every
        terms:
          - 赌博
          - {term: 网络赌场, weight: 40}
          - {term: porn, match: prefix}
          - {all: [赌场, {term: top up, match: word}], weight: 40}
          - {all: [breast, cancer], weight: -30}
        exceptions:
          - 禁止赌博
        """,
    )
    ls = load_lists([folder], use_cache=False)
    assert [(t.pattern.text, t.weight, t.every) for t in ls.terms] == [
        ("赌博", 15, True),
        ("网络赌场", 40, True),
        ("porn", 15, True),
    ]
    assert ls.terms[2].pattern.match == "prefix"
    assert [c.weight for c in ls.combinations] == [40, -30]
    assert ls.combinations[0].parts[1].norm == "top up"
    assert ls.exceptions[0].pattern.norm == "禁止赌博"


def test_missing_directory_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        load_lists([tmp_path / "nope"])
    (tmp_path / "gbk.yaml").write_bytes("category: x\nterms: [赌博]\n".encode("gbk"))
    with pytest.raises(SourceError, match="not UTF-8"):
        load_lists([tmp_path], use_cache=False)


def test_cache_is_keyed_by_content(write_list, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("QINGLANG_CACHE", str(tmp_path / "cache"))
    body = "category: x\nterms:\n" + "".join(f"  - w{i}\n" for i in range(6000))
    folder = write_list("big.yaml", body)
    first = load_lists([folder])
    assert list((tmp_path / "cache").glob("lists-*.pickle"))
    again = load_lists([folder])
    assert again.digest == first.digest and len(again.terms) == 6000
    write_list("big.yaml", body + "  - extra\n")
    changed = load_lists([folder])
    assert changed.digest != first.digest and len(changed.terms) == 6001
