"""Shared fixtures: list files written the way a maintainer writes them."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qinglang.engine.lists import load_lists
from qinglang.engine.scanner import Engine, ScanResult
from qinglang.policy.config import Profile

# Commands without --config read the data directory's config (qinglang scan, admin): the
# tests never read or write the real user's one. A test that needs one sets its own.
os.environ["QINGLANG_HOME"] = tempfile.mkdtemp(prefix="qinglang-test-home-")
# Empty, and searchable by the other users some tests run commands as (install.sh's).
os.chmod(os.environ["QINGLANG_HOME"], 0o755)


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


# --- real PostgreSQL and Redis for the scale-out tests (scripts/scaleout_services.py) ----------


def _services() -> Any:
    path = Path(__file__).resolve().parents[1] / "scripts" / "scaleout_services.py"
    spec = importlib.util.spec_from_file_location("scaleout_services", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("scaleout_services", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def services() -> Any:
    """scripts/scaleout_services.py as a module (Postgres, Redis, HAProxy)."""
    return _services()


@pytest.fixture(scope="session")
def pg_server(services: Any) -> Iterator[Any]:
    """A private PostgreSQL on a free loopback port, stopped at the end of the session."""
    pg = services.Postgres()
    try:
        yield pg.start()
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def redis_server(services: Any) -> Iterator[Any]:
    """A private Redis (with a password) on a free loopback port."""
    rd = services.Redis()
    try:
        yield rd.start()
    finally:
        rd.stop()
