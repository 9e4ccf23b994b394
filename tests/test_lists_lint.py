"""`qinglang lists lint`: the mistakes a maintainer makes, found with file and line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from qinglang.engine.lists import make_pattern
from qinglang.listtools.lint import DEFAULT_WORDS, always_cancels, lint


def qinglang(*args: str, env_home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QINGLANG_HOME": str(env_home)} if env_home else None
    return subprocess.run(
        [sys.executable, "-m", "qinglang.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return p


def messages(folder: Path, words: str | None = None) -> list[str]:
    return [str(f) for f in lint([str(folder)], words).findings]


CLEAN = """
    category: gambling
    lang: zh
    weight: 40
    terms:
      - 网络赌场
      - {term: casino, weight: 20}
      - {all: [赌场, 充值], weight: 40}
    exceptions:
      - 打击赌博
"""


def test_clean_lists_pass(tmp_path: Path) -> None:
    write(tmp_path, "gambling.zh.yaml", CLEAN)
    r = qinglang("lists", "lint", "--alone", str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ""
    assert "0 errors, 0 warnings in 1 file" in r.stderr


def test_schema_error_names_file_and_line(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "bad.yaml",
        """
        category: porn
        terms:
          - ok
          - {term: bad, weight: lots}
        """,
    )
    r = qinglang("lists", "lint", "--alone", str(tmp_path))
    assert r.returncode == 1
    assert f"{p}:4: error:" in r.stdout
    assert "bad weight" in r.stdout


def test_duplicates_twins_and_conflicting_weights(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "a.yaml",
        """
        category: gambling
        terms:
          - 赌博
          - {term: Casino, weight: 20}
          - {term: loot box, weight: 30}
        """,
    )
    b = write(
        tmp_path,
        "b.yaml",
        """
        category: gambling
        terms:
          - 赌博
          - 賭博
          - {term: casino, weight: 50}
          - {term: lootbox, weight: 30}
        """,
    )
    c = write(
        tmp_path,
        "c.yaml",
        """
        category: drugs
        terms:
          - 赌博
          - {term: police, weight: -20}
        """,
    )
    write(tmp_path, "d.yaml", "category: gambling\nterms:\n  - {term: police, weight: -20}\n")
    found = messages(tmp_path)
    assert f"{b}:3: warning: duplicate term '赌博' ({a}:3)" in found
    assert any(
        m.startswith(f"{b}:4: warning: term '賭博' normalises to the same text") for m in found
    )
    assert any(m.startswith(f"{b}:5: error: term 'casino' has weight 50") for m in found)
    assert any(
        m.startswith(f"{b}:6: warning: term 'lootbox' differs from 'loot box'") for m in found
    )
    assert (
        f"{a}:3: warning: term '赌博' is also in category 'drugs' ({c}:3): "
        "a page with it scores in both" in found
    )
    # Negative context terms are meant per category: no warning for "police".
    assert not any("'police'" in m for m in found)


def test_noise_only_term_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, "n.yaml", "category: porn\nterms:\n  - ok\n  - '***'\n")
    found = messages(tmp_path)
    assert any(m.startswith(f"{p}:4: error: term '***' is only noise") for m in found)


def test_exception_that_always_cancels_a_term(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "e.yaml",
        """
        category: drugs
        terms:
          - 禁毒宣传册
          - {term: drug prevention, weight: -30}
          - 冰毒
          - {term: drug, match: prefix}
          - {all: [海洛因, 禁毒宣传]}
        exceptions:
          - 禁毒宣传
          - drug prevention
          - 冰毒危害
        """,
    )
    found = messages(tmp_path)
    assert any(m.startswith(f"{p}:3: warning: term '禁毒宣传册' can never count") for m in found)
    # The exception is matched as written: "drugprevention" (the term's joined form)
    # still counts, so the term can count.
    assert not any(m.startswith(f"{p}:4:") for m in found)
    assert any(
        m.startswith(f"{p}:7: warning: combination part '禁毒宣传' can never") for m in found
    )
    # An exception longer than the term is what exceptions are for.
    assert not any("'冰毒' can never" in m for m in found)
    assert not any("'drug' can never" in m for m in found)


def test_always_cancels_rules() -> None:
    def cancels(term: str, t_match: str | None, exc: str, e_match: str | None = None) -> bool:
        return always_cancels(make_pattern(term, t_match), make_pattern(exc, e_match))

    assert cancels("禁毒宣传册", None, "禁毒宣传")  # CJK: inside is enough
    # Exceptions are matched as written: "sex toy" the term also finds "sextoy".
    assert not cancels("sex toy", None, "sex toy")
    assert cancels("sex toy", None, "sex toy", "substring") is False
    assert cancels("sextoy", None, "sextoy")
    assert cancels("sextoys", "substring", "toy", "substring")
    # "sex toy" also finds "sextoy", where the word "sex" is not a word: not always.
    assert not cancels("sex toy", None, "sex")
    assert not cancels("sextoy", "substring", "sex")  # "xsextoy" has no word edge
    assert cancels("porn", "word", "porn", "prefix")
    assert cancels("pornhub", "prefix", "porn", "prefix")
    assert not cancels("pornhub", "substring", "porn", "prefix")
    assert not cancels("porn", "substring", "porn")  # word exception, substring term
    assert not cancels("lootbox", None, "loot box")  # "loot box" says two words
    assert not cancels("penis", None, "pen is")
    assert cancels("p0rn", None, "porn")  # the same word after the leet fold
    assert not cancels("冰毒", None, "冰毒危害")  # a longer exception: only sometimes


def test_latin_substring_terms_inside_english_words(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "w.yaml",
        """
        category: vulgar
        terms:
          - {term: ass, match: substring}
          - {term: anal, match: prefix}
          - {term: fuck, match: prefix}
          - {term: cock, match: substring}
          - arse
        exceptions:
          - cockpit
          - cocktail
          - cockroach
        """,
    )
    words = write(
        tmp_path / "dict",
        "words",
        "class\nclass's\npassage\nanalysis\nanal\nfucking\ncockpit\ncocktail\ncockroach\nsparse\n",
    )
    found = messages(tmp_path, str(words))
    ass = [m for m in found if m.startswith(f"{p}:3:")]
    assert len(ass) == 1 and "inside 2 common English words (class, passage)" in ass[0]
    assert any(m.startswith(f"{p}:4:") and "(analysis)" in m for m in found)
    assert not any(m.startswith(f"{p}:5:") for m in found)  # fucking: an inflection
    assert not any(m.startswith(f"{p}:6:") for m in found)  # every word is an exception
    assert not any(m.startswith(f"{p}:7:") for m in found)  # word mode: "sparse" is fine


def test_real_word_list(tmp_path: Path) -> None:
    """Debian's wamerican (installed by .ci/run) is the default word list."""
    assert DEFAULT_WORDS.is_file(), "install the Debian package wamerican"
    write(tmp_path, "w.yaml", "category: vulgar\nterms:\n  - {term: ass, match: substring}\n")
    r = qinglang("lists", "lint", "--alone", str(tmp_path))
    assert r.returncode == 0
    assert "common English words" in r.stdout and "mass" in r.stdout


