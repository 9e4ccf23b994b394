"""``qinglang --help`` names every command, ``run`` included, each with one line."""

from __future__ import annotations

import subprocess
import sys

from qinglang.cli.main import build_parser

COMMANDS = (
    "run", "scan", "lists", "admin", "init", "backup", "restore", "allow-device", "add-phone"
)  # fmt: skip


def _help(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "qinglang.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_lists_every_command() -> None:
    out = _help("--help")
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("    ")]
    assert set(COMMANDS) <= set(listed), out
    # Every command the parser knows is in the list (a new one cannot be left out).
    sub = next(a for a in build_parser()._actions if a.dest == "cmd")
    assert set(sub.choices) == set(COMMANDS)  # type: ignore[attr-defined]


def test_run_has_its_own_help() -> None:
    out = _help("run", "--help")
    assert "--data-dir" in out and "mitmdump" in out
