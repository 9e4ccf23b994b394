"""``subscriptions:`` in the config: lists fetched from a URL and kept up to date
(``qinglang lists update``, and in the background while the proxy runs). The fetching is
``listtools/subscribe.py``; docs/domain-lists.md#list-subscriptions.

What a subscription writes lives next to the config: ``subscriptions/`` (a list folder
like any other: keyword files, ``domains/<category>.txt``), which ``parse_config`` adds to
``lists`` once it exists, and ``.subscriptions/`` (the last good copy of each, and what
the server said about it, for conditional requests).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator

from qinglang.engine.bilingual import Bilingual

FORMATS = ("yaml", "hosts", "domains", "adblock", "e2guardian", "ut1")
LISTS_FOLDER = "subscriptions"
STATE_FOLDER = ".subscriptions"
_INTERVAL = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNIT = {"m": 60, "h": 3600, "d": 86400}
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def parse_interval(text: str | int) -> int:
    """``30m``, ``12h``, ``1d`` (or seconds as a number) -> seconds, at least 15 minutes."""
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text
    else:
        m = _INTERVAL.match(str(text))
        if not m:
            raise Bilingual(
                f"not an interval like 12h or 1d: {text!r}",
                f"不是时间间隔（例如 12h 或 1d）：{text!r}",
            )
        seconds = int(m.group(1)) * _UNIT[m.group(2)]
    if seconds < 900:
        raise Bilingual(
            "a subscription is fetched at most every 15 minutes (15m)",
            "订阅最多每 15 分钟（15m）获取一次",
        )
    return seconds


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
    url: StrictStr
    format: Literal["yaml", "hosts", "domains", "adblock", "e2guardian", "ut1"]
    # hosts, domains, adblock: the category its names go in; e2guardian: its phrases'.
    category: Annotated[StrictStr, Field(pattern=r"^[a-z0-9_-]+$")] | None = None
    # ut1: which of its folders to take, and the category each goes in (default: all,
    # under UT1's names: adult, gambling, ...).
    categories: dict[StrictStr, Annotated[StrictStr, Field(pattern=r"^[a-z0-9_-]+$")]] = Field(
        default_factory=dict
    )
    lang: StrictStr | None = None
    interval: Annotated[int, Field(ge=900)] = 86400
    sha256: StrictStr | None = None  # the file's checksum, when the publisher gives it
    sha256_url: StrictStr | None = None  # or where the publisher keeps it (sha256sum format)
    max_mb: Annotated[int, Field(ge=1, le=1024)] = 50
    timeout: Annotated[float, Field(gt=0, le=600)] = 60.0

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: Any) -> Any:
        return parse_interval(v) if isinstance(v, str | int) and not isinstance(v, bool) else v

    @field_validator("url", "sha256_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+", v, re.I):
            raise Bilingual(f"not an http(s) URL: {v!r}", f"不是 http(s) 网址：{v!r}")
        return v

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str | None) -> str | None:
        if v is not None and not _SHA256.match(v):
            raise Bilingual("sha256 is 64 hexadecimal digits", "sha256 应是 64 位十六进制数字")
        return v.lower() if v else v

    @model_validator(mode="after")
    def _category_given(self) -> Subscription:
        if self.format in ("hosts", "domains", "adblock") and not self.category:
            raise Bilingual(
                f"a {self.format} subscription needs `category`",
                f"{self.format} 订阅需要 `category`",
            )
        if self.format == "ut1" and self.category:
            raise Bilingual(
                "a ut1 subscription takes `categories: {ut1-name: category}`",
                "ut1 订阅应写 `categories: {ut1-name: category}`",
            )
        return self
