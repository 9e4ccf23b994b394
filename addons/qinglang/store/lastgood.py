"""The last rules that loaded, kept so that a broken or conflicting list never takes the
filter down.

Every time the rules load (at start and on each reload), the list files they were read
from (keyword lists and ``domains/*.txt``) are copied to ``qinglang-last-good/`` next to
the config file (in the data directory). When the lists no longer load at start (a list
file added to the data directory gives a shipped term another weight, a file is cut
short), the proxy starts with that copy and the config as it is now, writes
``qinglang-rules-status.json`` next to the config (the banner and the dashboard read it)
and records an event. With the built-in config (no file) there is only the shipped lists
and nothing to keep. The reloader keeps watching the real files: once
they load again, they are in force and the status is cleared.

A broken config still stops the start (DESIGN.md): it says who is filtered, and a guess
would be worse than a clear refusal.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from qinglang.engine.lists import list_files, load_lists
from qinglang.policy.clients import ClientMap
from qinglang.policy.config import Config, load_config
from qinglang.policy.domains import domain_files
from qinglang.policy.reload import Rules

DIR_NAME = "qinglang-last-good"
STATUS_NAME = "qinglang-rules-status.json"
FALLBACK_DIGEST = "last-good:"  # a digest prefix: any rules that load again differ


@dataclass(frozen=True, slots=True)
class Status:
    problem: str  # why the lists do not load (file, line, reason)
    since: float  # when the proxy fell back
    saved: float | None  # when the rules in force were saved


@dataclass(frozen=True, slots=True)
class Fallback:
    rules: Rules  # the config as it is, the saved keyword lists (digest marked)
    config: Config  # the config with ``lists`` naming the saved folders (domain lists)
    status: Status


def folder(config_path: str | Path) -> Path:
    return Path(config_path).resolve().parent / DIR_NAME


def status_file(config_path: str | Path) -> Path:
    return Path(config_path).resolve().parent / STATUS_NAME


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def save(rules: Rules) -> None:
    """Copy the list files ``rules`` were read from (replacing the previous copy whole:
    a copy cut short by a crash is never used). OSError when the folder is not writable."""
    if rules.source is None or rules.digest.startswith(FALLBACK_DIGEST):
        return  # the built-in config, or already the saved rules
    dest = folder(rules.source)
    tmp = dest.with_name(dest.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    entries: list[str] = []
    for i, d in enumerate(rules.config.lists):
        src = Path(d)
        root = tmp / "lists" / str(i)
        if src.is_file():
            _copy(src, root / src.name)
            entries.append(src.name)
            continue
        for f in [*list_files([src]), *domain_files([src])]:
            _copy(f, root / f.relative_to(src))
        root.mkdir(parents=True, exist_ok=True)
        entries.append("")
    manifest = {"saved": time.time(), "digest": rules.digest, "lists": entries}
    (tmp / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    old = dest.with_name(dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)


def load(config_path: str | None, problem: str) -> Fallback | None:
    """The saved lists with the config as it is now; None when nothing was saved. Raises
    ``SourceError`` (a ValueError) when the config itself, or the copy, does not load."""
    if config_path is None:
        return None
    dest = folder(config_path)
    try:
        manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cfg = load_config(config_path)
    saved_dirs = [
        str(dest / "lists" / str(i) / name) for i, name in enumerate(manifest.get("lists", []))
    ]
    lists = load_lists(saved_dirs)
    digest = FALLBACK_DIGEST + str(manifest.get("digest", ""))
    rules = Rules(cfg, lists, ClientMap(cfg), digest, config_path)
    status = Status(problem, time.time(), manifest.get("saved"))
    return Fallback(rules, cfg.model_copy(update={"lists": saved_dirs}), status)


def write_status(config_path: str | None, status: Status | None) -> None:
    """Record that the proxy runs on the saved rules (or, with None, that it no longer
    does)."""
    if config_path is None:
        return
    path = status_file(config_path)
    if status is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(path.name + ".tmp")
    data = {"problem": status.problem, "since": status.since, "saved": status.saved}
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read_status(path: Path | None) -> Status | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Status(str(data["problem"]), float(data["since"]), data.get("saved"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
