"""mitmproxy entry point: ``mitmdump -s addons/qinglang/addon.py --set qinglang_config=FILE``.

mitmproxy loads this file as a script, not as part of the package, so the folder that
holds the ``qinglang`` package is put on ``sys.path`` when the package is not installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import qinglang  # noqa: F401
except ImportError:  # running from a source checkout without `pip install`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from typing import Any

from qinglang.dashboard.server import DashboardAddon
from qinglang.listtools.updater import SubscriptionUpdater
from qinglang.proxy.bodycap import BodyCap
from qinglang.proxy.devicesetup import DeviceSetup
from qinglang.proxy.dnsfilter import DnsFilter
from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.guard import Guard
from qinglang.proxy.hookchain import AddonChain
from qinglang.proxy.limits import ConnectionLimits
from qinglang.proxy.outbound import OutboundGuard
from qinglang.proxy.reportentry import ReportEntry
from qinglang.proxy.tunnels import Tunnels
from qinglang.proxy.websockets import WebSocketGuard


def chain(config: str = "") -> list[Any]:
    """qinglang's addons in the order they must run. The dashboard (its listener, and the
    ask-for-access page) and the report entry answer the proxy's own host
    (qinglang.home.arpa) before any rule can stop it; the tunnel gate runs after the
    filtering addon's CONNECT checks, the connection limits after its pass-through
    decision, the body cap after its response headers (it bounds the bodies that addon
    buffers); the outbound guard and the WebSocket guard read the profile that the
    filtering addon's request hook resolves. The DNS filter answers DNS mode's queries
    only. The other addons are handed the filtering addon, whose rules and stores they
    read. They are handed to mitmproxy as one addon (``proxy.hookchain``), which calls
    every flow hook of each under ``proxy.guard``, so an error blocks instead of letting
    the flow through."""
    main = Qinglang(config)
    dashboard = DashboardAddon()
    addons = [
        dashboard,
        DeviceSetup(main, dashboard),
        ReportEntry(main),
        main,
        BodyCap(main),
        Tunnels(main),
        ConnectionLimits(main),
        OutboundGuard(main),
        WebSocketGuard(main),
        DnsFilter(main),  # DNS mode's queries (docs/dns-mode.md)
        SubscriptionUpdater(lambda: _config_of(main)),
    ]
    # An error in any hook stops the flow instead of letting it through (proxy/guard.py);
    # an addon added here gets the same guard.
    return [AddonChain(addons, Guard(main))]


def _config_of(main: Qinglang) -> tuple[Any, str] | None:
    live = main.live
    return (live.config, live.rules.source or "") if live is not None else None


# mitmproxy loads this file as a script and reads `addons`; `qinglang run` imports it as
# the module qinglang.addon for `chain` alone, and must not build a second set.
if __name__ != "qinglang.addon":
    addons = chain()
