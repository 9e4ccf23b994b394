"""Writing the config file from a form: the edit, checked against the digest the form was
shown with, and its audit line. Shared by the profile and client pages.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request

from qinglang.dashboard import configedit
from qinglang.dashboard.state import Dash
from qinglang.dashboard.web import record_audit


def write_config(
    dash: Dash, request: Request, user: str, edit: Callable[[str, Path], str],
    expected: str | None, what: str,
) -> None:  # fmt: skip
    path = dash.s.config_path
    if path is None:
        raise configedit.EditError("no config file", "没有配置文件")
    text = configedit.read(path)
    configedit.write(path, edit(text, path), expected)
    record_audit(dash, request, user, "config." + what.split(" ", 1)[0], what)
