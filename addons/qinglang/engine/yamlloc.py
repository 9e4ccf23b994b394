"""Load YAML fast and, only when something is wrong, say on which line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml is ten times faster on 100,000-term lists
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


class SourceError(ValueError):
    """A problem in a file the user wrote, with the place it is at. ``zh``, where given,
    is the reason in Chinese (the dashboard's zh pages); ``str()`` stays English."""

    def __init__(
        self, path: str | Path, line: int | None, reason: str, zh: str | None = None
    ) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        self.zh = zh
        self.where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{self.where}: {reason}")

    def text(self, lang: str) -> str:
        """The message in ``lang`` (``zh`` or English), the place as it is."""
        return f"{self.where}: {self.zh}" if lang == "zh" and self.zh else str(self)


def load_yaml(text: str, path: str | Path) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        raise SourceError(
            path,
            line,
            f"YAML syntax error: {e.problem or e}",
            "YAML 语法错误：请检查这一行的缩进、冒号和引号",
        ) from None
    except yaml.YAMLError as e:
        raise SourceError(path, None, f"YAML error: {e}", "YAML 无法读取") from None


def line_of(text: str, loc: Sequence[str | int]) -> int | None:
    """1-based line of the node at ``loc`` (keys and list indexes), or its nearest parent."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == key:
                    # Point at the key for scalars: that is where people look.
                    line = k.start_mark.line + 1
                    nxt = v
                    break
            if nxt is None:
                return line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                return line
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
