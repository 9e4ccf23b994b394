"""The ``dashboard:`` section of qinglang.yaml: checked with the rest of the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from qinglang.engine.yamlloc import SourceError
from qinglang.policy.config import load_config


def test_section_is_read_and_defaults_apply(tmp_path: Path) -> None:
    cfg_file = tmp_path / "qinglang.yaml"
    cfg_file.write_text("dashboard:\n  listen: 127.0.0.1:9090\n  db: dash.sqlite\n")
    cfg = load_config(cfg_file)
    assert cfg.dashboard.listen == "127.0.0.1:9090"
    assert cfg.dashboard.db == "dash.sqlite" and cfg.dashboard.enabled
    bare = tmp_path / "bare.yaml"
    bare.write_text("default_profile: child\n")
    assert load_config(bare).dashboard.listen == "0.0.0.0:8081"


def test_bad_listen_names_file_and_line(tmp_path: Path) -> None:
    cfg_file = tmp_path / "qinglang.yaml"
    cfg_file.write_text("default_profile: child\ndashboard:\n  listen: everywhere\n")
    with pytest.raises(SourceError) as e:
        load_config(cfg_file)
    assert str(e.value).startswith(f"{cfg_file}:3: dashboard.listen")
