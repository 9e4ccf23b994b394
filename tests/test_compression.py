"""Content-Encoding: decoding with a cap (bombs), truncation errors, cheap re-encoding."""

from __future__ import annotations

import gzip
import struct
import zlib

import brotli
import pytest
import zstandard

from qinglang.content import compression
from qinglang.content.compression import (
    BadEncoding,
    BodyTooLarge,
    accepted_codings,
    codings,
    decode,
    encode_cheap,
)

PAGE = ("<p>你好，世界 hello world</p>\n" * 3000).encode()
ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}


@pytest.mark.parametrize("coding", list(ENCODERS))
def test_round_trip(coding: str) -> None:
    assert decode(ENCODERS[coding](PAGE), coding, 10_000_000) == PAGE


def test_raw_deflate_and_stacked_codings() -> None:
    raw = zlib.compressobj(wbits=-15)
    data = raw.compress(PAGE) + raw.flush()
    assert decode(data, "deflate", 10_000_000) == PAGE
    assert decode(brotli.compress(gzip.compress(PAGE)), "gzip, br", 10_000_000) == PAGE
    assert decode(PAGE, "identity", 10_000_000) == PAGE


@pytest.mark.parametrize("coding", list(ENCODERS))
def test_bomb_stops_at_the_limit(coding: str) -> None:
    bomb = ENCODERS[coding](b"\0" * 30_000_000)
    with pytest.raises(BodyTooLarge):
        decode(bomb, coding, 1_000_000)


@pytest.mark.parametrize("coding", list(ENCODERS))
def test_truncated_body_is_an_error(coding: str) -> None:
    data = ENCODERS[coding](PAGE)
    with pytest.raises(BadEncoding):
        decode(data[: len(data) // 2], coding, 10_000_000)


def test_unknown_coding_leaves_the_body_as_chromium_shows_it() -> None:
    # Chromium renders the body as it came when one coding in the list is unknown to it.
    assert decode(PAGE, "lzma", 10_000_000) == PAGE
    assert decode(PAGE, "gzip, foo", 10_000_000) == PAGE
    assert decode(PAGE, "gzip, identity, br", 10_000_000) == PAGE
    assert codings("gzip, identity, br") == []
    assert codings("GZIP , br") == ["gzip", "br"]
    assert codings("identity") == codings("") == codings(None) == []


def test_every_zstd_frame_and_skippable_frames_are_decoded() -> None:
    c = zstandard.ZstdCompressor()
    skip = struct.pack("<II", 0x184D2A50, 5) + b"hello"
    body = c.compress(b"first ") + skip + c.compress(PAGE) + skip
    assert decode(body, "zstd", 10_000_000) == b"first " + PAGE
    assert decode(skip, "zstd", 10_000_000) == b""
    with pytest.raises(BadEncoding, match="truncated"):
        decode(body + c.compress(PAGE)[:10], "zstd", 10_000_000)
    with pytest.raises(BodyTooLarge):
        decode(c.compress(PAGE) * 4, "zstd", len(PAGE) * 3)


# Both inflaters: ISA-L where installed, and the standard library's zlib it falls back to.
INFLATERS = [zlib] + ([compression.isal_zlib] if compression.isal_zlib else [])


@pytest.fixture(params=INFLATERS, ids=lambda m: m.__name__)
def inflater(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "_INFLATE", request.param)


@pytest.mark.usefixtures("inflater")
def test_gzip_members_padding_bombs_and_corruption_with_each_inflater() -> None:
    two = gzip.compress(PAGE[:5000]) + gzip.compress(PAGE[5000:]) + b"\0" * 16
    assert decode(two, "gzip", 10_000_000) == PAGE  # members one after the other, padded
    assert decode(zlib.compress(PAGE), "deflate", 10_000_000) == PAGE
    with pytest.raises(BodyTooLarge):
        decode(gzip.compress(b"\0" * 30_000_000), "gzip", 1_000_000)
    data = bytearray(gzip.compress(PAGE))
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8
    with pytest.raises(BadEncoding, match="corrupt"):
        decode(bytes(data), "gzip", 10_000_000)
    with pytest.raises(BadEncoding, match="truncated"):
        decode(gzip.compress(PAGE)[:-100], "gzip", 10_000_000)
    with pytest.raises(BadEncoding):
        decode(b"not compressed at all", "gzip", 10_000_000)


def test_cheap_reencoding() -> None:
    # The cheapest encoder the client takes: ISA-L's gzip level 1 where it is installed
    # (faster than zstd level 1), else zstd level 1 (six times faster than zlib's gzip).
    cheapest = "gzip" if compression.igzip is not None else "zstd"
    body, enc = encode_cheap(PAGE, "br", "gzip, deflate, br, zstd")
    assert enc == cheapest
    assert decode(body, enc, 10_000_000) == PAGE
    body, enc = encode_cheap(PAGE, "br", "gzip, deflate, br")
    assert enc == "gzip" and gzip.decompress(body) == PAGE
    body, enc = encode_cheap(PAGE, "zstd", "zstd")
    assert enc == "zstd" and zstandard.ZstdDecompressor().decompress(body) == PAGE
    body, enc = encode_cheap(PAGE, "gzip", "gzip;q=0, zstd")  # q=0: "not this one"
    assert enc == "zstd"
    assert encode_cheap(PAGE, "", "gzip") == (PAGE, "")  # came uncompressed, stays so
    assert encode_cheap(PAGE, "gzip", "identity") == (PAGE, "")
    assert encode_cheap(PAGE, "gzip", None) == (PAGE, "")  # asked for no compression
    assert encode_cheap(PAGE, "gzip", "br") == (PAGE, "")  # nothing cheap that it takes


def test_accept_encoding_weights_and_wildcard() -> None:
    assert accepted_codings("gzip, deflate, br, zstd") == {"gzip", "zstd"}
    assert accepted_codings("GZIP;Q=0.5") == {"gzip"}
    assert accepted_codings("gzip;q=0, zstd;q=0.1") == {"zstd"}
    assert accepted_codings("*") == {"gzip", "zstd"}
    assert accepted_codings("*;q=0.5, zstd;q=0") == {"gzip"}
    assert accepted_codings("*;q=0") == set()
    assert accepted_codings("gzip;q=abc, zstd") == {"zstd"}  # a malformed weight allows nothing
    assert accepted_codings("") == set() == accepted_codings(None)
