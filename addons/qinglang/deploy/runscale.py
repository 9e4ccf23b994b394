"""``qinglang run``'s scale-out flags, mapped to the addon's options (scaleout.py):

- ``--store postgresql://...``  -> ``--set qinglang_store=...`` (events in PostgreSQL)
- ``--state redis://...``       -> ``--set qinglang_state=...`` (quota and overrides in Redis)
- ``--config URL --config-sha256 HEX``: the bundle is fetched and checked here, before
  anything starts, and the proxy is given the unpacked ``qinglang.yaml``.

Kept apart from run.py so that the command's other flags can change without touching this.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qinglang.deploy import bundle
from qinglang.store.backends import STATE_SCHEMES, STORE_SCHEMES, parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scale-out (several workers behind HAProxy; docs/scaling-out.md)")
    g.add_argument(
        "--store",
        metavar="URL",
        default="",
        help="events in PostgreSQL: postgresql://USER:PASSWORD@HOST:5432/DB (default: SQLite)",
    )
    g.add_argument(
        "--state",
        metavar="URL",
        default="",
        help="quota minutes and overrides in Redis: redis://:PASSWORD@HOST:6379/0 "
        "(default: SQLite)",
    )
    g.add_argument(
        "--config-sha256",
        metavar="HEX",
        default="",
        help="the SHA-256 of a config bundle given as --config https://.../bundle.tar.gz",
    )


def _confdir(rest: list[str]) -> Path:
    """mitmproxy's confdir as the options passed on set it (the bundle cache lives there)."""
    found = "~/.mitmproxy"
    for i, arg in enumerate(rest):
        value = arg if arg.startswith("confdir=") else ""
        if arg == "--set" and i + 1 < len(rest) and rest[i + 1].startswith("confdir="):
            value = rest[i + 1]
        if value:
            found = value.partition("=")[2]
    return Path(found).expanduser()


def apply(args: argparse.Namespace, rest: list[str]) -> tuple[str | None, list[str]]:
    """(the local config path, or None; mitmdump's arguments with the options added).
    ``ValueError`` with a message that shows no password when a flag is wrong."""
    extra: list[str] = []
    if args.store:
        parse(args.store, STORE_SCHEMES, "--store")
        extra += ["--set", f"qinglang_store={args.store}"]
    if args.state:
        parse(args.state, STATE_SCHEMES, "--state")
        extra += ["--set", f"qinglang_state={args.state}"]
    config = args.config
    if config and bundle.is_url(config):
        config = str(bundle.fetch(config, args.config_sha256, _confdir(rest) / "bundles"))
    elif args.config_sha256:
        raise ValueError("--config-sha256 is for a config given by URL (https://...)")
    return config, rest + extra
