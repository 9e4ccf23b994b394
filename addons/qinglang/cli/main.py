"""The ``qinglang`` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qinglang.content.mediatypes import kind_for
from qinglang.engine.yamlloc import SourceError

SCAN_KINDS = {"html": "html", "json": "json", "text": "text"}


def _fail(msg: str, code: int = 2) -> int:
    print(f"qinglang: {msg}", file=sys.stderr)
    return code


def cmd_scan(args: argparse.Namespace) -> int:
    from qinglang.content.charset import decode
    from qinglang.engine.lists import load_lists
    from qinglang.engine.scanner import BLOCK, Engine
    from qinglang.policy.config import default_config, load_config

    try:
        cfg = load_config(args.config) if args.config else default_config()
        lists = load_lists(args.lists or cfg.lists)
    except SourceError as e:
        return _fail(str(e))
    name = args.profile or cfg.default_profile
    if name not in cfg.profiles:
        return _fail(f"no profile {name!r} in the config (have: {', '.join(cfg.profiles)})")
    profile = cfg.profiles[name]
    if args.flows:
        from qinglang.listtools.flows import scan_flows

        return scan_flows(args.flows, lists, profile, args.lists or cfg.lists)

    try:
        if args.path in (None, "-"):
            data = sys.stdin.buffer.read()
        else:
            data = Path(args.path).read_bytes()
    except OSError as e:
        return _fail(f"cannot read {args.path}: {e.strerror}")
    kind_hint = kind_for(args.content_type) if args.content_type else None
    dec = decode(data, args.content_type, html=kind_hint == "html")
    text = dec.text
    kind = kind_for(args.content_type, text)
    if dec.errors:
        print(
            f"qinglang: warning: {dec.errors} bytes are not valid {dec.charset}; "
            "they are kept as they are (a word around one still matches)",
            file=sys.stderr,
        )
    if not profile.filter:
        out = {"action": "allow", "score": 0, "categories": {}, "matches": [], "pii": []}
        out["body"] = text
    else:
        result = Engine(lists).scan(text, kind, profile)
        out = result.to_json()
        if result.action == BLOCK:
            from qinglang.pages.blockpage import render_block

            out["body"] = render_block(result, lang="zh" if args.lang == "zh" else "en")
    # Lone surrogates (undecodable bytes) cannot go into JSON text: show them as U+FFFD.
    line = json.dumps(out, ensure_ascii=False)
    sys.stdout.write(line.encode("utf-8", "replace").decode("utf-8") + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qinglang", description="清朗 qinglang filtering proxy")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("scan", help="run one document through the filter and print JSON")
    s.add_argument("--config", help="qinglang.yaml (default: shipped lists, child profile)")
    s.add_argument("--lists", action="append", help="list directory; replaces the configured lists")
    s.add_argument("--profile", help="profile name (default: the config's default_profile)")
    s.add_argument("--content-type", help="e.g. text/html; charset=gbk (default: sniffed)")
    s.add_argument("--lang", choices=["en", "zh"], default="en", help="language of a block page")
    s.add_argument("path", nargs="?", help="file to scan, or - for standard input (default)")
    s.add_argument("--flows", metavar="FILE", help="replay a mitmproxy flow file (mitmdump -w)")
    s.set_defaults(func=cmd_scan)

    # Other command groups register themselves here, one module each.
    for register in _command_modules():
        register(sub)
    return p


def _command_modules() -> list:  # type: ignore[type-arg]
    from qinglang.cli.admin import register as admin_register
    from qinglang.cli.home import register as home_register
    from qinglang.cli.lists import register as lists_register

    return [lists_register, admin_register, home_register]


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
