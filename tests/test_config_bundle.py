"""A config bundle fetched from a URL with a pinned SHA-256 (bundle.py, ``qinglang run
--config URL --config-sha256 HEX``), served by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from qinglang.deploy import bundle

pytestmark = pytest.mark.timeout(60)

CONFIG = "lists: [lists]\nprofiles:\n  child: {}\ndefault_profile: child\n"
LIST = "category: gambling\nterms:\n  - casino\n"


def make_bundle(members: dict[str, bytes], top: str = "") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


GOOD = make_bundle({"qinglang.yaml": CONFIG.encode(), "lists/gambling.yaml": LIST.encode()})


@pytest.fixture
def served() -> Iterator[dict[str, bytes]]:
    """Files by path, served on 127.0.0.1; the dict gets the base URL under key ''."""
    files: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("content-length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    ).start()
    files[""] = f"http://127.0.0.1:{server.server_address[1]}".encode()
    try:
        yield files
    finally:
        server.shutdown()
        server.server_close()


def _url(files: dict[str, bytes], path: str) -> str:
    return files[""].decode() + path


def test_a_pinned_bundle_is_unpacked_and_its_config_found(
    served: dict[str, bytes], tmp_path: Path
) -> None:
    served["/b.tar.gz"] = GOOD
    sha = hashlib.sha256(GOOD).hexdigest()
    config = bundle.fetch(_url(served, "/b.tar.gz"), sha, tmp_path)
    assert config.read_text() == CONFIG
    assert (config.parent / "lists" / "gambling.yaml").read_text() == LIST
    # One top folder is fine too.
    nested = make_bundle({"qinglang.yaml": CONFIG.encode()}, top="school-2025/")
    served["/n.tar.gz"] = nested
    found = bundle.fetch(_url(served, "/n.tar.gz"), hashlib.sha256(nested).hexdigest(), tmp_path)
    assert found.parent.name == "school-2025"


def test_a_bundle_whose_hash_differs_is_refused(served: dict[str, bytes], tmp_path: Path) -> None:
    served["/b.tar.gz"] = GOOD
    with pytest.raises(bundle.BundleError, match=r"SHA-256 is .* the pinned one is"):
        bundle.fetch(_url(served, "/b.tar.gz"), "0" * 64, tmp_path)
    assert not any(tmp_path.iterdir())  # nothing unpacked
    with pytest.raises(bundle.BundleError, match="needs its SHA-256 pinned"):
        bundle.fetch(_url(served, "/b.tar.gz"), "", tmp_path)


def test_size_and_content_are_bounded(served: dict[str, bytes], tmp_path: Path) -> None:
    served["/b.tar.gz"] = GOOD
    with pytest.raises(bundle.BundleError, match="over 100"):
        bundle.fetch(_url(served, "/b.tar.gz"), hashlib.sha256(GOOD).hexdigest(), tmp_path,
                     max_bytes=100)  # fmt: skip
    evil = make_bundle({"qinglang.yaml": CONFIG.encode(), "../escaped.yaml": b"x"})
    served["/evil.tar.gz"] = evil
    with pytest.raises(bundle.BundleError):
        bundle.fetch(_url(served, "/evil.tar.gz"), hashlib.sha256(evil).hexdigest(), tmp_path)
    assert not (tmp_path.parent / "escaped.yaml").exists()
    with pytest.raises(bundle.BundleError, match="cannot download"):
        bundle.fetch(_url(served, "/missing.tar.gz"), "0" * 64, tmp_path)


def test_run_refuses_to_start_on_a_mismatch(served: dict[str, bytes], tmp_path: Path) -> None:
    served["/b.tar.gz"] = GOOD
    url = _url(served, "/b.tar.gz")
    proc = subprocess.run(
        [sys.executable, "-m", "qinglang.cli", "run", "--config", url, "--config-sha256",
         "ab" * 32, "--set", f"confdir={tmp_path}"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "refusing the config bundle" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "qinglang.cli", "run", "--store", "postgresql://u:pa55word@/"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "names no server" in proc.stderr
    assert "pa55word" not in proc.stderr
