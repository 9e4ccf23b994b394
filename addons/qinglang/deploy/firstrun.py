"""What ``qinglang run`` prints at start: where the proxy, the dashboard and the device
set-up page are, and the first step towards signing in to the dashboard.

Only the start-up arguments and the config are read; nothing here listens or connects.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import ipaddress
import os
import pwd
import socket
import sqlite3
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qinglang.policy.config import Config
from qinglang.policy.hosts import PROXY_HOST

SETUP_PATH = "/setup"
_SIOCGIFADDR = 0x8915  # Linux ioctl: an interface's IPv4 address


@dataclass(frozen=True, slots=True)
class Listener:
    description: str  # mitmproxy's name of the mode, e.g. "HTTP(S) proxy"
    host: str  # "" = every address
    port: int | None
    transport: str = "tcp"  # mitmproxy's mode.transport_protocol: tcp, udp or both


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback, in interface order.

    The standard library has no getifaddrs(); on Linux each interface is asked with the
    SIOCGIFADDR ioctl (one address per interface, enough to tell a parent where to
    point a device). Elsewhere, the address of the default route."""
    found: list[str] = []
    with (
        contextlib.suppress(OSError, AttributeError),
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s,
    ):
        for _, name in socket.if_nameindex():
            req = struct.pack("256s", name.encode()[:15])
            try:
                res = fcntl.ioctl(s.fileno(), _SIOCGIFADDR, req)
            except OSError:  # no IPv4 address on this interface
                continue
            ip = socket.inet_ntoa(res[20:24])
            if not ipaddress.ip_address(ip).is_loopback and ip not in found:
                found.append(ip)
    if not found:
        from mitmproxy.net.local_ip import get_local_ip

        local = get_local_ip()
        if local:
            found.append(local)
    return found


def listeners(rest: Sequence[str]) -> list[Listener]:
    """The proxy listeners the mitmdump arguments ask for (modes, host, port)."""
    from mitmproxy.proxy.mode_specs import ProxyMode

    # Strings only and no exit on error: a bad value is mitmdump's to report.
    p = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    p.add_argument("--listen-host")
    p.add_argument("--listen-port", "-p")
    p.add_argument("--mode", "-m", action="append", default=[])
    p.add_argument("--set", action="append", default=[])  # mitmdump's -s is a script
    try:
        args, _ = p.parse_known_args(list(rest))
    except (argparse.ArgumentError, SystemExit):
        return []
    host, modes = args.listen_host, list(args.mode)
    port = int(args.listen_port) if str(args.listen_port).isdigit() else None
    for item in args.set:
        name, _, value = item.partition("=")
        if name == "listen_host":
            host = value
        elif name == "listen_port" and value.isdigit():
            port = int(value)
        elif name == "mode":
            modes.append(value)
    out: list[Listener] = []
    for spec in modes or ["regular"]:
        try:
            mode = ProxyMode.parse(spec)
        except ValueError:
            continue
        out.append(
            Listener(
                mode.description,
                mode.listen_host(host or ""),
                mode.listen_port(port),
                mode.transport_protocol,
            )
        )
    return out


def dashboard_port(cfg: Config, rest: Sequence[str]) -> tuple[str, int] | None:
    """(host, port) of the dashboard, or None when it is off."""
    from qinglang.policy.config import parse_listen

    listen = cfg.dashboard.listen if cfg.dashboard.enabled else ""
    for i, item in enumerate(rest):
        value = None
        if item == "--set" and i + 1 < len(rest):
            value = rest[i + 1]
        elif item.startswith("--set="):
            value = item.removeprefix("--set=")
        if value and value.startswith("qinglang_dashboard="):
            listen = value.partition("=")[2]
    if not listen or listen.strip().lower() == "off":
        return None
    try:
        return parse_listen(listen)
    except ValueError:
        return None


def _hosts(host: str, lan: Sequence[str]) -> list[str]:
    if host in ("", "0.0.0.0", "::", "*"):
        return list(lan) or ["127.0.0.1"]
    return [host]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def has_admin(state_db: Path) -> bool:
    """Whether a dashboard account exists (read-only; no file is created)."""
    if not state_db.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{state_db.as_posix()}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT 1 FROM admins LIMIT 1").fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def run_as_prefix() -> str:
    """``sudo -u NAME `` when this runs as a system account (the service), so the printed
    commands write the data directory as its owner; else nothing."""
    uid = os.geteuid()
    if uid == 0 or uid >= 1000:
        return ""
    try:
        return f"sudo -u {pwd.getpwuid(uid).pw_name} "
    except KeyError:
        return ""


def banner(
    cfg: Config,
    rest: Sequence[str],
    *,
    config_path: Path,
    state_db: Path,
    data_dir: Path | None,
    created: bool,
    lan: Sequence[str] | None = None,
    confdir: str | None = None,
) -> list[str]:
    """The lines ``qinglang run`` prints before the proxy starts. ``confdir``: a confdir
    the ``qinglang admin`` command must be told (the dashboard's files live there)."""
    lan = lan_addresses() if lan is None else lan
    lines: list[str] = []
    if created and data_dir is not None:
        lines += [
            f"qinglang: first run: created {data_dir}",
            f"  config:  {config_path}  (commented; edit it or use the dashboard)",
            f"  lists:   {data_dir / 'lists'}  (your own list files)",
            f"  CA:      {data_dir / 'ca'}  (keep private: it holds the CA's private key)",
        ]
    elif data_dir is not None:
        lines.append(f"qinglang: data directory {data_dir}")
    for ls in listeners(rest):
        where = ", ".join(f"{_url_host(h)}:{ls.port}" for h in _hosts(ls.host, lan))
        lines.append(f"qinglang: proxy ({ls.description}) on {where}")
    dash = dashboard_port(cfg, rest)
    if dash is None:
        lines.append("qinglang: dashboard off")
    else:
        scheme = "https" if cfg.dashboard.tls_cert else "http"
        hosts = _hosts(dash[0], lan)
        urls = ", ".join(f"{scheme}://{_url_host(h)}:{dash[1]}/" for h in hosts)
        lines.append(f"qinglang: dashboard on {urls}")
        setup = f"{scheme}://{_url_host(hosts[0])}:{dash[1]}{SETUP_PATH}"
        lines.append(
            f"qinglang: device set-up page: http://{PROXY_HOST}{SETUP_PATH} "
            f"(on a device using the proxy) or {setup}"
        )
        if not has_admin(state_db):
            sudo = run_as_prefix()
            where = f" --confdir {confdir}" if confdir else ""
            lines += [
                "qinglang: no dashboard password yet. To sign in the first time, run on this "
                "machine:",
                f"  {sudo}qinglang admin set-password --config {config_path}{where}",
                f"  then open {scheme}://127.0.0.1:{dash[1]}/ here, or from your own phone "
                "or laptop after:",
                f"  {sudo}qinglang allow-device <its address> --config {config_path}",
            ]
    return lines
