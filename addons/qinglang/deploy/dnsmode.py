"""``qinglang run --dns [HOST:]PORT`` (or ``dns.listen`` in the config): mitmproxy's
``dns`` mode beside the proxy (docs/dns-mode.md)."""

from __future__ import annotations

from collections.abc import Sequence

from qinglang.policy.config import Config
from qinglang.policy.dnsconfig import parse_listen


def _given_modes(args: Sequence[str]) -> bool:
    return any(a in ("--mode", "-m") or a.startswith("--mode=") for a in args)


def mode_spec(listen: str) -> str:
    """``dns@PORT`` or ``dns@HOST:PORT``; ValueError for a bad ``[HOST:]PORT``."""
    host, port = parse_listen(listen)
    return f"dns@{host}:{port}" if host else f"dns@{port}"


def run_args(cfg: Config, option: str | None, args: Sequence[str]) -> list[str]:
    """mitmdump's options with the DNS listener added when ``--dns`` or ``dns.listen``
    asks for one (the option wins). Any ``--mode`` replaces mitmproxy's default, so the
    explicit proxy (``regular``) is added too unless modes were already chosen."""
    listen = option or cfg.dns.listen
    out = list(args)
    if not listen:
        return out
    spec = mode_spec(listen)
    if not _given_modes(out):
        out += ["--mode", "regular"]
    return [*out, "--mode", spec]
