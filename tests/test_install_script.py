"""scripts/install.sh run for real into a temporary root, with a throwaway system user:
files, owners and modes, the unit checked by systemd-analyze, and the installed program
working as the service user."""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.conftest import stop_group

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "scripts" / "install.sh"

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def target() -> Iterator[tuple[Path, str]]:
    # Not under pytest's tmp_path: that is private to root, and the service user must be
    # able to reach the program it runs.
    root = Path(tempfile.mkdtemp(prefix="qinglang-install-"))
    root.chmod(0o755)
    user = f"qlt{os.getpid() % 100000}"
    try:
        yield root, user
    finally:
        subprocess.run(["userdel", user], capture_output=True, check=False)
        subprocess.run(["groupdel", user], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _owner_mode(p: Path) -> tuple[str, int]:
    st = p.stat()
    return pwd.getpwuid(st.st_uid).pw_name, stat.S_IMODE(st.st_mode)


def _as(user: str, *cmd: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", user, "--", *cmd],
        capture_output=True, text=True, input=stdin, timeout=60, cwd="/", check=False,
    )  # fmt: skip


def test_install_into_a_temporary_root(target: tuple[Path, str]) -> None:
    root, user = target
    prefix, data = root / "opt" / "qinglang", root / "var" / "lib" / "qinglang"
    units, bindir = root / "etc" / "systemd" / "system", root / "usr" / "local" / "bin"
    r = subprocess.run(
        [str(INSTALL), "--prefix", str(prefix), "--data-dir", str(data), "--unit-dir",
         str(units), "--bin-dir", str(bindir), "--user", user, "--no-systemctl"],
        capture_output=True, text=True, timeout=200, check=False,
        env={**os.environ, "PYTHON": "/usr/bin/python3"},
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"sudo -u {user}" in r.stdout and "set-password" in r.stdout

    # The system user: no login shell.
    pw = pwd.getpwnam(user)
    assert pw.pw_uid < 1000 and pw.pw_shell.endswith("nologin")

    # The data directory and the CA key belong to the service user alone.
    assert _owner_mode(data) == (user, 0o700)
    assert _owner_mode(data / "ca") == (user, 0o700)
    assert _owner_mode(data / "ca" / "mitmproxy-ca.pem") == (user, 0o600)
    assert _owner_mode(data / "qinglang.yaml")[0] == user
    assert _as("nobody", "cat", str(data / "ca" / "mitmproxy-ca.pem")).returncode != 0

    # The program belongs to root: the service runs it but cannot change it.
    assert _owner_mode(prefix / "venv" / "bin" / "python")[0] == "root"
    assert (prefix / "blocklists").is_dir() and _owner_mode(prefix / "blocklists")[0] == "root"
    assert os.access(prefix / "qinglang-nft.sh", os.X_OK)
    assert (bindir / "qinglang").resolve() == (prefix / "venv" / "bin" / "qinglang").resolve()

    # The unit: the chosen paths and user, accepted by systemd.
    unit = (units / "qinglang.service").read_text("utf-8")
    assert f"User={user}" in unit and f"ReadWritePaths={data}" in unit
    assert f"ExecStart={prefix}/venv/bin/qinglang run --data-dir {data}" in unit
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                 "Restart=on-failure", "LimitNOFILE=65536"):  # fmt: skip
        assert line in unit
    assert "EnvironmentFile=-/etc/default/qinglang" in unit and "$QINGLANG_ARGS" in unit
    nft_unit = (units / "qinglang-nft.service").read_text("utf-8")
    assert f"ExecStart={prefix}/qinglang-nft.sh apply $QINGLANG_NFT_ARGS" in nft_unit
    v = subprocess.run(
        ["systemd-analyze", "verify", str(units / "qinglang.service"),
         str(units / "qinglang-nft.service")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert v.returncode == 0, v.stderr

    # The installed program works as the service user, with the shipped lists...
    scan = _as(user, str(bindir / "qinglang"), "scan", "--content-type", "text/html", "-",
               stdin="<p>网络赌场首充送彩金，百家乐在线</p>")  # fmt: skip
    assert scan.returncode == 0 and '"action": "block"' in scan.stdout, scan.stderr
    # The unit's command, as the service user (no systemd here: without its sandbox), on
    # loopback ports: it starts, filters, and its sign-in step says to use sudo -u.
    exec_start = next(x for x in unit.splitlines() if x.startswith("ExecStart="))
    port, dash = _free_port(), _free_port()
    cache = data / ".test-cache"
    cache.mkdir()
    shutil.chown(cache, user, user)
    log = root / "service.log"
    with log.open("wb") as f:
        proc = subprocess.Popen(
            ["runuser", "-u", user, "--", "env", f"QINGLANG_CACHE={cache}",
             *shlex.split(exec_start.removeprefix("ExecStart=").replace("$QINGLANG_ARGS", "")),
             "--listen-host", "127.0.0.1", "--listen-port", str(port),
             "--set", f"qinglang_dashboard=127.0.0.1:{dash}", "--set", "qinglang_workers=0"],
            stdout=f, stderr=subprocess.STDOUT, start_new_session=True, cwd="/",
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "filtering proxy listening" not in (text := log.read_text("utf-8", "replace")):
            assert proc.poll() is None, text
            assert time.monotonic() < deadline, text
            time.sleep(0.1)
    finally:
        stop_group(proc)
    assert f"qinglang: data directory {data}" in text
    assert f"proxy (HTTP(S) proxy) on 127.0.0.1:{port}" in text
    assert str(data / "ca" / "mitmproxy-ca-cert.pem") in text
    step = f"  sudo -u {user} qinglang admin set-password --config {data / 'qinglang.yaml'}"
    assert step in text.splitlines()

    # The sign-in step it prints writes the data directory as that user.
    pwd_step = _as(user, str(bindir / "qinglang"), "admin", "set-password", "--config",
                   str(data / "qinglang.yaml"), "--password-stdin",
                   stdin="correct horse battery staple\n")  # fmt: skip
    assert pwd_step.returncode == 0, pwd_step.stderr
    assert _owner_mode(data / "qinglang-dashboard.sqlite")[0] == user


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
