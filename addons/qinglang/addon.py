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

from qinglang.dashboard.server import DashboardAddon
from qinglang.proxy.devicesetup import DeviceSetup
from qinglang.proxy.filtering import Qinglang
from qinglang.proxy.outbound import OutboundGuard
from qinglang.proxy.reportentry import ReportEntry

# Order matters: the dashboard (its listener, and the ask-for-access page) and the report
# entry answer the proxy's own host (qinglang.home.arpa) before any rule can stop it; the
# outbound guard reads the profile that Qinglang's request hook resolves.
addons = [DashboardAddon(), DeviceSetup(), ReportEntry(), Qinglang(), OutboundGuard()]
