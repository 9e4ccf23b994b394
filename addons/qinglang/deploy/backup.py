"""``qinglang backup`` / ``qinglang restore``: the whole data directory as one tar.gz.

The archive holds every file of the data directory (config, lists, SQLite stores, the
CA and the dashboard's key and accounts) and ``qinglang-backup.json``, a manifest with a
format version and each file's size, mode and SHA-256. SQLite stores are copied through
sqlite3's backup API, so a backup taken while the proxy writes is consistent.

Restore trusts nothing in the archive: only plain files and folders, relative paths
without ``..``, bounded sizes and counts, and every file must match the manifest. The
current data is moved aside to ``restore-saved/<date>/`` inside the data directory
first, never deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MANIFEST = "qinglang-backup.json"
FORMAT = 1
SAVED = "restore-saved"  # where restore moves the data it replaces
STAGING = ".restore-staging"
SKIP_DIRS = {SAVED, STAGING}
# The running proxy's lock (runlock.py): neither backed up nor moved aside by a restore.
SKIP_FILES = {"qinglang-run.lock"}
# SQLite's side files: their content is inside the consistent copy.
SKIP_SUFFIXES = ("-wal", "-shm", "-journal")
SQLITE_MAGIC = b"SQLite format 3\x00"
# Bounds on what restore accepts (a home's event log for a year is well under 1 GB).
MAX_FILES = 100_000
MAX_TOTAL_BYTES = 16 * 1024**3
MAX_MANIFEST_BYTES = 64 * 1024**2


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is for the user."""


@dataclass(frozen=True, slots=True)
class Entry:
    path: str  # POSIX path relative to the data directory
    size: int
    mode: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Summary:
    files: int
    bytes: int


# --- backup ---------------------------------------------------------------------------


def _walk(root: Path, exclude: set[Path]) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not (here == root and d in SKIP_DIRS)
            and not (here / d).is_symlink()
        )  # fmt: skip
        for name in sorted(filenames):
            p = here / name
            if name.endswith(SKIP_SUFFIXES) or p.is_symlink() or not p.is_file():
                continue
            if here == root and name in SKIP_FILES:
                continue
            if p.resolve() in exclude:  # the archive being written, if it is in here
                continue
            yield p


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _sqlite_copy(src: Path, dst: Path) -> None:
    """A consistent copy of a live database (the backup API takes its own snapshot)."""
    source = sqlite3.connect(str(src), timeout=30)
    try:
        target = sqlite3.connect(str(dst))
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def backup(data_dir: Path, out: Path) -> Summary:
    """Write the archive to ``out`` (mode 0600; an existing file is never replaced)."""
    if not (data_dir / "qinglang.yaml").is_file():
        raise BackupError(f"{data_dir} is not a qinglang data directory (no qinglang.yaml)")
    out = out.resolve()
    if out.exists():
        raise BackupError(f"{out} exists; choose another name")
    entries: list[Entry] = []
    total = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o600)
        with (
            os.fdopen(fd, "wb") as raw,
            tarfile.open(fileobj=raw, mode="w:gz") as tar,
            tempfile.TemporaryDirectory(prefix="qinglang-backup-") as scratch,
        ):
            for i, path in enumerate(_walk(data_dir, {out, tmp.resolve()})):
                rel = path.relative_to(data_dir).as_posix()
                mode = path.stat().st_mode & 0o777
                src = path
                if _is_sqlite(path):
                    src = Path(scratch) / f"{i}.sqlite"
                    try:
                        _sqlite_copy(path, src)
                    except sqlite3.Error as e:
                        raise BackupError(f"cannot copy the database {path}: {e}") from None
                entry = Entry(rel, src.stat().st_size, mode, _sha256(src))
                info = tar.gettarinfo(str(src), arcname=rel)
                info.mode, info.uid, info.gid, info.uname, info.gname = mode, 0, 0, "", ""
                with src.open("rb") as f:
                    tar.addfile(info, f)
                if src != path:
                    src.unlink()
                entries.append(entry)
                total += entry.size
            manifest = {
                "format": FORMAT,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "files": [
                    {"path": e.path, "size": e.size, "mode": e.mode, "sha256": e.sha256}
                    for e in entries
                ],
            }
            blob = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(blob), 0o600, int(time.time())
            tar.addfile(info, io.BytesIO(blob))
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return Summary(len(entries), total)


# --- restore --------------------------------------------------------------------------


def _safe_name(name: str) -> str:
    """The member's path if it is a plain relative path inside the data directory."""
    if not name or "\\" in name or "\x00" in name:
        raise BackupError(f"the archive has an unsafe path: {name!r}")
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or name.startswith("/"):
        raise BackupError(f"the archive has an unsafe path: {name!r}")
    parts = [x for x in p.parts if x != "."]
    if not parts:
        raise BackupError(f"the archive has an unsafe path: {name!r}")
    if parts[0] in SKIP_DIRS or (len(parts) == 1 and parts[0] in SKIP_FILES):
        raise BackupError(f"the archive has a reserved path: {name!r}")
    return "/".join(parts)


