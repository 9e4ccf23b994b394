"""``qinglang run [--config FILE] [mitmdump options...]``: mitmdump with the addon loaded.

Options this command does not know go to mitmdump unchanged. The config is checked before
anything starts, so a mistake is reported with its file and line and nothing runs
half-configured. Without ``--config`` the shipped lists apply, with the child profile for
every client.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import runscale
from .yamlloc import SourceError

_HELP_EPILOG = """\
Any other option is passed to mitmdump, for example:
  --listen-port 8080          port to listen on (default 8080)
  --listen-host 0.0.0.0       address to listen on (default: all)
  --mode wireguard            transparent mode for phones (see README.md)
  --set confdir=DIR           where the CA certificate and the event log live
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
        help="qinglang.yaml, or the URL of a config bundle (default: shipped lists, child profile)",
    )
    runscale.add_arguments(p)
    return p.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    args, rest = parse(sys.argv[1:] if argv is None else argv)
    from .reload import load_rules

    try:  # scale-out: shared servers and a pinned config bundle (runscale.py)
        args.config, rest = runscale.apply(args, rest)
    except ValueError as e:
        print(f"qinglang: {e}", file=sys.stderr)
        return 2
    config = str(Path(args.config).resolve()) if args.config else ""
    try:
        rules = load_rules(config or None)
    except SourceError as e:
        print(f"qinglang: {e}", file=sys.stderr)
        return 2
    cfg = rules.config
    print(
        f"qinglang: {len(rules.lists.terms)} terms from {len(rules.lists.files)} list files; "
        f"profiles: {', '.join(cfg.profiles)}; default profile: {cfg.default_profile}"
        + ("" if config else " (no --config: shipped lists, child profile for everyone)"),
        flush=True,
    )
    return _mitmdump(config, rest)


def _mitmdump(config: str, rest: list[str]) -> int:
    from mitmproxy.tools import cmdline
    from mitmproxy.tools.dump import DumpMaster
    from mitmproxy.tools.main import run

    from .dashboard.server import DashboardAddon
    from .outbound import OutboundGuard
    from .proxyaddon import Qinglang
    from .reportentry import ReportEntry

    class QinglangMaster(DumpMaster):
        def __init__(self, options, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(options, **kwargs)
            # Added directly, not as a script: filtering is on from the first connection.
            # The dashboard's ask page and the report entry first (the proxy's own host
            # is never stopped), the outbound guard after Qinglang (it reads the profile
            # Qinglang resolves).
            self.addons.add(DashboardAddon(), ReportEntry(), Qinglang(config), OutboundGuard())

    try:
        run(QinglangMaster, cmdline.mitmdump, rest)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except KeyboardInterrupt:
        return 130
    return 0
