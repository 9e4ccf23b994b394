"""``qinglang admin ...``: dashboard accounts from the command line.

    qinglang admin set-password [--user NAME]   create an admin or change a password
    qinglang admin list                         the admin names
    qinglang admin remove NAME                  delete an admin (their sessions end)

The password is asked twice on a terminal, or read from standard input with
``--password-stdin`` (scripts); it is never an argument, so it never lands in the shell
history or the process list.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import replace
from pathlib import Path

from qinglang.dashboard import accounts
from qinglang.dashboard.settings import Settings, settings_for
from qinglang.engine.yamlloc import SourceError
from qinglang.policy.config import DashboardConfig
from qinglang.store import dashdb as db
from qinglang.store.paths import DEFAULT_CONFDIR


def _fail(msg: str) -> int:
    print(f"qinglang: {msg}", file=sys.stderr)
    return 2


def dashboard_section(config_path: str | None) -> DashboardConfig:
    """The config's ``dashboard:`` section (defaults until config.py carries one)."""
    if not config_path:
        return DashboardConfig()
    from qinglang.policy.config import load_config

    cfg = load_config(config_path)
    section = getattr(cfg, "dashboard", None)
    return section if isinstance(section, DashboardConfig) else DashboardConfig()


def _settings(args: argparse.Namespace) -> Settings:
    config = args.config
    if not (config or args.confdir or args.db):
        # As `qinglang run` without --config: the data directory's config, if there is one.
        from qinglang.deploy.datadir import resolve

        default = resolve(None).config
        config = str(default) if default.is_file() else None
    confdir = args.confdir or DEFAULT_CONFDIR
    s = settings_for(dashboard_section(config), config_path=config, confdir=confdir)
    return replace(s, state_db=Path(args.db).resolve()) if args.db else s


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_set_password(args: argparse.Namespace) -> int:
    try:
        s = _settings(args)
        accounts.check_name(args.user)
        password = accounts.check_password(_read_password(args.password_stdin))
    except (SourceError, ValueError) as e:
        return _fail(str(e))
    except (EOFError, KeyboardInterrupt):
        return _fail("no password given")
    conn = db.connect(s.state_db)
    try:
        new = accounts.set_password(conn, args.user, password)
        who = f"cli:{_os_user()}"
        accounts.audit(conn, who, "admin.create" if new else "admin.password", args.user)
    finally:
        conn.close()
    done = "created" if new else "has a new password"
    print(
        f"qinglang: dashboard account {args.user!r} {done}; sign in to the dashboard with "
        f"it (accounts in {s.state_db})"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    try:
        s = _settings(args)
    except SourceError as e:
        return _fail(str(e))
    conn = db.connect(s.state_db)
    try:
        for name in accounts.names(conn):
            print(name)
    finally:
        conn.close()
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    try:
        s = _settings(args)
    except SourceError as e:
        return _fail(str(e))
    conn = db.connect(s.state_db)
    try:
        if not accounts.remove(conn, args.name):
            return _fail(f"no admin {args.name!r}")
        accounts.audit(conn, f"cli:{_os_user()}", "admin.remove", args.name)
    finally:
        conn.close()
    print(f"qinglang: admin {args.name!r} removed")
    return 0


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("admin", help="dashboard admin accounts")
    p.set_defaults(func=lambda _a: (p.print_help(), 2)[1])
    cmds = p.add_subparsers(dest="admin_cmd")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--config",
            help="qinglang.yaml (its dashboard: section; default: the data directory's, "
            "as `qinglang run`)",
        )
        q.add_argument(
            "--confdir",
            help=f"mitmproxy's confdir, where the dashboard's files live ({DEFAULT_CONFDIR})",
        )
        q.add_argument("--db", help="the dashboard database (default: in confdir)")

    s = cmds.add_parser("set-password", help="create an admin or change its password")
    s.add_argument("--user", default="admin", help="admin name (default: admin)")
    s.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    common(s)
    s.set_defaults(func=cmd_set_password)

    s = cmds.add_parser("list", help="list the admin names")
    common(s)
    s.set_defaults(func=cmd_list)

    s = cmds.add_parser("remove", help="remove an admin")
    s.add_argument("name")
    common(s)
    s.set_defaults(func=cmd_remove)
