"""Shared fixtures: list files written the way a maintainer writes them."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from qinglang.config import Profile
from qinglang.engine import Engine, ScanResult
from qinglang.lists import load_lists


@pytest.fixture
def write_list(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write one list file (dedented YAML) under tmp_path/lists and return the folder."""

    def write(name: str, body: str) -> Path:
        folder = tmp_path / "lists"
        folder.mkdir(exist_ok=True)
        (folder / name).write_text(textwrap.dedent(body), encoding="utf-8")
        return folder

    return write


@pytest.fixture
def scan(write_list: Callable[[str, str], Path]) -> Callable[..., ScanResult]:
    """scan(doc, kind="text", profile=Profile(), lists=YAML) with a default test list."""

    def run(
        doc: str, kind: str = "text", profile: Profile | None = None, lists: str | None = None
    ) -> ScanResult:
        folder = write_list("test.yaml", lists or DEFAULT_LIST)
        engine = Engine(load_lists([folder], use_cache=False))
        return engine.scan(doc, kind, profile or Profile())  # type: ignore[arg-type]

    return run


DEFAULT_LIST = """
    category: gambling
    lang: zh
    weight: 10
    terms:
      - 赌博
      - {term: 网络赌场, weight: 40}
      - {all: [赌场, 充值], weight: 40}
    exceptions:
      - 禁止赌博
      - 打击赌博
"""
