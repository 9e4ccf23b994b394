"""Personal-information detectors (issue 4). Interface used by the engine."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Profile
from .normalize import Normalized


@dataclass(frozen=True, slots=True)
class PiiFound:
    """One personal-information value, in scan-text coordinates (``norm.source``)."""

    kind: str  # cn_id | cn_mobile | bank_card | email | qq | wechat | address
    start: int
    end: int
    value: str  # canonical value, for counting distinct values; never logged
    hide: tuple[tuple[int, int], ...]  # scan-text ranges to mask


def detect_pii(norm: Normalized) -> list[PiiFound]:
    return []


def doxxing_exposure(found: list[PiiFound], profile: Profile) -> bool:
    return False
