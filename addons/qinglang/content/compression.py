"""Content-Encoding: decode with a cap on the output, encode cheaply.

mitmproxy's ``.content`` decodes without any limit (a 150-byte brotli body can expand to
gigabytes) and re-encodes with gzip level 9 / brotli quality 11 (PROXY-NOTES.md). Here every
decoder stops once the output passes ``limit``, a truncated stream is an error rather than
a silently shorter page, and a changed body goes back out at the cheapest setting.

brotli: the ``brotli`` module mitmproxy pins (<= 1.1.0) has no output limit, so decoding uses
``brotlicffi`` (>= 1.2), whose ``process`` takes ``output_buffer_limit``.

gzip and deflate go through ISA-L (``isal``) where it is installed: the same interface as
``zlib``, with inflate 2.3x as fast, and gzip level 1 faster than zstd level 1, so a masked
page goes back out as gzip (``scripts/bench_codecs.py``). Without it (no wheel for the
platform), ``zlib`` decodes and zstd level 1 is the cheapest encoder.
"""

from __future__ import annotations

import gzip
import zlib
from typing import cast

import zstandard

try:
    import brotlicffi
except ImportError:  # pragma: no cover - older installs: the capped fallback below
    brotlicffi = None

try:
    from isal import igzip, isal_zlib
except ImportError:  # pragma: no cover - no ISA-L wheel for this platform: zlib
    igzip = isal_zlib = None  # type: ignore[assignment]

_INFLATE = isal_zlib or zlib
_INFLATE_ERRORS: tuple[type[Exception], ...] = (
    (zlib.error, cast(type[Exception], isal_zlib.error)) if isal_zlib else (zlib.error,)
)

IDENTITY = ("", "identity", "none")
# The content codings Chromium undoes (net/filter/filter_source_stream.cc).
KNOWN = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd"})
# zstd input slice: an RLE block is 4 bytes for 128 KB of output, so one slice can expand to
# at most about 8 MB past the limit before the check below sees it.
_ZSTD_SLICE = 256
_BROTLI_STEP = 256 * 1024


class BodyTooLarge(Exception):
    """The decoded body is larger than the limit (a big page or a compression bomb)."""


class BadEncoding(ValueError):
    """The body is not valid in its Content-Encoding (truncated, corrupt or unknown)."""


def codings(header: str | None) -> list[str]:
    """The Content-Encoding values a browser undoes, in the order they were applied.

    Chromium undoes the list only when it knows every coding in it: with one it does not
    know (``identity`` included, or a made-up name) it shows the body exactly as it came,
    and so that body is what is scanned (measured: ``Content-Encoding: gzip, foo`` on a
    plain page is rendered as that page). Then the list is empty, as for no header."""
    found = [c.strip().lower() for c in (header or "").split(",")]
    found = [c for c in found if c]
    if any(c not in KNOWN for c in found):
        return []
    return found


def decode(data: bytes, header: str | None, limit: int) -> bytes:
    """Undo every Content-Encoding in ``header`` (as ``codings`` reads it); raises
    BodyTooLarge or BadEncoding."""
    for coding in reversed(codings(header)):
        if coding in ("gzip", "x-gzip"):
            data = _zlib(data, 16 + zlib.MAX_WBITS, limit, gzip_members=True)
        elif coding == "deflate":
            # Servers send both zlib-wrapped and raw deflate under this name.
            try:
                data = _zlib(data, zlib.MAX_WBITS, limit)
            except BadEncoding:
                data = _zlib(data, -zlib.MAX_WBITS, limit)
        elif coding == "br":
            data = _brotli(data, limit)
        elif coding == "zstd":
            data = _zstd(data, limit)
        else:  # pragma: no cover - codings() lists only KNOWN ones
            raise BadEncoding(f"unknown content-encoding {coding!r}")
    if len(data) > limit:
        raise BodyTooLarge(f"body is larger than {limit} bytes")
    return data


def _zlib(data: bytes, wbits: int, limit: int, gzip_members: bool = False) -> bytes:
    out = bytearray()
    rest = data
    while True:
        d = _INFLATE.decompressobj(wbits)
        try:
            pending = rest
            while pending:
                out += d.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    raise BodyTooLarge(f"body is larger than {limit} bytes")
                pending = d.unconsumed_tail
                if d.eof:
                    break
        except _INFLATE_ERRORS as e:
            raise BadEncoding(f"corrupt compressed body: {e}") from None
        if not d.eof:
            raise BadEncoding("compressed body is truncated")
        rest = d.unused_data
        # gzip allows several members one after the other; trailing zero padding is common.
        if not gzip_members or not rest.strip(b"\0"):
            return bytes(out)


