"""``qinglang scan``: one document through the proxy's scan pipeline, as JSON.

The document is treated as a response body with the given Content-Type and
Content-Encoding and goes through ``content.pipeline.scan_body``, the function the proxy's
scan workers run: the same decoding, the same choice of what is scanned and as what, the
same handling of undecodable bytes and cut UTF-8, the same engine, the same masked page
(risk notice included) and the same verdict for a body that cannot be checked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from qinglang.content import charset, compression
from qinglang.content.pipeline import ScanJob, Scanned, reported, scan_body, served, verdict
from qinglang.engine.scanner import Engine
from qinglang.engine.verdict import Action, Decision
from qinglang.engine.yamlloc import SourceError
from qinglang.pages.blockpage import render_block
from qinglang.pages.risknotice import notice_for
from qinglang.policy.config import Profile, default_config, load_config


def _fail(msg: str, code: int = 2) -> int:
    print(f"qinglang: {msg}", file=sys.stderr)
    return code


def cmd_scan(args: argparse.Namespace) -> int:
    from qinglang.engine.lists import load_lists

    try:
        from qinglang.deploy.datadir import existing_config

        # As `qinglang run`: the data directory's config, else the shipped defaults.
        config = args.config or existing_config(args.data_dir)
        cfg = load_config(config) if config else default_config()
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
    job = ScanJob(data, args.content_type, args.content_encoding, None, profile, args.lang)
    scanned = scan_body(Engine(lists), job, notice=notice_for, details=True)
    out = as_json(job, scanned, profile, args.lang)
    if scanned.undecodable:
        print(
            f"qinglang: warning: {scanned.undecodable} bytes are not valid "
            f"{scanned.outcome.charset}; "
            "they are left out of the scan (a word around one still matches) and out of "
            "a masked page",
            file=sys.stderr,
        )
    # Lone surrogates (undecodable bytes) cannot go into JSON text: show them as U+FFFD.
    line = json.dumps(out, ensure_ascii=False)
    sys.stdout.write(line.encode("utf-8", "replace").decode("utf-8") + "\n")
    return 0


def as_json(job: ScanJob, scanned: Scanned, profile: Profile, lang: str) -> dict[str, Any]:
    """DESIGN.md's ``qinglang scan`` object, with the documented extensions."""
    o = scanned.outcome
    d = verdict(o, profile)
    result = scanned.result
    if result is not None:
        out = result.to_json()
        out["action"] = reported(d)
    else:  # not scanned: not filtered, not text, or not checkable
        out = {"action": reported(d), "score": 0, "categories": {}, "matches": [], "pii": []}
    if d.reason and "reason" not in out:
        out["reason"] = d.reason
    if o.problem and "problem" not in out:
        out["problem"] = o.problem
    body = served(job, o, d)
    if d.action == Action.BLOCK:
        out["body"] = render_block(Decision(Action.BLOCK, d.reason, d.category), lang=lang)
    elif d.action == Action.MASK and scanned.served is not None:
        out["body"] = scanned.served
    else:
        out["body"] = scanned.text if scanned.text is not None else _as_text(job)
    if body is not None:
        out["served_sha256"] = hashlib.sha256(body).hexdigest()
    return out


def _as_text(job: ScanJob) -> str:
    """The body as text, for a document that was not scanned (best effort)."""
    try:
        raw = compression.decode(job.body, job.content_encoding, job.profile.max_scan_bytes)
    except (compression.BadEncoding, compression.BodyTooLarge):
        raw = job.body
    return charset.decode(raw, job.content_type).text


def register(sub: Any) -> None:
    s = sub.add_parser("scan", help="run one document through the filter and print JSON")
    s.add_argument(
        "--config",
        help="qinglang.yaml (default: the data directory's, as qinglang run uses; without "
        "one, the shipped lists and profiles)",
    )
    s.add_argument(
        "--data-dir", help="the data directory whose config is used (default: as qinglang run)"
    )
    s.add_argument("--lists", action="append", help="list directory; replaces the configured lists")
    s.add_argument("--profile", help="profile name (default: the config's default_profile)")
    s.add_argument("--content-type", help="e.g. text/html; charset=gbk (default: sniffed)")
    s.add_argument(
        "--content-encoding", help="gzip, br, zstd or deflate: the file is compressed as sent"
    )
    s.add_argument("--lang", choices=["en", "zh"], default="en", help="language of a block page")
    s.add_argument("path", nargs="?", help="file to scan, or - for standard input (default)")
    s.add_argument("--flows", metavar="FILE", help="replay a mitmproxy flow file (mitmdump -w)")
    s.set_defaults(func=cmd_scan)
