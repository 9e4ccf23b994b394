"""The config file: DESIGN.md's keys, defaults, and errors that name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from qinglang.engine.yamlloc import SourceError
from qinglang.policy.config import default_config, load_config, shipped_lists

GOOD = """
lists: [blocklists]
profiles:
  child:
    block_threshold: 100
    mask: true
    pii: mask
    categories: [porn, gambling]
  adult:
    filter: false
clients:
  - {match: 192.168.1.0/24, profile: child}
  - {match: 192.168.1.10, profile: adult}
  - {user: dad, profile: adult}
default_profile: child
"""


def test_design_config_loads(tmp_path: Path) -> None:
    p = tmp_path / "qinglang.yaml"
    p.write_text(GOOD, encoding="utf-8")
    cfg = load_config(p)
    assert cfg.lists == [str(tmp_path / "blocklists")]  # relative to the config file
    assert cfg.profiles["child"].categories == ["porn", "gambling"]
    assert cfg.profiles["adult"].filter is False
    assert cfg.profile(None).block_threshold == 100
    assert [r.profile for r in cfg.clients] == ["child", "adult", "adult"]


def test_default_config_uses_shipped_lists() -> None:
    cfg = default_config()
    assert cfg.lists == [str(shipped_lists())]
    assert cfg.default_profile == "child" and cfg.profile(None).filter


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("profiles:\n  child:\n    block_treshold: 50\n", 3, "unknown key `block_treshold`"),
        ("profiles:\n  child:\n    pii: maybe\n", 3, "pii"),
        ("profiles:\n  child: {}\ndefault_profile: teen\n", None, "'teen' is not in `profiles`"),
        ("clients:\n  - {match: 300.1.1.1, profile: child}\n", 2, "not an IP address or CIDR"),
        ("clients:\n  - {profile: child}\n", 2, "exactly one of"),
        ("clients:\n  - {match: 10.0.0.0/8, profile: nobody}\n", None, "unknown profile"),
        ("profiles: [child]\n", 1, "profiles"),
        ("lists: [a\n", 2, "YAML syntax error"),
    ],
)
def test_config_errors(tmp_path: Path, text: str, line: int | None, reason: str) -> None:
    p = tmp_path / "qinglang.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as e:
        load_config(p)
    assert reason in str(e.value)
    assert str(e.value).startswith(str(p))
    if line is not None:
        assert e.value.line == line


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read config"):
        load_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        *[("off", "off"), ("Off", "off"), ("no", "off"), ("false", "off"), ("'off'", "off")],
        *[("on", "mask"), ("yes", "mask"), ("true", "mask"), ("mask", "mask")],
    ],
)
def test_pii_words_as_yaml_reads_them(tmp_path: Path, written: str, meant: str) -> None:
    """PyYAML reads an unquoted off/no as False: `pii: off` must still mean off."""
    path = tmp_path / "q.yaml"
    path.write_text(f"profiles:\n  child:\n    pii: {written}\n", encoding="utf-8")
    assert load_config(path).profiles["child"].pii == meant


@pytest.mark.parametrize(
    ("written", "meant"), [("4:30", "04:30"), ("'04:30'", "04:30"), ("23:30", "23:30")]
)
def test_quota_reset_unquoted(tmp_path: Path, written: str, meant: str) -> None:
    """YAML 1.1 reads an unquoted 4:30 as 270 (base 60): it is still the time written."""
    path = tmp_path / "q.yaml"
    path.write_text(f"profiles:\n  child:\n    quota_reset: {written}\n", encoding="utf-8")
    assert load_config(path).profiles["child"].quota_reset == meant


def test_word_settings_yaml_keeps_as_words(tmp_path: Path) -> None:
    """Every other word-valued setting loads as written, unquoted."""
    path = tmp_path / "q.yaml"
    path.write_text(
        "profiles:\n  child:\n    count: every\n    on_oversize: pass\n    on_error: pass\n"
        "    payments: block\n    age_guideline: 2023-draft\n",
        encoding="utf-8",
    )
    p = load_config(path).profiles["child"]
    assert (p.count, p.on_oversize, p.on_error, p.age_guideline) == (
        "every",
        "pass",
        "pass",
        "2023-draft",
    )
    assert p.payments is not None and p.payments.mode == "block"
