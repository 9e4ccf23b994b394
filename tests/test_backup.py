"""`qinglang backup` / `qinglang restore`: real SQLite stores, a live writer, and archives
built to attack the restore."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import stat
import tarfile
from pathlib import Path

import pytest

from qinglang.cli.main import main
from qinglang.dashboard import accounts
from qinglang.deploy import backup, datadir
from qinglang.store import dashdb as db


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A data directory with an admin account, events (WAL, as the proxy writes them), a
    list of the parent's own and a CA key."""
    d = datadir.resolve(str(tmp_path / "data"))
    datadir.ensure(d)
    conn = db.connect(d.root / "qinglang-dashboard.sqlite")
    accounts.set_password(conn, "mum", "a long enough password")
    conn.close()
    ev = sqlite3.connect(d.root / "qinglang-events.sqlite")
    ev.execute("PRAGMA journal_mode=WAL")
    ev.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, host TEXT)")
    ev.executemany("INSERT INTO events (host) VALUES (?)", [(f"h{i}.example",) for i in range(500)])
    ev.commit()
    ev.close()
    (d.lists / "mine.yaml").write_text("category: mine\nterms: [foo]\n", encoding="utf-8")
    (d.ca / "mitmproxy-ca.pem").write_text("-----BEGIN PRIVATE KEY-----\nx\n", encoding="utf-8")
    (d.ca / "mitmproxy-ca.pem").chmod(0o600)
    return d.root


