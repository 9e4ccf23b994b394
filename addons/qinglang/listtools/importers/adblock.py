"""Adblock Plus / uBlock Origin / AdGuard filter lists: the host rules only.

``||example.com^`` blocks the domain and everything under it; ``@@||example.com^``
is an exception. Those two become qinglang domain entries (exceptions as ``@@``
lines). Everything else in such a list (element hiding ``##``, URL patterns,
``/regex/``, rules restricted by ``$`` options such as ``$third-party`` that a
per-host filter cannot honour) is counted and reported, not imported.
"""

from __future__ import annotations

import re
from pathlib import Path

from qinglang.listtools.importers import (
    DomainImport,
    ImportReport,
    Options,
    numbered,
    progress,
    read_lines,
)
from qinglang.listtools.importers.domainlist import check_category, require_category
from qinglang.policy.hosts import canonical_name

_HOST_RULE = re.compile(r"^\|\|(?:\*\.)?([^/^$|*:?=&]+)(\^)?\|?(?:\$(.*))?$")
# Options that leave a whole-host rule meaning "block this host".
_HARMLESS_OPTIONS = {"important", "all", "document", "doc", "1p", "first-party", "~third-party"}
_COSMETIC = ("##", "#@#", "#?#", "#$#", "#%#", "#@$#", "#@?#", "#@%#")


def _kind(rule: str) -> str:
    """Why a rule is not a host rule, as a short reason for the report."""
    if any(m in rule for m in _COSMETIC):
        return "element-hiding or scriptlet rule (page cosmetics, not hosts)"
    body = rule[2:] if rule.startswith("@@") else rule
    if body.startswith("/") and body.rstrip("/").count("/") >= 1 and body.endswith("/"):
        return "regular-expression rule"
    if body.startswith("||"):
        return "host rule with a path or pattern (qinglang lists whole hosts)"
    if body.startswith("|"):
        return "URL-start rule (|http://…)"
    return "URL pattern rule"


def read(src: Path, opts: Options, report: ImportReport) -> DomainImport:
    category = check_category(require_category(src, opts, "adblock"))
    result = DomainImport()
    lines = read_lines(src, report)
    with progress(src.stat().st_size, f"reading {src.name}", opts.progress) as bar:
        for n, raw in numbered(lines, bar, report):
            rule = raw.strip()
            if not rule or rule.startswith("!") or (rule.startswith("[") and rule.endswith("]")):
                continue  # comment or "[Adblock Plus 2.0]" header
            exception = rule.startswith("@@")
            body = rule[2:] if exception else rule
            m = _HOST_RULE.match(body)
            if not m:
                report.skip(_kind(rule), src, n)
                continue
            options = [o.strip().lower() for o in (m.group(3) or "").split(",") if o.strip()]
            odd = [o for o in options if o not in _HARMLESS_OPTIONS]
            if odd:
                report.skip("rule limited by $ options a per-host filter cannot honour", src, n)
                continue
            host = canonical_name(m.group(1))
            if host is None:
                report.skip("not a valid host name", src, n)
                continue
            if m.group(2) is None:
                report.approx(
                    "no ^ after the name: the rule also matched names that start with it "
                    "(||example.com covers example.community); imported as the domain only",
                    src,
                    n,
                )
            if body.startswith("||*."):
                report.approx(
                    "||*.name: only the names under it; imported, it covers the name itself too",
                    src,
                    n,
                )
            result.add(category, host, exception)
    return result
