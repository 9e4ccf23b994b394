"""`qinglang run` with no config, as a new parent types it: the data directory is made,
the addresses are printed, the printed sign-in step works, and a second start keeps
everything as the parent left it."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from .conftest import CHILD, Proxy, free_port, stop_group
from .upstream import Page, Upstream, html
from .youth_support import ROUTE

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

OWN_TERM = "qinglangfirstrunprobe"  # in the parent's own list only


def _run(
    home: Path, log: Path, port: int, dash: int, route: list[str] | None = None
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "QINGLANG_HOME": str(home)}
    with log.open("wb") as f:
        return subprocess.Popen(
            ["qinglang", "run", "--listen-host", "127.0.0.1", "--listen-port", str(port),
             "--set", "ssl_insecure=true", "--set", "qinglang_workers=0",
             "--set", f"qinglang_dashboard=127.0.0.1:{dash}", *(route or [])],
            stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=env,
        )  # fmt: skip


def _wait(proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 40
    while "filtering proxy listening" not in (text := log.read_text("utf-8", "replace")):
        assert proc.poll() is None, text
        assert time.monotonic() < deadline, text
        time.sleep(0.1)
    return text


def test_first_run_makes_the_data_directory_and_says_what_to_do(
    tmp_path: Path, upstream: Upstream
) -> None:
    home = tmp_path / "qinglang-home"
    # A parent's own list, put in place before the first start, is used with the shipped ones.
    (home / "lists").mkdir(parents=True)
    (home / "lists" / "own.yaml").write_text(
        f"category: own\nweight: 30\nterms: [{OWN_TERM}]\n", encoding="utf-8"
    )
    upstream.pages["/first-run.html"] = Page(
        html(f"a page with {OWN_TERM} in it").encode(),
        {"content-type": "text/html; charset=utf-8"},
    )
    port, dash = free_port(), free_port()
    log = tmp_path / "run1.log"
    # The default child profile tunnels to ports 80 and 443 only: the name asked for is
    # sent to the test upstream's port by the test route.
    route = ["-s", str(ROUTE), "--set", f"test_upstream_http={upstream.http_port}",
             "--set", f"test_upstream_https={upstream.https_port}"]  # fmt: skip
    proc = _run(home, log, port, dash, route)
    try:
        text = _wait(proc, log)
        client = Proxy(tmp_path / "helper")  # only for its client helper
        client.port, client.confdir = port, home / "ca"
        with client.client(CHILD) as c:
            r = c.get("https://first-run.example.test/first-run.html")
            assert r.status_code == 200 and OWN_TERM not in r.text and "*" * 8 in r.text
            # Both printed addresses of the set-up page answer.
            assert c.get("http://qinglang.home.arpa/setup").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{dash}/setup", timeout=20).status_code == 200
    finally:
        stop_group(proc)
    assert proc.returncode == 0, text

    config = home / "qinglang.yaml"
    assert f"qinglang: first run: created {home}" in text
    assert f"proxy (HTTP(S) proxy) on 127.0.0.1:{port}" in text
    assert f"dashboard on http://127.0.0.1:{dash}/" in text
    assert "http://qinglang.home.arpa/setup" in text and f"http://127.0.0.1:{dash}/setup" in text
    step = re.search(r"^\s*(qinglang admin set-password --config \S+)$", text, re.M)
    assert step is not None and step.group(1).endswith(str(config)), text

    # What is in the data directory, and who may read it.
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "ca").stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "ca" / "mitmproxy-ca.pem").stat().st_mode) == 0o600
    assert (home / "ca" / "mitmproxy-ca-cert.pem").is_file()
    for store in ("qinglang-events.sqlite", "qinglang-quota.sqlite", "qinglang-dashboard.sqlite"):
        assert (home / store).is_file(), store
    assert (home / "lists" / "own.yaml").is_file()

    # The parent follows the printed step; the parent's edit of the config is kept.
    subprocess.run(
        [*step.group(1).split(), "--password-stdin"],
        input=b"correct horse battery staple\n",
        check=True,
        timeout=60,
    )
    config.write_text(config.read_text("utf-8") + "# my note\n", encoding="utf-8")
    log2 = tmp_path / "run2.log"
    proc = _run(home, log2, port, dash)
    try:
        text2 = _wait(proc, log2)
    finally:
        stop_group(proc)
    assert "first run" not in text2 and f"data directory {home}" in text2
    assert "set-password" not in text2  # an account exists now
    assert config.read_text("utf-8").endswith("# my note\n")
