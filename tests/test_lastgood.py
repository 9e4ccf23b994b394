"""The last rules that loaded: kept on every load, used when the lists stop loading."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qinglang.policy.reload import load_rules
from qinglang.store import lastgood

LIST = "category: gambling\nterms:\n  - {term: 网络赌场, weight: 40}\n"
CONFLICT = "category: gambling\nterms:\n  - {term: 网络赌场, weight: 5}\n"


def home(tmp_path: Path) -> Path:
    (tmp_path / "lists" / "domains").mkdir(parents=True)
    (tmp_path / "lists" / "gambling.yaml").write_text(LIST, encoding="utf-8")
    (tmp_path / "lists" / "domains" / "games.txt").write_text("games.example\n", "utf-8")
    config = tmp_path / "qinglang.yaml"
    config.write_text(textwrap.dedent("lists: [lists]\n"), encoding="utf-8")
    return config


def test_saved_rules_load_when_the_lists_do_not(tmp_path: Path) -> None:
    config = home(tmp_path)
    lastgood.save(load_rules(str(config)))
    (tmp_path / "lists" / "extra.yaml").write_text(CONFLICT, encoding="utf-8")
    with pytest.raises(ValueError) as e:
        load_rules(str(config))
    fb = lastgood.load(str(config), str(e.value))
    assert fb is not None
    assert [t.pattern.text for t in fb.rules.lists.terms] == ["网络赌场"]
    assert fb.rules.config.lists == [str(tmp_path / "lists")]  # still watched
    saved = Path(fb.config.lists[0])
    assert (saved / "domains" / "games.txt").read_text("utf-8") == "games.example\n"
    assert fb.rules.digest.startswith(lastgood.FALLBACK_DIGEST)
    assert "extra.yaml" in fb.status.problem
    # Saving the fallback rules keeps the copy as it was.
    lastgood.save(fb.rules)
    assert not (lastgood.folder(config) / "lists" / "0" / "extra.yaml").exists()


def test_status_round_trip(tmp_path: Path) -> None:
    config = home(tmp_path)
    status = lastgood.Status("extra.yaml:3: duplicate term", 1.0, 0.5)
    lastgood.write_status(str(config), status)
    assert lastgood.read_status(lastgood.status_file(config)) == status
    lastgood.write_status(str(config), None)
    assert lastgood.read_status(lastgood.status_file(config)) is None


def test_nothing_saved_nothing_to_fall_back_on(tmp_path: Path) -> None:
    assert lastgood.load(str(home(tmp_path)), "broken") is None
    assert lastgood.load(None, "broken") is None


def test_a_broken_config_is_not_papered_over(tmp_path: Path) -> None:
    config = home(tmp_path)
    lastgood.save(load_rules(str(config)))
    config.write_text("lists: [lists]\nprofiles: [not a mapping]\n", encoding="utf-8")
    with pytest.raises(ValueError):
        lastgood.load(str(config), "broken")
