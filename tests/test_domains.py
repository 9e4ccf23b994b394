"""Domain lists: the UT1-style format and lookups of a host and its parents."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

from qinglang.engine.yamlloc import SourceError
from qinglang.policy.domains import load_domains
from qinglang.policy.hosts import canonical_name


def write(folder: Path, name: str, text: str) -> Path:
    d = folder / "domains"
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def lists(tmp_path: Path) -> Path:
    write(
        tmp_path,
        "gambling.txt",
        "# gambling sites (test)\n"
        "\n"
        "casino.example\n"
        ".poker.example\n"
        "*.lottery.example\n"
        "Bet.EXAMPLE.  # upper case and a trailing dot\n"
        "bücher-casino.example\n"
        "xn--wettbro-r2a.example\n"
        "@@help.casino.example\n"
        "192.0.2.7\n",
    )
    write(tmp_path, "porn.txt", "adult.example\ncasino.example\n")
    return tmp_path


def test_host_and_its_parents_match(lists: Path) -> None:
    d = load_domains([lists])
    assert d.categories_for("casino.example") == {"gambling", "porn"}
    assert d.categories_for("www.casino.example") == {"gambling", "porn"}
    assert d.categories_for("a.b.c.poker.example") == {"gambling"}
    assert d.categories_for("lottery.example") == {"gambling"}  # "*." lists the domain too
    assert d.categories_for("m.lottery.example") == {"gambling"}


def test_names_that_only_look_alike_do_not_match(lists: Path) -> None:
    d = load_domains([lists])
    assert d.categories_for("notcasino.example") == set()
    assert d.categories_for("casino.example.org") == set()
    assert d.categories_for("example") == set()
    assert d.categories_for("") == set()
    assert d.categories_for("not a host") == set()


def test_case_trailing_dot_and_idna(lists: Path) -> None:
    d = load_domains([lists])
    assert d.categories_for("WWW.Casino.Example.") == {"gambling", "porn"}
    assert d.categories_for("bet.example") == {"gambling"}
    # Listed in Unicode, looked up in punycode and the other way round.
    assert d.categories_for("xn--bcher-casino-dlb.example") == {"gambling"}
    assert d.categories_for("www.bücher-casino.example") == {"gambling"}
    assert d.categories_for("wettbüro.example") == {"gambling"}


def test_exception_takes_a_subtree_out_of_its_category(lists: Path) -> None:
    d = load_domains([lists])
    assert d.categories_for("help.casino.example") == {"porn"}  # only gambling is excepted
    assert d.categories_for("faq.help.casino.example") == {"porn"}
    assert d.categories_for("casino.example") == {"gambling", "porn"}


def test_ip_addresses(lists: Path) -> None:
    d = load_domains([lists])
    assert d.categories_for("192.0.2.7") == {"gambling"}
    assert d.categories_for("192.0.2.70") == set()


def test_matches_names_the_listed_domain(lists: Path) -> None:
    d = load_domains([lists])
    assert d.matches("a.www.casino.example") == {
        "gambling": "casino.example",
        "porn": "casino.example",
    }


def test_bad_lines_are_reported_with_file_and_line_and_skipped(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "drugs.txt",
        "good.example\nthis has spaces\nhttp://shop.example/weed\nbad_-.example!\n\nfine.example\n",
    )
    d = load_domains([tmp_path])
    assert d.categories_for("good.example") == {"drugs"}
    assert d.categories_for("fine.example") == {"drugs"}
    where = [(w.path, w.line) for w in d.warnings]
    assert where == [(str(p), 2), (str(p), 3), (str(p), 4)]
    assert str(d.warnings[1]).startswith(f"{p}:3: a URL")


def test_folder_without_domain_lists_is_empty(tmp_path: Path) -> None:
    d = load_domains([tmp_path])
    assert not d
    assert d.categories_for("anything.example") == set()


def test_missing_folder_and_bad_category_name_raise(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        load_domains([tmp_path / "nope"])
    write(tmp_path, "Bad Name.txt", "x.example\n")
    with pytest.raises(SourceError, match="must be"):
        load_domains([tmp_path])


def test_domains_folder_or_file_can_be_named_directly(lists: Path) -> None:
    assert load_domains([lists / "domains"]).categories_for("adult.example") == {"porn"}
    only = load_domains([lists / "domains" / "porn.txt"])
    assert only.categories == ("porn",)
    assert only.categories_for("casino.example") == {"porn"}


def test_counts(lists: Path) -> None:
    counts = load_domains([lists]).counts()
    assert counts["porn"] == (2, 0)
    assert counts["gambling"] == (7, 1)


def test_a_large_list(tmp_path: Path) -> None:
    rng = random.Random(7)
    names = {
        "".join(rng.choices(string.ascii_lowercase, k=12)) + ".example" for _ in range(200_000)
    }
    write(tmp_path, "porn.txt", "\n".join(sorted(names)) + "\n")
    d = load_domains([tmp_path])
    assert len(d) == len(names)
    sample = rng.sample(sorted(names), 100)
    assert all(d.categories_for("www." + n) == {"porn"} for n in sample)
    assert d.categories_for("zzzz-not-listed.example") == set()


def test_canonical_host() -> None:
    assert canonical_name("WWW.Example.COM.") == "www.example.com"
    assert canonical_name("[2001:DB8::1]") == "2001:db8::1"
    assert canonical_name("münchen.de") == "xn--mnchen-3ya.de"
    assert canonical_name("a b") is None
