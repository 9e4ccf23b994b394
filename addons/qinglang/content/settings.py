"""What the content layer reads of a profile, beside what the engine reads."""

from __future__ import annotations

from typing import Protocol

from qinglang.engine.settings import ScanSettings


class ResponseSettings(ScanSettings, Protocol):
    """A profile as the scan pipeline and the head plan see it (``policy.config.Profile``
    is one)."""

    @property
    def filter(self) -> bool: ...
    @property
    def max_scan_bytes(self) -> int: ...
    @property
    def on_oversize(self) -> str: ...  # block | pass
    @property
    def on_error(self) -> str: ...  # block | pass
    @property
    def pii_notice(self) -> bool: ...
