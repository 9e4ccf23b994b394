"""What the engine reads of a profile.

The engine knows nothing of the config file: it is given any object with these
attributes (``policy.config.Profile`` is one), so it stays below the layers that read and
validate configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ScanSettings(Protocol):
    """The profile's fields one scan needs (see docs/matching.md and docs/configuration.md)."""

    @property
    def block_threshold(self) -> int: ...
    @property
    def mask(self) -> bool: ...
    @property
    def mask_min_weight(self) -> int: ...
    @property
    def mask_in_context(self) -> bool: ...  # also mask a category scoring 0 or below
    @property
    def pii(self) -> str: ...  # mask | off
    @property
    def doxxing_threshold(self) -> int: ...
    @property
    def categories(self) -> Sequence[str] | None: ...
    @property
    def count(self) -> str: ...  # once | every

    def counts(self, category: str) -> bool: ...


class OwnValues(Protocol):
    """A profile's ``own_data``: (key, value) pairs, e.g. ``("phone", "138 1234 5678")``."""

    def items(self) -> list[tuple[str, str]]: ...
