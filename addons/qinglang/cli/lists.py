"""``qinglang lists …``: the maintainer's commands, registered into the main parser."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _fail(msg: str, code: int = 2) -> int:
    print(f"qinglang: {msg}", file=sys.stderr)
    return code


def _default_dirs(dirs: list[str] | None) -> list[str]:
    if dirs:
        return dirs
    from qinglang.policy.config import shipped_lists

    return [str(shipped_lists())]


def _loaded_with(config: str | None, data_dir: str | None) -> list[str]:
    """The list folders the proxy loads: the config's (``--config``, else the data
    directory's ``qinglang.yaml`` when there is one), else the shipped lists and the data
    directory's ``lists`` folder."""
    from qinglang.deploy import datadir
    from qinglang.policy.config import load_config, shipped_lists

    d = datadir.resolve(data_dir)
    path = Path(config) if config else d.config
    if path.is_file():
        try:
            return list(load_config(str(path)).lists)
        except ValueError as e:
            print(
                f"qinglang: note: {path} does not load ({e}); using the defaults", file=sys.stderr
            )
    out = [str(shipped_lists())]
    return [*out, str(d.lists)] if d.lists.is_dir() else out


def cmd_lint(args: argparse.Namespace) -> int:
    from qinglang.listtools import lint

    against: list[str] = []
    if args.dirs and not args.alone:
        against = args.against or _loaded_with(args.config, args.data_dir)
    return lint.main(
        _default_dirs(args.dirs), words=args.words, strict=args.strict, against=against
    )


def cmd_import(args: argparse.Namespace) -> int:
    from qinglang.listtools.importers import ImportFailed, Options, run_import

    opts = Options(category=args.category, lang=args.lang, kind=args.kind, progress=True)
    try:
        report = run_import(args.format, Path(args.src), Path(args.out), opts, force=args.force)
    except ImportFailed as e:
        return _fail(str(e))
    except OSError as e:
        return _fail(f"{e.filename or args.src}: {e.strerror}")
    print(report.render(verbose=args.verbose), file=sys.stderr)
    return 0 if report.written else 1


def cmd_test(args: argparse.Namespace) -> int:
    from qinglang.listtools import corpus

    return corpus.main(args)


def cmd_stats(args: argparse.Namespace) -> int:
    from qinglang.listtools import stats

    return stats.main(_default_dirs(args.dirs), as_json=args.json)


def cmd_update(args: argparse.Namespace) -> int:
    from qinglang.deploy import datadir
    from qinglang.engine.yamlloc import SourceError
    from qinglang.listtools import subscribe
    from qinglang.policy.config import load_config

    path = Path(args.config) if args.config else datadir.resolve(args.data_dir).config
    try:
        cfg = load_config(path)
    except SourceError as e:
        return _fail(str(e))
    if not cfg.subscriptions:
        print(f"qinglang: no subscriptions in {path}", file=sys.stderr)
        return 0
    results = subscribe.update(cfg, path, force=args.force)
    for r in results:
        print(r)
    # A failed download keeps the previous copy: it is a warning, not a broken proxy.
    return 1 if any(r.status == "failed" for r in results) else 0


def register(sub: Any) -> None:
    from qinglang.listtools.importers import FORMATS

    p = sub.add_parser("lists", help="blocklist maintenance: lint, import, test, stats, update")
    lsub = p.add_subparsers(dest="lists_cmd", required=True, metavar="COMMAND")

    s = lsub.add_parser("lint", help="check list files for mistakes")
    s.add_argument("dirs", nargs="*", metavar="DIR", help="list folders (default: shipped lists)")
    s.add_argument(
        "--words",
        help="English word list for the substring check "
        "(default: /usr/share/dict/american-english, Debian package wamerican)",
    )
    s.add_argument("--strict", action="store_true", help="exit non-zero on warnings too")
    s.add_argument(
        "--against",
        action="append",
        metavar="DIR",
        help="list folders DIR is loaded with (repeat; default: the lists the proxy loads: "
        "the config's, else the shipped lists and the data directory's lists folder)",
    )
    s.add_argument("--config", help="take the lists to check against from this config")
    s.add_argument("--data-dir", help="the data directory (default: as qinglang run finds it)")
    s.add_argument("--alone", action="store_true", help="check DIR by itself")
    s.set_defaults(func=cmd_lint)

    s = lsub.add_parser("import", help="convert another project's list into qinglang's format")
    s.add_argument("format", choices=FORMATS, metavar="FORMAT", help=", ".join(FORMATS))
    s.add_argument("src", metavar="SRC", help="list file (or folder, for UT1 category folders)")
    s.add_argument("--category", help="category of everything imported (default: from the list)")
    s.add_argument("--out", default=".", help="folder to write into (default: .)")
    s.add_argument("--lang", help="language code written into keyword lists (e.g. en, zh)")
    s.add_argument(
        "--kind",
        choices=["banned", "weighted", "exception"],
        help="e2guardian: what kind of phrase list SRC is (default: from its file name)",
    )
    s.add_argument("--force", action="store_true", help="replace files that exist")
    s.add_argument("-v", "--verbose", action="store_true", help="list every line not imported")
    s.set_defaults(func=cmd_import)

    s = lsub.add_parser("test", help="run a labelled corpus and report precision and recall")
    s.add_argument("corpus", metavar="CORPUS", help="folder with block/ allow/ mask/, or manifest")
    s.add_argument("--lists", action="append", help="list folder; replaces the configured lists")
    s.add_argument(
        "--config",
        help="qinglang.yaml (default: the data directory's, as qinglang run uses; without "
        "one, the shipped lists and profiles)",
    )
    s.add_argument("--profile", help="profile name (default: the config's default_profile)")
    s.add_argument("--json", action="store_true", help="print the results as JSON")
    s.add_argument("-v", "--verbose", action="store_true", help="list every document")
    s.set_defaults(func=cmd_test)

    s = lsub.add_parser("update", help="fetch the config's list subscriptions that are due")
    s.add_argument("--config", help="qinglang.yaml (default: the data directory's)")
    s.add_argument("--data-dir", help="the data directory (default: as for qinglang run)")
    s.add_argument("--force", action="store_true", help="fetch every subscription now")
    s.set_defaults(func=cmd_update)

    s = lsub.add_parser("stats", help="terms per category and language, weight distribution")
    s.add_argument("dirs", nargs="*", metavar="DIR", help="list folders (default: shipped lists)")
    s.add_argument("--json", action="store_true", help="print JSON instead of tables")
    s.set_defaults(func=cmd_stats)
