"""Decisions made when the headers arrive: buffer, stream, sniff, or the size policy."""

from __future__ import annotations

from qinglang.content.headplan import Sniffer, plan_head, range_is_partial
from qinglang.policy.config import Profile

CHILD = Profile(max_scan_bytes=1_000_000)
ADULT = Profile(filter=False)


def plan(
    ctype: str | None,
    length: int | None,
    *,
    enc: str = "",
    profile: Profile = CHILD,
    method: str = "GET",
    status: int = 200,
) -> str:
    return plan_head(
        method=method,
        status=status,
        content_type=ctype,
        content_encoding=enc,
        length=length,
        profile=profile,
    ).action


def test_plans() -> None:
    assert plan("text/html", 5000) == "buffer"
    assert plan("text/html", None) == "buffer"  # chunked pages: buffered, then checked
    assert plan("text/html", 2_000_000) == "oversize"
    assert plan("application/json", 2_000_000, enc="gzip") == "oversize"
    assert plan("video/mp4", 50_000_000) == "sniff"
    assert plan("video/mp4", None) == "sniff"
    assert plan("image/png", 5000) == "buffer"  # small: checked whole
    assert plan("image/png", 50_000_000, enc="gzip") == "oversize"
    assert plan("application/javascript", 50_000_000) == "sniff"
    assert plan("text/event-stream", None) == "stream"
    assert plan("text/html", 5000, profile=ADULT) == "pass"
    assert plan("text/html", 5000, method="HEAD") == "none"
    assert plan("text/html", None, status=304) == "none"


def test_ranges() -> None:
    assert range_is_partial("bytes 0-99/1000")
    assert not range_is_partial("bytes 0-999/1000")
    assert range_is_partial("bytes 100-999/1000")
    assert range_is_partial("bytes 0-99/*") and range_is_partial(None)
    assert range_is_partial("garbage")


def run(sniffer: Sniffer, chunks: list[bytes]) -> bytes:
    out = b""
    for c in [*chunks, b""]:
        r = sniffer(c)
        out += r if isinstance(r, bytes) else b"".join(r)
    return out


def test_sniffer_passes_media_and_cuts_text() -> None:
    video = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 10
    seen: list[str] = []
    assert (
        run(Sniffer("video/mp4", False, lambda: seen.append("x")), [video[:100], video[100:]])
        == video
    )
    assert seen == []
    text = b"<html><body>" + "网络赌场".encode() * 200
    assert run(Sniffer("video/mp4", False, lambda: seen.append("x")), [text[:10], text[10:]]) == b""
    assert seen == ["x"]
    assert run(Sniffer("video/mp4", True, lambda: None), [text]) == text  # fail-open
