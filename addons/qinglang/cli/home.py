"""Commands for running qinglang at home: ``backup``, ``restore`` and ``allow-device``.

qinglang backup [--data-dir DIR] [-o FILE]      the data directory as one tar.gz
qinglang restore FILE [--data-dir DIR]          put a backup back (old data kept aside)
qinglang allow-device IP [--profile NAME]       let a parent's device in, unfiltered
qinglang add-phone NAME [--profile P] [--port N] a phone with its own WireGuard listener
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import time
from pathlib import Path

from qinglang.deploy import datadir

CA_CERT = "mitmproxy-ca-cert.pem"


def _fail(msg: str) -> int:
    print(f"qinglang: {msg}", file=sys.stderr)
    return 2


def _size(n: int) -> str:
    return f"{n / 1024**2:.1f} MB" if n >= 1024**2 else f"{n / 1024:.1f} kB"


def cmd_init(args: argparse.Namespace) -> int:
    """The data directory and the CA, without starting the proxy (scripts/install.sh)."""
    from qinglang.deploy import ca

    d = datadir.resolve(args.data_dir)
    try:
        created = datadir.ensure(d)
        # qinglang's CA, as `qinglang run` makes it on its first start (ca.py).
        ca.ensure(d.ca)
    except (OSError, ValueError) as e:
        return _fail(f"cannot set up {d.root}: {e}")
    state = "created" if created else "already there"
    print(f"qinglang: data directory {d.root} ({state}); CA certificate {d.ca / CA_CERT}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from qinglang.deploy.backup import BackupError, backup

    d = datadir.resolve(args.data_dir)
    out = Path(args.output or time.strftime("qinglang-backup-%Y%m%d-%H%M%S.tar.gz"))
    try:
        s = backup(d.root, out)
    except BackupError as e:
        return _fail(str(e))
    except OSError as e:
        return _fail(f"cannot write the backup: {e}")
    print(f"qinglang: backed up {d.root} to {out.resolve()} ({s.files} files, {_size(s.bytes)})")
    print(
        "qinglang: keep this file private (mode 0600): it holds the CA's private key, the "
        "dashboard's password hashes and any other keys kept in the data directory (such as "
        "WireGuard's). 请妥善保管：其中包含 CA 私钥、面板密码的哈希等密钥。"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from qinglang.deploy import runlock
    from qinglang.deploy.backup import BackupError, restore

    d = datadir.resolve(args.data_dir)
    try:
        d.root.mkdir(mode=datadir.DIR_MODE, parents=True, exist_ok=True)
        # Held while files move: no proxy runs on the data being replaced (runlock.py).
        with runlock.held(d.root):
            r = restore(Path(args.archive), d.root)
    except runlock.Running as e:
        return _fail(
            f"not restored: qinglang run (pid {e.pid or '?'}) is using {d.root}. Stop it "
            "first (Ctrl-C in its terminal, or as a service: sudo systemctl stop qinglang), "
            "restore, then start it again. 代理正在运行：请先停止它再恢复。"
        )
    except BackupError as e:
        return _fail(f"not restored: {e}")
    except OSError as e:
        return _fail(f"not restored: {e}")
    print(f"qinglang: restored {r.files} files ({_size(r.bytes)}) into {d.root}")
    if r.saved is not None:
        print(f"qinglang: the data that was there is kept in {r.saved}")
    print("qinglang: start the proxy again to use it (as a service: sudo systemctl start qinglang)")
    return 0


def cmd_allow_device(args: argparse.Namespace) -> int:
    from qinglang.dashboard import configedit

    try:
        ip = ipaddress.ip_network(args.address, strict=False)
    except ValueError:
        return _fail(f"not an IP address or CIDR: {args.address!r}")
    path = Path(args.config) if args.config else datadir.resolve(args.data_dir).config
    text = configedit.read(path)
    if not text:
        return _fail(f"{path}: no config (run `qinglang run` once to create it)")
    try:
        cfg = configedit.validate(text, path)
        new = text
        profile = cfg.profiles.get(args.profile)
        if profile is None:
            new = configedit.edit_profile(new, path, args.profile, {"filter": False}, create=True)
        elif profile.filter:
            return _fail(
                f"profile {args.profile!r} is filtered; a device that may open the dashboard "
                "needs an unfiltered profile (filter: false)"
            )
        match = str(ip) if ip.num_addresses > 1 else str(ip.network_address)
        new = _first_rule(new, path, {"match": match, "profile": args.profile})
        configedit.write(path, new, configedit.digest(text))
    except configedit.EditError as e:
        return _fail(str(e))
    print(
        f"qinglang: {args.address} now has the profile {args.profile!r} (not filtered) in "
        f"{path}; the proxy picks it up within seconds. Open the dashboard from that device."
    )
    return 0


FIRST_WIREGUARD_PORT = 51821  # the WireGuard app's usual 51820, plus one per phone


def cmd_add_phone(args: argparse.Namespace) -> int:
    """A ``devices`` entry for a phone, so a parent never edits YAML to use WireGuard."""
    from pydantic import ValidationError
    from ruamel.yaml.comments import CommentedSeq

    from qinglang.dashboard import configedit
    from qinglang.policy.config import Device

    path = Path(args.config) if args.config else datadir.resolve(args.data_dir).config
    text = configedit.read(path)
    if not text:
        return _fail(f"{path}: no config (run `qinglang run` once to create it)")
    try:
        cfg = configedit.validate(text, path)
        if args.profile not in cfg.profiles:
            known = ", ".join(cfg.profiles)
            return _fail(f"no profile {args.profile!r} in {path} (there are: {known})")
        if any(d.name == args.name for d in cfg.devices):
            return _fail(f"there is already a device {args.name!r} in {path}")
        used = {d.wireguard_port for d in cfg.wireguard_devices}
        port = args.port or next(p for p in range(FIRST_WIREGUARD_PORT, 65536) if p not in used)
        if port in used:
            return _fail(f"UDP port {port} is already another device's")
        if not 0 < port < 65536:
            return _fail(f"not a UDP port: {port}")
        try:
            Device(name=args.name, profile=args.profile, wireguard_port=port)
        except ValidationError:
            return _fail(f"not a device name: {args.name!r} (up to 32 letters, digits, - and _)")
        data = configedit._load(text, path)  # the round-trip document configedit edits
        seq = data.get("devices")
        if not isinstance(seq, CommentedSeq):
            seq = CommentedSeq()
        seq.append(configedit._flow({"name": args.name, "profile": args.profile,
                                     "wireguard_port": port}))  # fmt: skip
        data["devices"] = seq
        configedit.write(path, configedit._dump(data), configedit.digest(text))
    except configedit.EditError as e:
        return _fail(str(e))
    print(
        f"qinglang: phone {args.name!r} added to {path} (profile {args.profile!r}, WireGuard "
        f"on UDP port {port}). Restart qinglang to start its listener (Ctrl-C, then "
        "`qinglang run` again; as a service: sudo systemctl restart qinglang), then open the "
        "dashboard's WireGuard page and scan the QR code with the phone's WireGuard app."
    )
    return 0


def _first_rule(text: str, path: Path, rule: dict[str, str]) -> str:
    """The config with ``rule`` as the first client rule (first match wins), replacing any
    rule for the same address; other rules keep their comments."""
    from ruamel.yaml.comments import CommentedSeq

    from qinglang.dashboard import configedit

    data = configedit._load(text, path)  # the round-trip document configedit edits
    seq = data.get("clients")
    if not isinstance(seq, CommentedSeq):
        seq = CommentedSeq()
    for i in reversed(range(len(seq))):
        item = seq[i]
        if isinstance(item, dict) and str(item.get("match", "")) == rule["match"]:
            del seq[i]
    seq.insert(0, configedit._flow(rule))
    data["clients"] = seq
    return configedit._dump(data)


def register(sub: argparse._SubParsersAction) -> None:
    data_help = "the data directory (default: as `qinglang run`)"

    p = sub.add_parser("init", help="create the data directory and the CA without starting")
    p.add_argument("--data-dir", help=data_help)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("backup", help="back up the data directory into one tar.gz")
    p.add_argument("--data-dir", help=data_help)
    p.add_argument(
        "-o", "--output", help="archive to write (default: qinglang-backup-DATE.tar.gz here)"
    )
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup (the current data is kept aside)")
    p.add_argument("archive", help="a file written by `qinglang backup`")
    p.add_argument("--data-dir", help=data_help)
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "allow-device", help="give a parent's device an unfiltered profile (dashboard access)"
    )
    p.add_argument("address", help="the device's IP address (or a CIDR)")
    p.add_argument("--profile", default="parent", help="unfiltered profile (default: parent)")
    p.add_argument("--config", help="config file (default: the data directory's)")
    p.add_argument("--data-dir", help=data_help)
    p.set_defaults(func=cmd_allow_device)

    p = sub.add_parser(
        "add-phone", help="add a phone with its own WireGuard listener (restart to start it)"
    )
    p.add_argument("name", help="the phone's name: letters, digits, - and _ (e.g. mei-phone)")
    p.add_argument("--profile", default="child", help="its profile (default: child)")
    p.add_argument(
        "--port",
        type=int,
        help=f"its UDP port (default: the first free from {FIRST_WIREGUARD_PORT})",
    )
    p.add_argument("--config", help="config file (default: the data directory's)")
    p.add_argument("--data-dir", help=data_help)
    p.set_defaults(func=cmd_add_phone)