def _events(root: Path) -> int:
    conn = sqlite3.connect(root / "qinglang-events.sqlite")
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def test_backup_then_restore_brings_everything_back(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The proxy is running: a writer holds the database open, with a write in progress.
    live = sqlite3.connect(home / "qinglang-events.sqlite", isolation_level=None)
    live.execute("BEGIN IMMEDIATE")
    live.execute("INSERT INTO events (host) VALUES ('uncommitted.example')")
    archive = tmp_path / "b.tar.gz"
    assert main(["backup", "--data-dir", str(home), "-o", str(archive)]) == 0
    live.execute("ROLLBACK")
    live.close()
    out = capsys.readouterr().out
    assert "private key" in out and "password hashes" in out
    assert _mode(archive) == 0o600

    # Things change after the backup...
    conn = sqlite3.connect(home / "qinglang-events.sqlite")
    conn.execute("DELETE FROM events")
    conn.commit()
    conn.close()
    (home / "qinglang.yaml").write_text("default_profile: broken\n", encoding="utf-8")
    (home / "lists" / "mine.yaml").unlink()
    (home / "lists" / "later.yaml").write_text("category: x\nterms: [bar]\n", encoding="utf-8")
    conn = db.connect(home / "qinglang-dashboard.sqlite")
    accounts.remove(conn, "mum")
    conn.close()

    # ...and the restore puts them back.
    assert main(["restore", str(archive), "--data-dir", str(home)]) == 0
    out = capsys.readouterr().out
    assert "start the proxy again" in out
    assert _events(home) == 500  # committed rows only, consistent
    assert "default_profile: child" in (home / "qinglang.yaml").read_text("utf-8")
    assert (home / "lists" / "mine.yaml").is_file()
    assert not (home / "lists" / "later.yaml").exists()
    conn = db.connect(home / "qinglang-dashboard.sqlite")
    assert accounts.names(conn) == ["mum"]
    assert accounts.verify(conn, "mum", "a long enough password") is not None
    conn.close()
    assert _mode(home / "ca" / "mitmproxy-ca.pem") == 0o600

    # Nothing was lost: what was there before the restore is kept aside.
    saved = sorted((home / backup.SAVED).iterdir())
    assert len(saved) == 1 and str(saved[0]) in out
    assert (saved[0] / "lists" / "later.yaml").is_file()
    assert "broken" in (saved[0] / "qinglang.yaml").read_text("utf-8")
    # A later backup leaves the kept-aside data out.
    again = tmp_path / "again.tar.gz"
    assert main(["backup", "--data-dir", str(home), "-o", str(again)]) == 0
    with tarfile.open(again) as tar:
        assert not any(n.startswith(backup.SAVED) for n in tar.getnames())


def test_a_backup_written_inside_the_data_directory_leaves_itself_out(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(home)
    assert main(["backup", "--data-dir", str(home)]) == 0  # default name, here
    (archive,) = home.glob("qinglang-backup-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "qinglang.yaml" in names and not any("qinglang-backup-" in n for n in names)
    assert not any(n.endswith(".tmp") for n in names)


def test_restore_into_an_empty_place(home: Path, tmp_path: Path) -> None:
    archive = tmp_path / "b.tar.gz"
    backup.backup(home, archive)
    r = backup.restore(archive, tmp_path / "new")
    assert r.saved is None and _events(tmp_path / "new") == 500
    assert _mode(tmp_path / "new") == 0o700


def test_backup_never_replaces_a_file_and_needs_a_data_directory(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exists.tar.gz"
    out.write_bytes(b"keep")
    assert main(["backup", "--data-dir", str(home), "-o", str(out)]) == 2
    assert out.read_bytes() == b"keep"
    assert main(["backup", "--data-dir", str(tmp_path / "nothing"), "-o", str(tmp_path / "x")]) == 2
    assert "not a qinglang data directory" in capsys.readouterr().err


def _archive(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], **manifest_kw):  # type: ignore[no-untyped-def]
    """An archive with the given members and a manifest describing the file members."""
    files = [m for m in members if isinstance(m, tuple)]
    manifest = {
        "format": 1,
        "files": [
            {"path": n, "size": len(b), "mode": 0o600, "sha256": hashlib.sha256(b).hexdigest()}
            for n, b in files
        ],
    }
    manifest.update(manifest_kw)
    with tarfile.open(path, "w:gz") as tar:
        for m in members:
            if isinstance(m, tuple):
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tar.addfile(info, io.BytesIO(m[1]))
            else:
                tar.addfile(m)
        blob = json.dumps(manifest).encode()
        info = tarfile.TarInfo(backup.MANIFEST)
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
    return path


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


CONFIG = ("qinglang.yaml", b"default_profile: child\n")


@pytest.mark.parametrize(
    ("members", "extra", "message"),
    [
        ([CONFIG, ("/etc/cron.d/evil", b"x")], {}, "unsafe path"),
        ([CONFIG, ("../outside.txt", b"x")], {}, "unsafe path"),
        ([CONFIG, ("lists/../../outside.txt", b"x")], {}, "unsafe path"),
        ([CONFIG, _link("lists/l.yaml", "/etc/passwd")], {}, "link"),
        ([CONFIG, _link("lists/h.yaml", "../../x", tarfile.LNKTYPE)], {}, "link"),
        ([CONFIG, ("restore-saved/x", b"x")], {}, "reserved path"),
        ([CONFIG], {"format": 99}, "format is 99"),
        ([("lists/a.yaml", b"x")], {}, "no qinglang.yaml"),
    ],
)
def test_a_malicious_or_foreign_archive_is_refused(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    members: list[tarfile.TarInfo | tuple[str, bytes]],
    extra: dict[str, object],
    message: str,
) -> None:
    before = (home / "qinglang.yaml").read_text("utf-8")
    archive = _archive(tmp_path / "evil.tar.gz", members, **extra)
    assert main(["restore", str(archive), "--data-dir", str(home)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qinglang: not restored:") and message in err
    assert (home / "qinglang.yaml").read_text("utf-8") == before  # untouched
    assert not (home / backup.SAVED).exists() and not (tmp_path / "outside.txt").exists()
    assert _events(home) == 500


def test_a_damaged_or_tampered_archive_is_refused(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file whose content no longer matches the manifest's SHA-256.
    good = tmp_path / "good.tar.gz"
    backup.backup(home, good)
    with tarfile.open(good) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(backup.MANIFEST).read())  # type: ignore[union-attr]
    manifest["files"][0]["sha256"] = "0" * 64
    bad = tmp_path / "tampered.tar.gz"
    with tarfile.open(good) as src, tarfile.open(bad, "w:gz") as dst:
        for m in src.getmembers():
            if m.name == backup.MANIFEST:
                blob = json.dumps(manifest).encode()
                m.size = len(blob)
                dst.addfile(m, io.BytesIO(blob))
            else:
                dst.addfile(m, src.extractfile(m))
    assert main(["restore", str(bad), "--data-dir", str(home)]) == 2
    assert "SHA-256" in capsys.readouterr().err
    assert not (home / backup.STAGING).exists() and not (home / backup.SAVED).exists()
    assert len(names) > 5

    # Not a tar.gz at all; no manifest; too large for a backup.
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    assert main(["restore", str(junk), "--data-dir", str(home)]) == 2
    assert "not a qinglang backup" in capsys.readouterr().err
    plain = tmp_path / "plain.tar.gz"
    with tarfile.open(plain, "w:gz") as tar:
        tar.add(home / "qinglang.yaml", arcname="qinglang.yaml")
    assert main(["restore", str(plain), "--data-dir", str(home)]) == 2
    assert "no qinglang-backup.json" in capsys.readouterr().err
    monkeypatch.setattr(backup, "MAX_TOTAL_BYTES", 1000)
    assert main(["restore", str(good), "--data-dir", str(home)]) == 2
    assert "larger than" in capsys.readouterr().err
    assert _events(home) == 500