def _read_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo) -> dict[str, Entry]:
    if member.size > MAX_MANIFEST_BYTES:
        raise BackupError("the archive's manifest is too large")
    f = tar.extractfile(member)
    if f is None:
        raise BackupError("the archive's manifest is not a file")
    try:
        data = json.loads(f.read().decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
        version = data.get("format")
        if version != FORMAT:
            raise BackupError(
                f"the archive's format is {version!r}; this qinglang reads format {FORMAT}"
            )
        out: dict[str, Entry] = {}
        for item in data["files"]:
            e = Entry(
                _safe_name(str(item["path"])),
                int(item["size"]),
                int(item["mode"]),
                str(item["sha256"]),
            )
            out[e.path] = e
        return out
    except BackupError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise BackupError(f"the archive's manifest cannot be read: {e}") from None


def check(archive: Path) -> tuple[dict[str, Entry], list[tarfile.TarInfo]]:
    """Validate the archive's members and manifest without extracting anything."""
    try:
        tar = tarfile.open(archive, mode="r:gz")  # noqa: SIM115 (closed by the `with` below)
    except FileNotFoundError:
        raise BackupError(f"{archive}: no such file") from None
    except (tarfile.TarError, OSError, EOFError) as e:
        raise BackupError(f"{archive} is not a qinglang backup (tar.gz): {e}") from None
    with tar:
        members: list[tarfile.TarInfo] = []
        manifest: dict[str, Entry] | None = None
        total = 0
        seen: set[str] = set()
        try:
            for m in tar:
                name = _safe_name(m.name)
                if not (m.isfile() or m.isdir()):
                    raise BackupError(
                        f"the archive has a link or special file: {m.name!r} (only plain "
                        "files and folders are restored)"
                    )
                if m.isfile():
                    if name in seen:
                        raise BackupError(f"the archive has {name!r} twice")
                    seen.add(name)
                    total += m.size
                if len(members) >= MAX_FILES or total > MAX_TOTAL_BYTES:
                    raise BackupError("the archive is larger than a qinglang backup can be")
                if name == MANIFEST:
                    manifest = _read_manifest(tar, m)
                else:
                    members.append(m)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise BackupError(f"{archive} is damaged: {e}") from None
    if manifest is None:
        raise BackupError(f"{archive} has no {MANIFEST}: not a qinglang backup")
    files = {_safe_name(m.name): m for m in members if m.isfile()}
    if set(files) != set(manifest):
        extra = sorted(set(files) ^ set(manifest))[:3]
        raise BackupError(f"the archive's files do not match its manifest: {', '.join(extra)}")
    for name, m in files.items():
        if m.size != manifest[name].size:
            raise BackupError(f"{name}: size differs from the manifest")
    if "qinglang.yaml" not in manifest:
        raise BackupError("the archive holds no qinglang.yaml")
    return manifest, [m for m in members if m.isfile()]


def _extract(archive: Path, manifest: dict[str, Entry], into: Path) -> int:
    """Write the files under ``into``, checking each one's SHA-256; returns bytes written."""
    written = 0
    with tarfile.open(archive, mode="r:gz") as tar:
        for m in tar:
            if not m.isfile():
                continue
            name = _safe_name(m.name)
            if name == MANIFEST:
                continue
            entry = manifest[name]
            dest = into / name
            dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            src = tar.extractfile(m)
            if src is None:
                raise BackupError(f"{name}: cannot be read from the archive")
            h = hashlib.sha256()
            # No group/world write, no set-id bits, whatever the archive says.
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, entry.mode & 0o750)
            with os.fdopen(fd, "wb") as out:
                while block := src.read(1 << 20):
                    written += len(block)
                    if written > MAX_TOTAL_BYTES:
                        raise BackupError("the archive is larger than a qinglang backup can be")
                    h.update(block)
                    out.write(block)
            if h.hexdigest() != entry.sha256:
                raise BackupError(f"{name}: damaged (its SHA-256 differs from the manifest)")
    return written


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for dirpath, _dirs, files in os.walk(root):
        os.chown(dirpath, uid, gid)
        for f in files:
            os.chown(os.path.join(dirpath, f), uid, gid)


@dataclass(frozen=True, slots=True)
class Restored:
    files: int
    bytes: int
    saved: Path | None  # where the data that was there went


def restore(archive: Path, data_dir: Path, *, now: float | None = None) -> Restored:
    manifest, _members = check(archive)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A restore run as root for the service keeps the files the service user's.
    st = data_dir.stat()
    staging = data_dir / STAGING
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted restore; the data is elsewhere
    staging.mkdir(mode=0o700)
    try:
        written = _extract(archive, manifest, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    current = [p for p in data_dir.iterdir() if p.name not in SKIP_DIRS | SKIP_FILES]
    saved: Path | None = None
    if current:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        saved = data_dir / SAVED / stamp
        n = 1
        while saved.exists():
            n += 1
            saved = data_dir / SAVED / f"{stamp}-{n}"
        saved.mkdir(mode=0o700, parents=True)
        (data_dir / SAVED).chmod(0o700)
        for p in current:
            os.replace(p, saved / p.name)
    for p in staging.iterdir():
        os.replace(p, data_dir / p.name)
    staging.rmdir()
    if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
        for p in data_dir.iterdir():
            if p.name == SAVED:
                continue
            if p.is_dir():
                _chown_tree(p, st.st_uid, st.st_gid)
            else:
                os.chown(p, st.st_uid, st.st_gid)
    return Restored(len(manifest), written, saved)