def test_missing_word_list_is_a_note_not_a_failure(tmp_path: Path) -> None:
    write(tmp_path / "l", "w.yaml", "category: vulgar\nterms:\n  - {term: ass, match: substring}\n")
    r = qinglang("lists", "lint", "--alone", str(tmp_path / "l"), "--words", str(tmp_path / "none"))
    assert r.returncode == 0
    assert "no English word list" in r.stderr and "wamerican" in r.stderr


def test_domain_list_lines(tmp_path: Path) -> None:
    write(tmp_path, "g.yaml", CLEAN)
    d = write(tmp_path / "domains", "gambling.txt", "casino.example\nnot a domain\n")
    r = qinglang("lists", "lint", "--alone", str(tmp_path))
    assert r.returncode == 0
    assert f"{d}:2: warning: more than one word" in r.stdout
    strict = qinglang("lists", "lint", "--alone", "--strict", str(tmp_path))
    assert strict.returncode == 1


def test_missing_folder(tmp_path: Path) -> None:
    r = qinglang("lists", "lint", str(tmp_path / "nope"))
    assert r.returncode == 1
    assert "does not exist" in r.stdout


def test_checked_against_the_lists_the_proxy_loads(tmp_path: Path) -> None:
    """A file for the data directory that gives a shipped term another weight is an error
    by default (the proxy's lists would not load); --alone checks the file by itself."""
    mine = tmp_path / "mine"
    p = write(mine, "extra.yaml", CLEAN)
    home = tmp_path / "home"  # an empty data directory: the shipped lists only
    r = qinglang("lists", "lint", str(mine), env_home=home)
    assert r.returncode == 1
    assert f"{p}:5: error: term '网络赌场' has weight 40 here and 20 at " in r.stdout
    assert "blocklists/gambling.zh.yaml" in r.stdout
    assert "checked together with" in r.stderr
    # The data directory's own lists count too.
    (home / "lists").mkdir(parents=True)
    write(
        home / "lists", "own.yaml", "category: gambling\nterms:\n  - {term: 押大小, weight: 30}\n"
    )
    write(mine, "more.yaml", "category: gambling\nterms:\n  - {term: 押大小, weight: 60}\n")
    r = qinglang("lists", "lint", str(mine), env_home=home)
    assert "term '押大小' has weight 60 here and 30 at" in r.stdout
    assert qinglang("lists", "lint", "--alone", str(mine), env_home=home).returncode == 0


def test_exception_written_apart_does_not_cover_the_joined_word(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "x.yaml",
        """
        category: porn
        terms:
          - penis
          - a$$
          - {term: sex, match: prefix}
        exceptions:
          - pen is
          - ass
          - sexy
        """,
    )
    found = messages(tmp_path)
    assert not any(m.startswith(f"{p}:3:") for m in found), found
    # After the fold "a$$" is "ass": the exception cancels it wherever it occurs.
    assert any(m.startswith(f"{p}:4: warning: term 'a$$' can never count") for m in found)
    assert not any(m.startswith(f"{p}:5:") and "never" in m for m in found), found


def test_terms_the_evasion_rules_make_equal(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "f.yaml",
        """
        category: porn
        terms:
          - porn
          - p0rn
          - ass
          - as
          - doxing
          - doxxing
          - 不要告诉爸妈
          - 不要告诉爸爸妈妈
        """,
    )
    found = [m for m in messages(tmp_path) if "evasion rules" in m]
    assert any(m.startswith(f"{p}:4: warning: term 'p0rn' ") for m in found), found
    assert any(m.startswith(f"{p}:6: warning: term 'as' and 'ass' ") for m in found), found
    # A doubled letter inside a word, and Chinese repeats, are different words.
    assert len(found) == 2, found
