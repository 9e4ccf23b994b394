"""Hosts files used as blocklists: ``0.0.0.0 ads.example.com`` (or ``127.0.0.1``,
``::``, ``::1``), several names per line allowed, ``#`` comments anywhere.

A line that points names at any other address redirects rather than blocks, so
it is reported and not imported; so are the local names every hosts file
carries (``localhost``, ``broadcasthost`` …).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from qinglang.listtools.importers import (
    DomainImport,
    ImportReport,
    Options,
    numbered,
    progress,
    read_lines,
)
from qinglang.listtools.importers.domainlist import require_category
from qinglang.policy.hosts import canonical_name

LOCAL_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "local",
        "broadcasthost",
        "ip6-localhost",
        "ip6-loopback",
        "ip6-localnet",
        "ip6-mcastprefix",
        "ip6-allnodes",
        "ip6-allrouters",
        "ip6-allhosts",
        "0.0.0.0",
    }
)


def _blocking(addr: str) -> bool | None:
    """True for a sink address, False for a real one, None if not an address."""
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return None
    return ip.is_unspecified or ip.is_loopback


def read(src: Path, opts: Options, report: ImportReport) -> DomainImport:
    category = require_category(src, opts, "hosts")
    result = DomainImport()
    files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
    total = sum(p.stat().st_size for p in files)
    with progress(total, f"reading {src.name}", opts.progress) as bar:
        for path in files:
            lines = read_lines(path, report)
            for n, raw in numbered(lines, bar, report):
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                fields = line.split()
                names = [f for f in fields[1:] if f.lower() not in LOCAL_NAMES]
                if len(names) < len(fields) - 1:
                    report.skip("local host name, not a block", path, n)
                    if not names:
                        continue
                sink = _blocking(fields[0])
                if sink is None:
                    report.skip("not a hosts line (address, then names)", path, n)
                    continue
                if not sink:
                    report.skip("points names at a real address: a redirect, not a block", path, n)
                    continue
                if len(fields) == 1:
                    report.skip("address without a name", path, n)
                for name in names:
                    host = canonical_name(name)
                    if host is None:
                        report.skip("not a valid host name", path, n)
                        continue
                    result.add(category, host)
    if any(result.listed.values()):
        # A hosts file blocks each name alone; a qinglang domain list entry covers every
        # name under it too: broader, and worth knowing before shipping.
        report.notes.append(
            "a hosts line blocks that one name; imported, each name also covers every name "
            "under it (ads.example.com also blocks x.ads.example.com)"
        )
    return result
