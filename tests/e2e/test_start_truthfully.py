"""Issue 23, items 1-4: what `qinglang run` says when a port is taken (at once, naming the
port, what wanted it and what holds it), one proxy per data directory, no restore under a
running proxy, and `qinglang scan` reading the same config as `qinglang run`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import free_port, stop_group
from .test_first_run import _wait

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "QINGLANG_HOME": str(home)}


def _start(home: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as f:
        return subprocess.Popen(
            ["qinglang", "run", "--listen-host", "127.0.0.1", "--set", "qinglang_workers=0",
             *args],
            stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=_env(home),
        )  # fmt: skip


def _typed(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["qinglang", *args], capture_output=True, text=True, env=_env(home), timeout=60
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    home, log = tmp_path / "home", tmp_path / "run.log"
    port, dash = free_port(), free_port()
    proc = _start(home, log, "--listen-port", str(port), "--set",
                  f"qinglang_dashboard=127.0.0.1:{dash}")  # fmt: skip
    try:
        _wait(proc, log)
        yield home, proc
    finally:
        stop_group(proc)


def test_a_taken_dashboard_port_is_said_at_once_and_not_printed_as_the_dashboard(
    tmp_path: Path,
) -> None:
    home, log = tmp_path / "home", tmp_path / "run.log"
    port, dash = free_port(), free_port()
    with socket.socket() as other:
        other.bind(("127.0.0.1", dash))
        other.listen()
        proc = _start(home, log, "--listen-port", str(port),
                      "--set", f"qinglang_dashboard=127.0.0.1:{dash}")  # fmt: skip
        try:
            text = _wait(proc, log)  # read while it runs: nothing waits for the exit
            assert proc.poll() is None
        finally:
            stop_group(proc)
    said = f"TCP port 127.0.0.1:{dash} for the dashboard is already in use"
    assert said in text, text
    # The program holding it is named (this test's own process).
    assert f"used by pid {os.getpid()}:" in text
    assert "qinglang run --set qinglang_dashboard=127.0.0.1:PORT" in text
    assert f":{dash}/" not in text  # no address another program answers
    assert "qinglang: dashboard not started: its port is taken" in text
    assert f"proxy (HTTP(S) proxy) on 127.0.0.1:{port}" in text


def test_a_taken_proxy_port_names_the_port_and_what_holds_it(tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "run.log"
    port = free_port()
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))
        other.listen()
        proc = _start(home, log, "--listen-port", str(port), "--set", "qinglang_dashboard=off")
        proc.wait(40)
    text = log.read_text("utf-8", "replace")
    assert proc.returncode == 2
    assert f"TCP port 127.0.0.1:{port} for the proxy (HTTP(S) proxy) is already in use" in text
    assert f"used by pid {os.getpid()}:" in text and "--listen-port PORT" in text
    assert "Traceback" not in text


def test_a_taken_wireguard_port_is_named_as_udp(tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "run.log"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("0.0.0.0", 0))
        wg = other.getsockname()[1]
        proc = _start(home, log, "--mode", f"wireguard@{wg}", "--set", "qinglang_dashboard=off")
        proc.wait(40)
    text = log.read_text("utf-8", "replace")
    assert proc.returncode == 2, text
    assert f"UDP port 127.0.0.1:{wg} for a WireGuard device (its tunnel) is already in use" in text
    assert f"used by pid {os.getpid()}:" in text
    assert "os error 98" not in text


def test_a_second_proxy_on_the_same_data_and_a_restore_under_it_are_refused(
    running: tuple[Path, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    home, proc = running
    backup = tmp_path / "b.tar.gz"
    assert _typed(home, "backup", "-o", str(backup)).returncode == 0
    before = sorted(p.name for p in home.iterdir())

    second = _typed(home, "run", "--listen-port", str(free_port()))
    assert second.returncode == 2
    assert f"qinglang run (pid {proc.pid}) is already running" in second.stderr
    assert "systemctl stop qinglang" in second.stderr

    refused = _typed(home, "restore", str(backup))
    assert refused.returncode == 2
    assert f"not restored: qinglang run (pid {proc.pid}) is using {home}" in refused.stderr
    assert "systemctl stop qinglang" in refused.stderr
    assert sorted(p.name for p in home.iterdir()) == before  # nothing was moved aside

    stop_group(proc)
    done = _typed(home, "restore", str(backup))
    assert done.returncode == 0, done.stderr
    assert "restore-saved" in done.stdout
    # The lock is neither in the backup nor moved aside: the next start locks it again.
    saved = next((home / "restore-saved").iterdir())
    assert not (saved / "qinglang-run.lock").exists()


def test_scan_uses_the_data_directorys_config_like_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _typed(home, "init").returncode == 0
    (home / "lists" / "own.yaml").write_text(
        "category: profanity\nterms:\n  - {term: qinglangscanownterm, weight: 100}\n",
        encoding="utf-8",
    )
    page = tmp_path / "page.html"
    page.write_text("<p>hello qinglangscanownterm</p>", encoding="utf-8")
    parent = _typed(home, "scan", "--profile", "parent", str(page))
    assert parent.returncode == 0, parent.stderr
    assert json.loads(parent.stdout)["action"] == "allow"
    child = _typed(home, "scan", str(page))  # the config's default profile: child
    assert child.returncode == 0, child.stderr
    out = json.loads(child.stdout)
    assert out["action"] in ("block", "mask") and out["score"] >= 100
    assert any(m["term"] == "qinglangscanownterm" for m in out["matches"])


def test_a_taken_port_of_a_configured_phone_names_the_phone(tmp_path: Path) -> None:
    home, log = tmp_path / "home", tmp_path / "run.log"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("0.0.0.0", 0))
        wg = other.getsockname()[1]
        home.mkdir()
        (home / "qinglang.yaml").write_text(
            "lists: [<shipped>]\nprofiles: {child: {}}\ndefault_profile: child\n"
            f"devices:\n  - {{name: mei-phone, profile: child, wireguard_port: {wg}}}\n",
            encoding="utf-8",
        )
        proc = _start(home, log, "--listen-port", str(free_port()),
                      "--set", "qinglang_dashboard=off")  # fmt: skip
        proc.wait(40)
    text = log.read_text("utf-8", "replace")
    assert proc.returncode == 2, text
    assert f"UDP port 127.0.0.1:{wg} for the WireGuard device 'mei-phone' is already in use" in text


def test_lists_test_uses_the_data_directorys_config_like_run(tmp_path: Path) -> None:
    """A parent's exported reports, tested as their own proxy decides (own lists)."""
    home = tmp_path / "home"
    assert _typed(home, "init").returncode == 0
    (home / "lists" / "own.yaml").write_text(
        "category: profanity\nterms:\n  - {term: qinglangcorpusownterm, weight: 100}\n",
        encoding="utf-8",
    )
    corpus = tmp_path / "corpus"
    (corpus / "block").mkdir(parents=True)
    (corpus / "block" / "page.html").write_text("<p>qinglangcorpusownterm</p>", encoding="utf-8")
    done = _typed(home, "lists", "test", str(corpus))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 of 1 documents right" in done.stdout
