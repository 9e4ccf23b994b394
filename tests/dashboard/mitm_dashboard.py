"""mitmdump script for the tests: the dashboard addon next to the qinglang addon, as the
proxy will load it once it is wired in (``-s addons/qinglang/addon.py -s this``)."""

from qinglang.dashboard.server import DashboardAddon

addons = [DashboardAddon()]
