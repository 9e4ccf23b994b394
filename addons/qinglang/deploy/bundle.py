"""The same config and lists on every worker: a bundle fetched from a URL, pinned by SHA-256.

``--config https://intranet/qinglang/bundle.tar.gz --config-sha256 HEX`` (options
``qinglang_config`` and ``qinglang_config_sha256``): the bundle is a ``.tar.gz`` holding
``qinglang.yaml`` (at its top, or in one top folder) and the list folders it names, by
relative paths. It is downloaded once at start-up (at most ``MAX_BYTES`` bytes in at most
``TIMEOUT`` seconds), refused unless its SHA-256 is the pinned one, and unpacked with
tarfile's ``data`` filter (no absolute paths, no ``..``, no links out, no devices) into
``<confdir>/bundles/<sha256>/``, where the config is then read as a local file. A new bundle
takes a restart with the new hash (behind HAProxy, one worker at a time).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from qinglang.store.backends import redact

__all__ = ["BundleError", "fetch", "is_url", "redact"]

MAX_BYTES = 64 * 1024 * 1024  # downloaded
MAX_UNPACKED = 512 * 1024 * 1024  # sum of the members' sizes
TIMEOUT = 60.0  # seconds for the whole download
CONFIG_NAME = "qinglang.yaml"


class BundleError(ValueError):
    """The bundle cannot be used; the message says why (without a password)."""


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _download(url: str, max_bytes: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    req = urllib.request.Request(url, headers={"User-Agent": "qinglang"})
    try:
        with urllib.request.urlopen(req, timeout=min(timeout, 30.0)) as resp:
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise BundleError(f"{redact(url)} is {declared} bytes, over {max_bytes}")
            buf = io.BytesIO()
            while True:
                if time.monotonic() > deadline:
                    raise BundleError(f"{redact(url)} took more than {timeout:g} s to download")
                chunk = resp.read(65536)
                if not chunk:
                    break
                buf.write(chunk)
                if buf.tell() > max_bytes:
                    raise BundleError(f"{redact(url)} is over {max_bytes} bytes")
            return buf.getvalue()
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise BundleError(f"cannot download {redact(url)}: {reason}") from None


def _config_in(root: Path) -> Path:
    direct = root / CONFIG_NAME
    if direct.is_file():
        return direct
    found = sorted(root.glob(f"*/{CONFIG_NAME}"))
    if len(found) != 1:
        raise BundleError(f"the bundle holds no {CONFIG_NAME} at its top or in one top folder")
    return found[0]


def _unpack(data: bytes, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            members = tar.getmembers()
            if sum(m.size for m in members) > MAX_UNPACKED:
                raise BundleError(f"the bundle unpacks to more than {MAX_UNPACKED} bytes")
            tar.extractall(tmp, filter="data")
    except (tarfile.TarError, EOFError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BundleError(f"the bundle is not a readable .tar.gz: {e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def fetch(
    url: str,
    sha256: str,
    cache: Path,
    *,
    max_bytes: int = MAX_BYTES,
    timeout: float = TIMEOUT,
) -> Path:
    """The local ``qinglang.yaml`` of the bundle at ``url`` whose SHA-256 is ``sha256``."""
    want = sha256.strip().lower()
    if len(want) != 64 or any(c not in "0123456789abcdef" for c in want):
        raise BundleError(
            f"a config URL needs its SHA-256 pinned (64 hex digits): --config-sha256 "
            f"(option qinglang_config_sha256) for {redact(url)}"
        )
    dest = cache / want
    if (dest / ".verified").is_file():
        return _config_in(dest)
    data = _download(url, max_bytes, timeout)
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise BundleError(
            f"refusing the config bundle {redact(url)}: its SHA-256 is {got}, "
            f"the pinned one is {want}"
        )
    _unpack(data, dest)
    config = _config_in(dest)
    (dest / ".verified").write_text(url and redact(url), encoding="utf-8")
    return config
