"""Fetching list subscriptions (``subscriptions:`` in the config) and keeping them good.

For each subscription that is due (or all, with ``force``): a conditional GET (the ETag
and Last-Modified the server gave last time), capped in size and time; the publisher's
SHA-256 checked when the config gives one or where to find it; the file converted with
the same importers as ``qinglang lists import`` and loaded the way the proxy loads lists.
Only then does it replace the last good copy. A download that fails, is too large, does
not match its checksum or does not load leaves the previous copy in force and says why.

Layout, next to the config (policy/subscriptions.py):

- ``subscriptions/<name>/*.yaml``: keyword lists (``yaml``, ``e2guardian``);
- ``subscriptions/domains/<category>.txt``: every domain subscription of a category,
  merged (the proxy reads one file per category and folder);
- ``.subscriptions/<name>/``: the last good converted copy, and ``state.json`` (ETag,
  Last-Modified, SHA-256, when fetched, the last error).

Files are swapped with ``os.replace``, so the proxy's reload reads the old set or the new.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qinglang.engine.lists import load_lists
from qinglang.listtools.categories import qinglang_category
from qinglang.listtools.importers import (
    DomainImport,
    ImportFailed,
    ImportReport,
    KeywordImport,
    Options,
    output,
    readers,
)
from qinglang.policy.config import Config
from qinglang.policy.domains import load_domains
from qinglang.policy.subscriptions import LISTS_FOLDER, STATE_FOLDER, Subscription

USER_AGENT = "qinglang-lists/1"
# A UT1 tarball unpacks to about 10x its size; more than this is not a list.
_MAX_UNPACKED_FACTOR = 20
_MAX_MEMBERS = 50_000


class FetchError(Exception):
    """The subscription could not be fetched or used; the previous copy stays."""


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    status: str  # updated | unchanged | not due | failed
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.name}: {self.status}" + (f" ({self.detail})" if self.detail else "")


def folders(config_path: str | Path) -> tuple[Path, Path]:
    """(the list folder the proxy reads, the state folder) next to the config."""
    base = Path(config_path).resolve().parent
    return base / LISTS_FOLDER, base / STATE_FOLDER


def _load_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _get(url: str, headers: dict[str, str], limit: int, timeout: float) -> tuple[int, bytes, Any]:
    """GET with a size cap: (status, body, headers); 304 gives an empty body."""
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise FetchError(f"larger than the limit of {limit} bytes")
            body = resp.read(limit + 1)
            if len(body) > limit:
                raise FetchError(f"larger than the limit of {limit} bytes")
            return resp.status, body, resp.headers
    except urllib.error.HTTPError as e:
        if e.code == 304:
            return 304, b"", e.headers
        raise FetchError(f"HTTP {e.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise FetchError(f"cannot fetch: {reason}") from None


def _expected_sha256(sub: Subscription) -> str | None:
    if sub.sha256:
        return sub.sha256
    if not sub.sha256_url:
        return None
    _status, body, _h = _get(sub.sha256_url, {}, 64 * 1024, sub.timeout)
    words = body.decode("ascii", "replace").split()
    if not words or len(words[0]) != 64:
        raise FetchError("the checksum file holds no SHA-256")
    return words[0].lower()


def _unpack_ut1(raw: Path, into: Path, limit: int) -> Path:
    """The ``*/domains`` files of a UT1 tarball, unpacked safely (no links, no paths out
    of ``into``, bounded in count and size)."""
    total = 0
    try:
        with tarfile.open(raw) as tar:
            members = []
            for i, m in enumerate(tar):
                if i > _MAX_MEMBERS:
                    raise FetchError("too many files in the archive")
                if m.isfile() and Path(m.name).name == "domains":
                    total += m.size
                    if total > limit * _MAX_UNPACKED_FACTOR:
                        raise FetchError("the archive unpacks to too much")
                    members.append(m)
            tar.extractall(into, members=members, filter="data")
    except (tarfile.TarError, EOFError) as e:
        raise FetchError(f"not a readable tar archive: {e}") from None
    # UT1's tarball holds blacklists/<category>/domains: the categories' common folder.
    parents = {p.parent.parent for p in into.rglob("domains") if p.is_file()}
    return parents.pop() if len(parents) == 1 else into


def _convert(sub: Subscription, raw: Path, out: Path, work: Path) -> int:
    """Convert the fetched file into list files under ``out``; the number of entries.
    FetchError when it cannot be read or does not load as the proxy would load it."""
    report = ImportReport(sub.url)
    opts = Options(category=sub.category, lang=sub.lang, progress=False)
    out.mkdir(parents=True, exist_ok=True)
    try:
        if sub.format == "yaml":
            target = out / f"{sub.name}.yaml"
            shutil.copyfile(raw, target)
            lists = load_lists([out], use_cache=False)
            return len(lists.terms)
        src = raw
        if sub.format == "ut1":
            src = _unpack_ut1(raw, work / "ut1", sub.max_mb * 1024 * 1024)
            data: KeywordImport | DomainImport = readers()["domains"](src, opts, report)
            assert isinstance(data, DomainImport)
            data = _ut1_pick(data, sub)
        else:
            data = readers()[sub.format](src, opts, report)
        if isinstance(data, KeywordImport):
            output.write_keywords(data, Path(f"{sub.name}.txt"), out, opts, report, True)
            lists = load_lists([out], use_cache=False)
            return len(lists.terms)
        output.write_domains(data, Path(sub.name), out, report, True, sub.format)
        loaded = load_domains([out])
        return len(loaded)
    except ImportFailed as e:
        raise FetchError(f"does not import: {e}") from None
    except (ValueError, OSError) as e:  # SourceError is a ValueError: file and line
        raise FetchError(f"does not load: {e}") from None


def _ut1_pick(data: DomainImport, sub: Subscription) -> DomainImport:
    if not sub.categories:
        return data
    out = DomainImport()
    for ut1_name, ours in sub.categories.items():
        # The importer already names UT1's folders the qinglang way (adult -> porn).
        key = ut1_name if ut1_name in data.listed else qinglang_category(ut1_name) or ut1_name
        for d in data.listed.get(key, {}):
            out.add(ours, d)
        for d in data.excepted.get(key, {}):
            out.add(ours, d, exception=True)
    return out


def update_one(sub: Subscription, state_dir: Path, now: float, force: bool = False) -> Result:
    """Fetch and convert one subscription into ``state_dir/<name>/current``."""
    home = state_dir / sub.name
    state_path = home / "state.json"
    state = _load_state(state_path)
    current = home / "current"
    if not force and current.is_dir() and now - float(state.get("fetched", 0)) < sub.interval:
        return Result(sub.name, "not due")
    headers: dict[str, str] = {}
    if current.is_dir() and state.get("url") == sub.url:
        if state.get("etag"):
            headers["If-None-Match"] = str(state["etag"])
        if state.get("last_modified"):
            headers["If-Modified-Since"] = str(state["last_modified"])
    try:
        status, body, resp_headers = _get(sub.url, headers, sub.max_mb * 1024 * 1024, sub.timeout)
        if status == 304:
            state.update(fetched=now, error=None)
            _save_state(state_path, state)
            return Result(sub.name, "unchanged", "not modified")
        digest = hashlib.sha256(body).hexdigest()
        expected = _expected_sha256(sub)
        if expected is not None and digest != expected:
            raise FetchError("the checksum does not match (the previous copy stays)")
        if digest == state.get("sha256") and current.is_dir() and state.get("url") == sub.url:
            state.update(fetched=now, error=None, etag=resp_headers.get("ETag"))
            _save_state(state_path, state)
            return Result(sub.name, "unchanged", "same content")
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=home, prefix=".work-") as tmp:
            work = Path(tmp)
            raw = work / "download"
            raw.write_bytes(body)
            staged = work / "converted"
            entries = _convert(sub, raw, staged, work)
            if entries == 0:
                raise FetchError("holds no usable entry (the previous copy stays)")
            old = home / "previous"
            shutil.rmtree(old, ignore_errors=True)
            if current.exists():
                os.replace(current, old)
            os.replace(staged, current)
            shutil.rmtree(old, ignore_errors=True)
    except FetchError as e:
        state.update(error=str(e), failed=now)
        with contextlib.suppress(OSError):
            _save_state(state_path, state)
        return Result(sub.name, "failed", str(e))
    state.update(
        url=sub.url,
        fetched=now,
        updated=now,
        sha256=digest,
        etag=resp_headers.get("ETag"),
        last_modified=resp_headers.get("Last-Modified"),
        entries=entries,
        error=None,
    )
    _save_state(state_path, state)
    return Result(sub.name, "updated", f"{entries} entries")


def publish(cfg: Config, lists_dir: Path, state_dir: Path) -> None:
    """Put every subscription's last good copy where the proxy reads lists: keyword files
    per subscription, domain files merged per category. Each file is swapped in whole."""
    lists_dir.mkdir(parents=True, exist_ok=True)
    domains: dict[str, list[tuple[str, Path]]] = {}
    wanted_kw: set[str] = set()
    for sub in cfg.subscriptions:
        current = state_dir / sub.name / "current"
        if not current.is_dir():
            continue
        for f in sorted((current / "domains").glob("*.txt")):
            domains.setdefault(f.stem, []).append((sub.name, f))
        yamls = sorted(current.glob("*.yaml"))
        if yamls:
            wanted_kw.add(sub.name)
            target = lists_dir / sub.name
            staged = lists_dir.parent / STATE_FOLDER / f".publish-{sub.name}"
            shutil.rmtree(staged, ignore_errors=True)
            staged.mkdir(parents=True)
            for y in yamls:
                shutil.copyfile(y, staged / y.name)
            if _same_tree(staged, target):
                shutil.rmtree(staged)
                continue
            old = lists_dir.parent / STATE_FOLDER / f".old-{sub.name}"
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                os.replace(target, old)
            os.replace(staged, target)
            shutil.rmtree(old, ignore_errors=True)
    for child in lists_dir.iterdir():  # keyword folders of subscriptions no longer listed
        if child.is_dir() and child.name != "domains" and child.name not in wanted_kw:
            shutil.rmtree(child, ignore_errors=True)
    folder = lists_dir / "domains"
    folder.mkdir(exist_ok=True)
    for category, parts in domains.items():
        text = "".join(
            f"# subscription {name}\n" + f.read_text(encoding="utf-8") for name, f in parts
        )
        target = folder / f"{category}.txt"
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        tmp = folder / f".{category}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    for stale in folder.glob("*.txt"):
        if stale.stem not in domains:
            stale.unlink()


def _same_tree(a: Path, b: Path) -> bool:
    if not b.is_dir():
        return False
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def update(
    cfg: Config, config_path: str | Path, *, force: bool = False, now: float | None = None
) -> list[Result]:
    """``qinglang lists update``: every subscription that is due (all with ``force``),
    then the proxy's copies. Never raises for one bad subscription."""
    lists_dir, state_dir = folders(config_path)
    moment = time.time() if now is None else now
    results = [update_one(sub, state_dir, moment, force) for sub in cfg.subscriptions]
    if cfg.subscriptions:
        publish(cfg, lists_dir, state_dir)
    return results


def status(cfg: Config, config_path: str | Path) -> list[dict[str, Any]]:
    """What is known of each subscription (for the CLI and the dashboard)."""
    _lists, state_dir = folders(config_path)
    out = []
    for sub in cfg.subscriptions:
        s = _load_state(state_dir / sub.name / "state.json")
        out.append({"name": sub.name, "url": sub.url, **s})
    return out
