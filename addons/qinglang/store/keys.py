"""The dashboard's secret key: signs session cookies, CSRF tokens, the child's forms and
override records. Made once, kept in a file only its owner can read."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

_BYTES = 32


def _parse(p: Path, data: bytes) -> bytes:
    try:
        key = bytes.fromhex(data.decode("ascii"))
    except ValueError:
        key = b""
    if len(key) < _BYTES:
        raise ValueError(f"{p}: not a qinglang key (64 hex digits); delete it to make a new one")
    return key


def load_or_create(path: str | Path) -> bytes:
    """The key in ``path``; a new random one is written there (mode 0600) if it is missing."""
    p = Path(path).expanduser()
    try:
        return _parse(p, p.read_bytes().strip())
    except FileNotFoundError:
        pass
    p.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(_BYTES)
    # O_EXCL: two processes starting at once must not each write their own key.
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _parse(p, p.read_bytes().strip())
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
    return key
