"""The mitmproxy addons: thin hooks that ask ``policy/`` and ``worker/`` what to do with a
flow and do it. Only the entry points (``addon.py``, ``cli/``) import this package."""
