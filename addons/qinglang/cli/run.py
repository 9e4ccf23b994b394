"""``qinglang run [--config FILE] [--data-dir DIR] [mitmdump options...]``: mitmdump with
the addon loaded.

Options this command does not know go to mitmdump unchanged. The config is checked before
anything starts, so a mistake is reported with its file and line and nothing runs
half-configured. Without ``--config`` the data directory (datadir.py) is created if needed
and its ``qinglang.yaml`` is used: the shipped lists, with the child profile for every
client. With ``--config`` and no ``--data-dir`` nothing is created (as before).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from qinglang.deploy import runscale
from qinglang.engine.yamlloc import SourceError
from qinglang.policy.config import Config

if TYPE_CHECKING:  # pragma: no cover
    from qinglang.store import lastgood

_HELP_EPILOG = """\
Any other option is passed to mitmdump, for example:
  --listen-port 8080          port to listen on (default 8080)
  --listen-host 0.0.0.0       address to listen on (default: all)
  --mode wireguard            WireGuard mode for phones (see docs/deploying.md)
  --set confdir=DIR           where the CA certificate lives (default: DATA_DIR/ca)
  --set proxyauth=any         identify clients by proxy user name
  --set qinglang_workers=N    scan processes (default: one per core)
"""


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(
        prog="qinglang run",
        description="Start the qinglang filtering proxy (mitmdump with the qinglang addon).",
        epilog=_HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config",
        help="qinglang.yaml, or the URL of a config bundle (default: the one in the data "
        "directory, made if missing)",
    )
    p.add_argument(
        "--data-dir",
        help="where the config, lists, stores and CA live (default: $QINGLANG_HOME, else "
        "$XDG_DATA_HOME/qinglang, else ~/.local/share/qinglang)",
    )
    p.add_argument(
        "--dns",
        metavar="[HOST:]PORT",
        help="also answer DNS on this port with the profiles' rules (DNS mode, "
        "docs/dns-mode.md); the config's dns.listen does the same",
    )
    runscale.add_arguments(p)
    return p.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    # Each line is out at once, also into a pipe or the journal (systemd): a failure is
    # read when it happens, not when the process exits. mitmdump's log goes here too.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)
    args, rest = parse(sys.argv[1:] if argv is None else argv)
    from qinglang.policy.reload import load_rules

    try:  # scale-out: shared servers and a pinned config bundle (runscale.py)
        args.config, rest = runscale.apply(args, rest)
    except ValueError as e:
        print(f"qinglang: {e}", file=sys.stderr)
        return 2
    try:
        prepared = _prepare_data_dir(args, rest)
    except OSError as e:
        print(f"qinglang: cannot set up the data directory: {e}", file=sys.stderr)
        return 2
    config, rest = prepared.config, prepared.rest
    lock = _lock(prepared.data_dir)
    if lock is None:
        return 2
    try:
        rules = load_rules(config)
    except SourceError as e:
        fallback = _last_good(config, e)
        if fallback is None:
            print(f"qinglang: {e}", file=sys.stderr)
            return 2
        rules = fallback.rules
    cfg = rules.config
    print(
        f"qinglang: {len(rules.lists.terms)} terms from {len(rules.lists.files)} list files; "
        f"profiles: {', '.join(cfg.profiles)}; default profile: {cfg.default_profile}",
        flush=True,
    )
    try:
        rest = _device_listeners(cfg, rest)
        rest = _dns_listener(cfg, args.dns, rest)
    except ValueError as e:
        print(f"qinglang: {e}", file=sys.stderr)
        return 2
    if not _option_given(rest, "flow_detail"):
        # mitmdump prints every request's URL by default: a child's browsing in the
        # terminal. What was decided is in the event log; `--set flow_detail=1` shows it.
        rest = [*rest, "--set", "flow_detail=0"]
    checked = check_ports(cfg, rest)
    if checked is None:
        return 2
    dash_taken = checked != rest
    rest = checked
    _print_addresses(cfg, replace(prepared, rest=rest), dash_taken=dash_taken)
    try:
        return _mitmdump(config, rest)
    finally:
        if lock >= 0:
            os.close(lock)


def _lock(data_dir: Path | None) -> int | None:
    """The data directory's run lock (runlock.py), -1 without a data directory; None
    (after saying why) when another qinglang run has it."""
    from qinglang.deploy import runlock

    if data_dir is None:
        return -1
    try:
        return runlock.acquire(data_dir)
    except runlock.Running as e:
        print(
            f"qinglang: cannot start: qinglang run (pid {e.pid or '?'}) is already running "
            f"with the data directory {data_dir}. Stop it first (Ctrl-C in its terminal, or "
            "as a service: sudo systemctl stop qinglang), or give this one another --data-dir.",
            file=sys.stderr,
        )
        return None
    except OSError as e:
        print(f"qinglang: cannot lock the data directory: {e}", file=sys.stderr)
        return None


def check_ports(cfg: Config, rest: list[str]) -> list[str] | None:
    """Every port mitmdump and the dashboard will listen on, tried first (ports.py).

    None (after naming each taken port, for what, and what holds it) when a proxy
    listener cannot listen; a taken dashboard port is said at once and the dashboard
    left off, so the banner does not print an address another program answers."""
    from qinglang.deploy import ports
    from qinglang.deploy.firstrun import dashboard_port, listeners

    taken: list[str] = []
    devices = {d.wireguard_port: d.name for d in cfg.wireguard_devices}
    for ls in listeners(rest):
        if ls.port is None:
            continue
        if "wireguard" in ls.description.lower():
            name = devices.get(ls.port)
            what = f"the WireGuard device {name!r}" if name else "a WireGuard device (its tunnel)"
        else:
            what = f"the proxy ({ls.description})"
        for t in ("tcp", "udp") if ls.transport == "both" else (ls.transport,):
            w = ports.Wanted(what, ls.host, ls.port, "udp" if t == "udp" else "tcp")
            if ports.is_taken(w):
                taken.append(ports.describe(w))
    if taken:
        for line in taken:
            print(f"qinglang: cannot start: {line}", file=sys.stderr)
        print(
            "qinglang: is qinglang already running? Stop it, or choose other ports: "
            "--listen-port PORT for the proxy; a WireGuard device's port in the dashboard "
            "(Devices) or its wireguard_port in the config.",
            file=sys.stderr,
        )
        return None
    dash = dashboard_port(cfg, rest)
    if dash is not None and ports.is_taken(ports.Wanted("the dashboard", dash[0], dash[1], "tcp")):
        host = f"[{dash[0]}]" if ":" in dash[0] else dash[0]
        print(
            f"qinglang: the dashboard is not started: "
            f"{ports.describe(ports.Wanted('the dashboard', dash[0], dash[1], 'tcp'))}. "
            "The proxy filters without it. Choose another port: "
            f"qinglang run --set qinglang_dashboard={host}:PORT (or dashboard.listen in the "
            "config).",
            file=sys.stderr,
        )
        rest = [*_without_option(rest, "qinglang_dashboard"), "--set", "qinglang_dashboard=off"]
    return rest


def _without_option(rest: list[str], name: str) -> list[str]:
    """``rest`` less every ``--set NAME=…`` (mitmdump refuses an option given twice)."""
    out: list[str] = []
    skip = False
    for i, a in enumerate(rest):
        if skip:
            skip = False
            continue
        if a == "--set" and i + 1 < len(rest) and rest[i + 1].startswith(f"{name}="):
            skip = True
            continue
        if a.startswith(f"--set={name}="):
            continue
        out.append(a)
    return out


def _last_good(config: str, error: SourceError) -> lastgood.Fallback | None:
    """The last rules that loaded, when the lists (not the config) fail to load; says so."""
    from datetime import datetime

    from qinglang.store import lastgood

    try:
        fallback = lastgood.load(config, str(error))
    except ValueError:
        return None
    if fallback is None:
        return None
    saved = fallback.status.saved
    when = datetime.fromtimestamp(saved).strftime("%Y-%m-%d %H:%M") if saved else "earlier"
    print(
        f"qinglang: WARNING: the lists do not load: {error}\n"
        f"qinglang: WARNING: starting with the last rules that loaded (saved {when}); "
        "fix or remove the file and they are picked up without a restart",
        file=sys.stderr,
        flush=True,
    )
    return fallback


def _device_listeners(cfg: Config, rest: list[str]) -> list[str]:
    """One WireGuard listener per configured device (key files made first, 0600)."""
    from qinglang.deploy.wireguard import run_args

    return run_args(cfg, rest)


def _dns_listener(cfg: Config, option: str | None, rest: list[str]) -> list[str]:
    """DNS mode's listener, from --dns or the config's dns.listen."""
    from qinglang.deploy.dnsmode import run_args

    return run_args(cfg, option, rest)


# --- the data directory and the start-up banner (issue 8, first run) ----------------------


@dataclass(frozen=True, slots=True)
class Prepared:
    config: str  # absolute path of the config file
    rest: list[str]  # mitmdump's arguments, with the data directory's folders added
    data_dir: Path | None  # None: --config without --data-dir (nothing was created)
    created: bool  # the data directory's config was written just now


def _option_given(rest: list[str], name: str) -> bool:
    # `--set NAME=VALUE` (two arguments) or `--set=NAME=VALUE`.
    return any(a.removeprefix("--set=").startswith(f"{name}=") for a in rest)


def _prepare_data_dir(args: argparse.Namespace, rest: list[str]) -> Prepared:
    from qinglang.deploy import datadir

    if args.config and not args.data_dir:
        return Prepared(str(Path(args.config).resolve()), rest, None, False)
    d = datadir.resolve(args.data_dir)
    created = datadir.ensure(d)
    config = str(Path(args.config).resolve()) if args.config else str(d.config)
    if not _option_given(rest, "confdir"):
        rest = [*rest, "--set", f"confdir={d.ca}"]
    from qinglang.deploy import ca

    # qinglang's own CA, named for parents, before mitmproxy would make its own.
    ca.ensure(Path(_confdir_of(rest)).expanduser())
    if not _option_given(rest, "qinglang_data_dir"):  # WireGuard key files (wireguard.py)
        rest = [*rest, "--set", f"qinglang_data_dir={d.root}"]
    return Prepared(config, rest, d.root, created)


def _print_addresses(cfg: Config, prepared: Prepared, *, dash_taken: bool = False) -> None:
    from qinglang.dashboard.settings import settings_for
    from qinglang.deploy.firstrun import banner
    from qinglang.store.paths import DEFAULT_CONFDIR

    confdir = _confdir_of(prepared.rest)
    state_db = settings_for(cfg.dashboard, config_path=prepared.config, confdir=confdir).state_db
    # `qinglang admin` finds the accounts through the config's dashboard.db, else in the
    # confdir, which it must then be told.
    in_confdir = not cfg.dashboard.db
    lines = banner(
        cfg,
        prepared.rest,
        config_path=Path(prepared.config),
        state_db=state_db,
        data_dir=prepared.data_dir,
        created=prepared.created,
        confdir=confdir if in_confdir and confdir != DEFAULT_CONFDIR else None,
    )
    if dash_taken:  # not "off" as if chosen: it could not listen (said above)
        lines = [
            "qinglang: dashboard not started: its port is taken (see above)"
            if line == "qinglang: dashboard off"
            else line
            for line in lines
        ]
    print("\n".join(lines), flush=True)


def _confdir_of(rest: list[str]) -> str:
    from qinglang.store.paths import DEFAULT_CONFDIR

    found: str = DEFAULT_CONFDIR
    for a in rest:
        value = a.removeprefix("--set=")
        if value.startswith("confdir="):
            found = value.partition("=")[2]
    return found


def _mitmdump(config: str, rest: list[str]) -> int:
    from mitmproxy.tools import cmdline
    from mitmproxy.tools.dump import DumpMaster
    from mitmproxy.tools.main import run

    from qinglang.addon import chain

    class QinglangMaster(DumpMaster):
        def __init__(self, options, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(options, **kwargs)
            # Added directly, not as a script: filtering is on from the first connection.
            self.addons.add(*chain(config))

    try:
        run(QinglangMaster, cmdline.mitmdump, rest)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except KeyboardInterrupt:
        return 130
    return 0
