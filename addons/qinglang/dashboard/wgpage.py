"""What the dashboard's WireGuard page shows for each configured device: its profile,
listener and client configuration (text and QR code). The configuration holds the
device's private key, so only a signed-in parent sees it (``views/wireguard.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qinglang.deploy.wireguard import KeyFileError, client_config, key_path, qr_svg, read_keys
from qinglang.policy.config import Config, Device


@dataclass(frozen=True, slots=True)
class DeviceView:
    device: Device
    key_file: Path
    conf: str | None  # None: no key file yet (the listener starts with `qinglang run`)
    qr: str | None  # inline SVG
    error: str | None = None


def device_conf(device: Device, data_dir: Path, host: str) -> str | None:
    path = key_path(data_dir, device.name)
    if not path.exists():
        return None
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # mitmproxy writes the file it makes itself readable by all
    return client_config(read_keys(path), host, device.wireguard_port)


def views(cfg: Config, data_dir: Path, host: str) -> list[DeviceView]:
    out: list[DeviceView] = []
    for device in cfg.wireguard_devices:
        path = key_path(data_dir, device.name)
        try:
            conf = device_conf(device, data_dir, host)
        except KeyFileError as e:
            out.append(DeviceView(device, path, None, None, str(e)))
            continue
        out.append(DeviceView(device, path, conf, qr_svg(conf) if conf else None))
    return out


def find(cfg: Config, name: str) -> Device | None:
    return next((d for d in cfg.wireguard_devices if d.name == name), None)