def _brotli(data: bytes, limit: int) -> bytes:
    if brotlicffi is None:
        return _brotli_sliced(data, limit)
    d = brotlicffi.Decompressor()
    out = bytearray()
    # brotlicffi allocates (and zeroes) the whole output buffer on every call: steps of
    # 256 KB, not the 10 MB limit at once (0.6 -> 0.2 ms for a 100 KB page).
    try:
        out += d.process(data, output_buffer_limit=min(limit + 1, _BROTLI_STEP))
        while len(out) <= limit and not d.is_finished() and not d.can_accept_more_data():
            out += d.process(b"", output_buffer_limit=min(limit + 1 - len(out), _BROTLI_STEP))
    except brotlicffi.error as e:
        raise BadEncoding(f"corrupt brotli body: {e}") from None
    if len(out) > limit:
        raise BodyTooLarge(f"body is larger than {limit} bytes")
    if not d.is_finished():
        raise BadEncoding("brotli body is truncated")
    return bytes(out)


def _brotli_sliced(data: bytes, limit: int) -> bytes:
    """Without brotlicffi: the input goes in small slices (one brotli byte can expand to
    16 MB at most, so a slice overshoots the limit by a bounded amount)."""
    import brotli

    d = brotli.Decompressor()
    out = bytearray()
    try:
        for i in range(0, len(data), 16):
            out += d.process(data[i : i + 16])
            if len(out) > limit:
                raise BodyTooLarge(f"body is larger than {limit} bytes")
    except brotli.error as e:
        raise BadEncoding(f"corrupt brotli body: {e}") from None
    if not d.is_finished():
        raise BadEncoding("brotli body is truncated")
    return bytes(out)


def _zstd(data: bytes, limit: int) -> bytes:
    """Every frame, one after the other, as browsers decode a zstd body (a decompressobj
    stops at the end of the first frame); skippable frames give no output."""
    out = bytearray()
    rest = data
    while rest:
        d = zstandard.ZstdDecompressor().decompressobj()
        i = 0
        try:
            # decompressobj has no output limit (and stream_reader cannot tell a truncated
            # frame), so the input goes in small slices and the output is checked after each.
            while i < len(rest) and not d.eof:
                out += d.decompress(rest[i : i + _ZSTD_SLICE])
                i += _ZSTD_SLICE
                if len(out) > limit:
                    raise BodyTooLarge(f"body is larger than {limit} bytes")
        except zstandard.ZstdError as e:
            raise BadEncoding(f"corrupt zstd body: {e}") from None
        if not d.eof:
            raise BadEncoding("zstd body is truncated")
        rest = d.unused_data + rest[i:]
    return bytes(out)


def encode_cheap(
    body: bytes, original: str | None, accept_encoding: str | None
) -> tuple[bytes, str]:
    """A changed body, compressed at the cheapest setting the client accepts.

    Returns (bytes, content-encoding or "" for identity). A body that came uncompressed
    stays uncompressed; otherwise the cheapest of gzip level 1 and zstd level 1 that the
    client accepts (never mitmproxy's gzip level 9), else identity.
    """
    if not codings(original):
        return body, ""
    accepted = accepted_codings(accept_encoding)
    for coding in _CHEAPEST_FIRST:
        if coding in accepted:
            return _ENCODERS[coding](body), coding
    return body, ""


def accepted_codings(header: str | None) -> set[str]:
    """The content codings an ``Accept-Encoding`` header allows: those listed without
    ``q=0``, and any other of ours when ``*`` is allowed. No header: none (a client that
    did not ask for compression gets the page as it is)."""
    q: dict[str, float] = {}
    for item in (header or "").split(","):
        name, *params = (part.strip() for part in item.split(";"))
        if not name:
            continue
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0  # a malformed weight allows nothing
        q[name.lower()] = weight
    wildcard = q.get("*", 0.0) > 0
    return {c for c in _ENCODERS if q.get(c, 1.0 if wildcard else 0.0) > 0}


def _gzip(body: bytes) -> bytes:
    if igzip is not None:
        return igzip.compress(body, compresslevel=1, mtime=0)
    return gzip.compress(body, compresslevel=1, mtime=0)


def _zstd_1(body: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=1).compress(body)


_ENCODERS = {"gzip": _gzip, "zstd": _zstd_1}
# Per 100 KB page (scripts/bench_codecs.py): ISA-L gzip-1 83 us, zstd-1 150 us, zlib gzip-1
# 463 us.
_CHEAPEST_FIRST = ("gzip", "zstd") if igzip is not None else ("zstd", "gzip")
