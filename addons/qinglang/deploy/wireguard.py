"""WireGuard for phones: one key pair and one listener per device.

In WireGuard mode mitmproxy shows every device as the tunnel's client address, so a
device is told apart by the listener its tunnel arrives at: each ``devices:`` entry of
the config gets ``--mode wireguard:DATA/wireguard/NAME.conf@PORT`` (``run_args``), and
the listener's port maps it to its profile (``clients.ClientMap``).

The key file is mitmproxy's own format (JSON with ``server_key`` and ``client_key``,
read by ``mitmproxy.proxy.mode_servers``), written here first so that it is created with
mode 0600: the client key lets whoever holds it appear as that device. The client's
configuration (``client_config``) is shown only to a signed-in parent on the dashboard.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mitmproxy_rs

from qinglang.policy.config import Config, Device

KEY_DIR = "wireguard"
# The addresses mitmproxy's WireGuard server gives the device (its own client conf).
CLIENT_ADDRESS = "10.0.0.1/32"
CLIENT_DNS = "10.0.0.53"


class KeyFileError(ValueError):
    """A key file that is not mitmproxy's format or holds keys that are not keys."""


@dataclass(frozen=True, slots=True)
class Keys:
    server_key: str
    client_key: str

    @property
    def server_public(self) -> str:
        return str(mitmproxy_rs.wireguard.pubkey(self.server_key))

    @property
    def client_public(self) -> str:
        return str(mitmproxy_rs.wireguard.pubkey(self.client_key))


def key_dir(data_dir: str | Path) -> Path:
    return Path(data_dir).expanduser() / KEY_DIR


def key_path(data_dir: str | Path, device: str) -> Path:
    return key_dir(data_dir) / f"{device}.conf"


def read_keys(path: Path) -> Keys:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = Keys(str(data["server_key"]), str(data["client_key"]))
        _ = keys.server_public, keys.client_public  # raises on a key that is not one
    except OSError as e:
        raise KeyFileError(f"{path}: cannot read the WireGuard key file: {e.strerror}") from None
    except (ValueError, KeyError, TypeError):
        # The message never repeats the file's content: it holds private keys.
        raise KeyFileError(
            f"{path}: not a WireGuard key file (JSON with server_key and client_key)"
        ) from None
    return keys


def ensure_keys(path: Path) -> Keys:
    """The device's keys, generated on first use; the file is kept private (0600)."""
    if path.exists():
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
        return read_keys(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    keys = Keys(mitmproxy_rs.wireguard.genkey(), mitmproxy_rs.wireguard.genkey())
    body = json.dumps({"server_key": keys.server_key, "client_key": keys.client_key}, indent=4)
    # O_EXCL: two starts at once never interleave two different keys in one file.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_keys(path)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(body + "\n")
    return keys


def endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def client_config(keys: Keys, host: str, port: int) -> str:
    """The device's WireGuard configuration (what the WireGuard app imports).

    ``AllowedIPs`` includes ``::/0``: the tunnel has no IPv6 address, so IPv6 is dropped
    instead of leaving beside the tunnel unfiltered; apps fall back to IPv4."""
    return (
        "[Interface]\n"
        f"PrivateKey = {keys.client_key}\n"
        f"Address = {CLIENT_ADDRESS}\n"
        f"DNS = {CLIENT_DNS}\n"
        "\n"
        "[Peer]\n"
        f"PublicKey = {keys.server_public}\n"
        "AllowedIPs = 0.0.0.0/0, ::/0\n"
        f"Endpoint = {endpoint(host, port)}\n"
    )


def qr_svg(text: str) -> str:
    """The configuration as a QR code (inline SVG, no script), for the WireGuard app's
    "scan from QR code"."""
    import segno

    qr = segno.make_qr(text, error="m")
    return str(qr.svg_inline(scale=4, border=4, dark="#000", light="#fff"))


def mode_spec(data_dir: str | Path, device: Device) -> str:
    return f"wireguard:{key_path(data_dir, device.name)}@{device.wireguard_port}"


def _given_modes(args: Sequence[str]) -> bool:
    return any(a in ("--mode", "-m") or a.startswith("--mode=") for a in args)


def set_option(args: Sequence[str], name: str) -> str | None:
    """The value of ``--set NAME=VALUE`` among mitmdump's options (the last one wins)."""
    value = None
    for i, a in enumerate(args):
        if a == "--set" and i + 1 < len(args):
            item = args[i + 1]
        elif a.startswith("--set="):
            item = a.removeprefix("--set=")
        else:
            continue
        key, sep, val = item.partition("=")
        if sep and key == name:
            value = val
    return value


def data_dir_of(args: Sequence[str]) -> Path:
    """Where the key files go: ``qinglang_data_dir``, else mitmproxy's confdir."""
    given = set_option(args, "qinglang_data_dir") or set_option(args, "confdir")
    return Path(given or "~/.mitmproxy").expanduser()


def run_args(cfg: Config, args: Sequence[str], data_dir: str | Path | None = None) -> list[str]:
    """mitmdump's options with a WireGuard listener per configured device.

    Any ``--mode`` replaces mitmproxy's default, so the explicit proxy (``regular``) is
    added too unless the user chose modes of their own. Key files are made here, before
    mitmdump reads them. Raises KeyFileError for a damaged key file."""
    out = list(args)
    if not cfg.wireguard_devices:
        return out
    base = Path(data_dir).expanduser() if data_dir is not None else data_dir_of(args)
    if not _given_modes(args):
        out += ["--mode", "regular"]
    for device in cfg.wireguard_devices:
        path = key_path(base, device.name)
        try:
            ensure_keys(path)
        except OSError as e:
            raise KeyFileError(
                f"{path}: cannot write the WireGuard key file: {e.strerror}"
            ) from None
        out += ["--mode", mode_spec(base, device)]
    return out
