"""Profiles and clients edited in the browser, written back into ``qinglang.yaml``.

The file is edited as a round-trip YAML document (ruamel.yaml), so comments, key order
and untouched settings stay as the parent wrote them; only keys whose value changed are
set, and a setting cleared in the form is removed so its default applies again. The new
text is validated by ``config.parse_config`` (the same rules as at start-up), and only
then written: to a temporary file in the same folder, the old file copied to
``qinglang.yaml.bak``, then an atomic rename. The proxy's reload picks the change up.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from qinglang.engine.yamlloc import SourceError
from qinglang.policy.config import Config, parse_config

PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class EditError(ValueError):
    """An edit that cannot be applied; the message is for the person who made it: ``str()``
    in English, ``text("zh")`` in Chinese where one was given."""

    def __init__(self, en: str, zh: str | None = None) -> None:
        super().__init__(en)
        self.zh = zh

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" and self.zh else str(self)


class Conflict(EditError):
    """The file changed since the form was shown."""


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 100
    return y


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _load(text: str, path: Path) -> CommentedMap:
    try:
        data = _yaml().load(text) if text.strip() else CommentedMap()
    except YAMLError as e:
        raise EditError(
            f"{path}: cannot be read as YAML: {e}",
            f"{path}：无法按 YAML 读取，请检查缩进、冒号和引号",
        ) from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise EditError(f"{path}: the config must be a mapping", f"{path}：配置应是映射（键: 值）")
    return data


def _dump(data: CommentedMap) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def inline(value: Any) -> str:
    """A setting as one line of YAML for a form field (``22:00-06:00``, ``{weekdays: 60}``)."""
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    y = YAML(typ="safe")
    y.default_flow_style = True
    y.width = 10_000
    out = io.StringIO()
    y.dump(_plain(value), out)
    return out.getvalue().strip().removesuffix("...").strip()


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def parse_inline(text: str, what: str) -> Any:
    """A form field's YAML value; empty means "not set"."""
    if not text.strip():
        return None
    try:
        return YAML(typ="safe").load(text)
    except YAMLError:
        raise EditError(
            f"{what}: not a valid value: {text!r}", f"{what}：值无效：{text!r}"
        ) from None


def _set(node: CommentedMap, key: str, value: Any) -> None:
    """Set ``key`` unless it already holds an equal value; None removes it."""
    if value is None:
        node.pop(key, None)
        return
    if key in node and _plain(node[key]) == _plain(value):
        return
    if isinstance(value, list) and not isinstance(value, CommentedSeq):
        seq = CommentedSeq(value)
        value = seq
    node[key] = value


def validate(text: str, path: Path) -> Config:
    try:
        return parse_config(text, path)
    except SourceError as e:
        raise EditError(str(e), e.text("zh")) from None


def edit_profile(
    text: str, path: Path, name: str, changes: Mapping[str, Any], *, create: bool = False
) -> str:
    """New config text with profile ``name``'s keys set (None: removed)."""
    data = _load(text, path)
    profiles = data.get("profiles")
    if profiles is None:
        profiles = data["profiles"] = CommentedMap()
    if not isinstance(profiles, CommentedMap):
        raise EditError(
            "`profiles` in the config is not a mapping", "配置里的 `profiles` 不是映射（键: 值）"
        )
    if create:
        if not PROFILE_NAME.match(name):
            raise EditError(
                "a profile name is 1-40 letters, digits, - or _",
                "档案名是 1-40 个字母、数字、- 或 _",
            )
        if name in profiles:
            raise EditError(f"there is already a profile {name!r}", f"已经有档案 {name!r}")
        profiles[name] = CommentedMap()
    node = profiles.get(name)
    if node is None and name not in profiles:
        raise EditError(f"no profile {name!r}", f"没有档案 {name!r}")
    if node is None:  # `child:` with nothing under it
        node = profiles[name] = CommentedMap()
    for key, value in changes.items():
        _set(node, key, value)
    return _dump(data)


def delete_profile(text: str, path: Path, name: str) -> str:
    data = _load(text, path)
    profiles = data.get("profiles")
    if not isinstance(profiles, CommentedMap) or name not in profiles:
        raise EditError(f"no profile {name!r}", f"没有档案 {name!r}")
    del profiles[name]
    return _dump(data)


def edit_clients(
    text: str, path: Path, rows: list[dict[str, Any] | None], default_profile: str | None
) -> str:
    """New config text with the client rules edited in place.

    ``rows[i]`` is the new value of the i-th existing rule (None: removed); rows past the
    existing ones are added at the end. Rules edited in place keep their comments."""
    data = _load(text, path)
    seq = data.get("clients")
    if not isinstance(seq, CommentedSeq):
        seq = CommentedSeq()
    existing = len(seq)
    for i in reversed(range(existing)):
        rule = rows[i] if i < len(rows) else seq[i]
        if rule is None:
            del seq[i]
        elif _plain(seq[i]) != rule:
            seq[i] = _flow(rule)
    for rule in rows[existing:]:
        if rule is not None:
            seq.append(_flow(rule))
    if len(seq) or "clients" in data:
        data["clients"] = seq
    if default_profile:
        _set(data, "default_profile", default_profile)
    return _dump(data)


def add_device(text: str, path: Path, entry: dict[str, Any]) -> str:
    """New config text with one more ``devices:`` entry at the end."""
    data = _load(text, path)
    seq = data.get("devices")
    if not isinstance(seq, CommentedSeq):
        seq = CommentedSeq()
    seq.append(_flow(entry))
    data["devices"] = seq
    return _dump(data)


def edit_devices(text: str, path: Path, changes: dict[str, dict[str, Any] | None]) -> str:
    """New config text with named devices edited: ``changes[name]`` sets keys of that
    entry (a None value removes the key), or None removes the entry."""
    data = _load(text, path)
    seq = data.get("devices")
    if not isinstance(seq, CommentedSeq):
        raise EditError("there are no devices in the config", "配置里没有设备")
    for i in reversed(range(len(seq))):
        entry = seq[i]
        name = entry.get("name") if isinstance(entry, CommentedMap) else None
        if name not in changes:
            continue
        change = changes[name]
        if change is None:
            del seq[i]
            continue
        for key, value in change.items():
            if value is None:
                entry.pop(key, None)
            elif entry.get(key) != value:
                entry[key] = value
    return _dump(data)


def _flow(rule: dict[str, Any]) -> CommentedMap:
    m = CommentedMap(rule)
    m.fa.set_flow_style()
    return m


def write(path: Path, text: str, expected: str | None) -> None:
    """Validate, then replace the file atomically, keeping the old one as ``.bak``.

    ``expected`` is the digest of the text the edit started from: if someone changed the
    file meanwhile, nothing is written (their change would be lost)."""
    current = read(path)
    if expected is not None and digest(current) != expected:
        raise Conflict(
            "the config file was changed meanwhile; reload the page and edit again",
            "配置文件在此期间被修改了；请刷新页面后重新编辑",
        )
    validate(text, path)
    folder = path.parent
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if path.exists():
            backup = path.with_name(path.name + ".bak")
            shutil.copy2(path, tmp + ".bak")
            os.replace(tmp + ".bak", backup)
        os.replace(tmp, path)
    except BaseException:
        for leftover in (tmp, tmp + ".bak"):
            if os.path.exists(leftover):
                os.unlink(leftover)
        raise
