"""The ``qinglang`` command: one parser, one subcommand group per module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from qinglang.cli import admin, home, lists, scan

# Each module adds its subcommands to the parser.
_GROUPS: tuple[Callable[[Any], None], ...] = (
    scan.register,
    lists.register,
    admin.register,
    home.register,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qinglang",
        description="清朗 qinglang: a filtering web proxy that protects children online",
        epilog="`qinglang COMMAND --help` tells more about each command.",
    )
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    # `run` passes every option it does not know on to mitmdump, so it is parsed by
    # cli/run.py itself (see main); it is listed here for the help.
    sub.add_parser(
        "run", help="start the filtering proxy (mitmdump with the qinglang addon)", add_help=False
    )
    for register in _GROUPS:
        register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":
        from qinglang.cli.run import main as run_main

        return run_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
