"""Content-Encoding: decoding with a cap (bombs), truncation errors, cheap re-encoding."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from qinglang.compression import BadEncoding, BodyTooLarge, codings, decode, encode_cheap

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


def test_unknown_coding_is_an_error() -> None:
    with pytest.raises(BadEncoding, match="unknown content-encoding"):
        decode(PAGE, "lzma", 10_000_000)
    assert codings("gzip, identity, br") == ["gzip", "br"]


def test_cheap_reencoding() -> None:
    body, enc = encode_cheap(PAGE, "br", "gzip, deflate, br")
    assert enc == "gzip" and gzip.decompress(body) == PAGE
    body, enc = encode_cheap(PAGE, "zstd", "zstd, gzip")
    assert enc == "zstd" and zstandard.ZstdDecompressor().decompress(body) == PAGE
    assert encode_cheap(PAGE, "", "gzip") == (PAGE, "")  # came uncompressed, stays so
    assert encode_cheap(PAGE, "gzip", "identity") == (PAGE, "")
