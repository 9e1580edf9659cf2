"""A compact, self-describing bitstream container around rANS streams.

Every byte the book counts as "rate" is written by :func:`pack`: bpp is ``8 * len(data) / pixels`` with this
header included, so the header is kept small (a Kodak image at 0.00875 bpp is only about 430 bytes).

Layout (all integers are unsigned LEB128 varints unless a width is given)::

    offset  size  field
    0       2     magic b"PC"                     (foreign input is rejected here)
    2       1     format version (u8)             (currently 1)
    3       1     codec tag: crc32(codec_id) & 0xFF  (a decoder built for another codec is rejected here)
    4       var   number of integer fields n, then n fields (shapes, image size, ... as the codec needs)
    .       var   number of streams k, then the byte lengths of the first k-1 streams (the last is implied)
    .       ...   the k streams, concatenated
    -4      4     CRC32 (little-endian) of everything above, seeded with the codec id and a fingerprint
                  of the entropy model's tables

A Kodak image coded by :class:`~perceptual_compression.coding.ImageCodec` as one rANS stream has a 17-byte
header: 2 magic + 1 version + 1 tag + 1 field count + 7 bytes for the fields (512, 768, 1, 8, 12) + 1 stream
count + 4 CRC (:func:`header_size`); 0.00035 bpp on 512x768 pixels.

The CRC is seeded with ``codec_id`` and with a fingerprint of the entropy model (its quantized CDF tables,
offsets and medians), so a bitstream decoded by a model whose entropy tables differ from the encoder's is
rejected instead of being decoded into garbage. Corrupt, truncated, foreign, unsupported or mismatched input
raises :class:`CodecError` *before* any rANS decoding happens, so the C++ decoder only ever sees streams that
its own encoder wrote. (Undetectable by construction: a model with the same codec id and identical entropy
tables but different synthesis weights; choose codec ids that name the weights.)
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

MAGIC = b"PC"
VERSION = 1
CRC_SIZE = 4
_FIXED = len(MAGIC) + 1 + 1  # magic, version, tag
MIN_SIZE = _FIXED + 2 + CRC_SIZE  # with zero fields and zero streams
MAX_FIELDS = 64
MAX_STREAMS = 1 << 24
_MAX_VARINT_BYTES = 9  # values < 2**63


class CodecError(ValueError):
    """A bitstream that cannot be decoded: corrupt, truncated, foreign, of an unsupported format version,
    or written by a different codec (codec id or entropy model mismatch)."""


@dataclass(frozen=True)
class Container:
    """The decoded contents of a bitstream: the codec's integer fields and its byte streams."""

    fields: tuple[int, ...]
    streams: tuple[bytes, ...]


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128: 7 bits per byte, high bit set on all bytes but the last."""
    if not isinstance(value, int) or value < 0 or value >= 1 << (7 * _MAX_VARINT_BYTES):
        raise ValueError(f"varint value must be an integer in [0, 2**63), got {value!r}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """Read a varint from ``data[pos:end]``; return ``(value, new_pos)``. Raises :class:`CodecError`."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos >= end:
            raise CodecError("bitstream is truncated (header ends inside a number)")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if i > 0 and byte == 0:
                raise CodecError("bitstream header is corrupt (non-canonical number)")
            return value, pos
    raise CodecError("bitstream header is corrupt (number too long)")


def codec_tag(codec_id: str) -> int:
    """The one-byte tag stored in the header: ``crc32(codec_id) & 0xFF``."""
    return zlib.crc32(_check_codec_id(codec_id).encode("utf-8")) & 0xFF


def _check_codec_id(codec_id: str) -> str:
    if not isinstance(codec_id, str) or not codec_id:
        raise ValueError(f"codec_id must be a non-empty string, got {codec_id!r}")
    return codec_id


def _seed(codec_id: str, fingerprint: bytes) -> int:
    return zlib.crc32(codec_id.encode("utf-8") + b"\x00" + bytes(fingerprint))


def pack(codec_id: str, fields: Sequence[int], streams: Sequence[bytes], *, fingerprint: bytes = b"") -> bytes:
    """Write ``fields`` (non-negative integers) and ``streams`` into one bitstream for ``codec_id``.

    ``fingerprint`` identifies the entropy model's tables (see :mod:`perceptual_compression.coding.tables`);
    :func:`unpack` must be given the same one.
    """
    _check_codec_id(codec_id)
    fields = [int(f) for f in fields]
    streams = [bytes(s) for s in streams]
    if len(fields) > MAX_FIELDS:
        raise ValueError(f"at most {MAX_FIELDS} fields, got {len(fields)}")
    if len(streams) > MAX_STREAMS:
        raise ValueError(f"at most {MAX_STREAMS} streams, got {len(streams)}")
    out = bytearray(MAGIC)
    out.append(VERSION)
    out.append(codec_tag(codec_id))
    out += encode_varint(len(fields))
    for f in fields:
        out += encode_varint(f)
    out += encode_varint(len(streams))
    for s in streams[:-1]:
        out += encode_varint(len(s))
    for s in streams:
        out += s
    crc = zlib.crc32(out, _seed(codec_id, fingerprint))
    out += crc.to_bytes(CRC_SIZE, "little")
    return bytes(out)


def unpack(data: bytes, codec_id: str, *, fingerprint: bytes = b"") -> Container:
    """Check and parse a bitstream written by :func:`pack` for ``codec_id`` (and the same ``fingerprint``).

    Raises :class:`CodecError` for input that is not bytes, empty, truncated, foreign (wrong magic), of
    another format version, written for another codec id, corrupt (CRC mismatch), or whose entropy-model
    fingerprint differs.
    """
    _check_codec_id(codec_id)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError(f"expected a bytes bitstream, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        if len(data) < len(MAGIC) and MAGIC.startswith(data):
            raise CodecError(f"bitstream is truncated ({len(data)} bytes)")
        raise CodecError(f"not a perceptual_compression bitstream (magic {data[:2]!r}, expected {MAGIC!r})")
    if len(data) < MIN_SIZE:
        raise CodecError(f"bitstream is truncated ({len(data)} bytes, the smallest valid one has {MIN_SIZE})")
    version = data[2]
    if version != VERSION:
        raise CodecError(f"unsupported bitstream format version {version} (this library reads version {VERSION})")
    if data[3] != codec_tag(codec_id):
        raise CodecError(
            f"bitstream was written by a different codec (tag {data[3]:#04x}, this decoder is {codec_id!r} "
            f"with tag {codec_tag(codec_id):#04x}), or its header is corrupt"
        )
    body_end = len(data) - CRC_SIZE
    stored = int.from_bytes(data[body_end:], "little")
    if zlib.crc32(memoryview(data)[:body_end], _seed(codec_id, fingerprint)) != stored:
        raise CodecError(
            f"bitstream checksum mismatch: the data is corrupt or truncated, or it was written by a model "
            f"whose entropy tables differ from this decoder's (codec {codec_id!r}; same weights? update() called?)"
        )
    pos = _FIXED
    n_fields, pos = decode_varint(data, pos, body_end)
    if n_fields > MAX_FIELDS:
        raise CodecError(f"bitstream header is corrupt ({n_fields} fields)")
    fields = []
    for _ in range(n_fields):
        value, pos = decode_varint(data, pos, body_end)
        fields.append(value)
    n_streams, pos = decode_varint(data, pos, body_end)
    if n_streams > MAX_STREAMS:
        raise CodecError(f"bitstream header is corrupt ({n_streams} streams)")
    lengths = []
    for _ in range(max(n_streams - 1, 0)):
        value, pos = decode_varint(data, pos, body_end)
        lengths.append(value)
    if n_streams:
        last = body_end - pos - sum(lengths)
        if last < 0:
            raise CodecError("bitstream is truncated (streams are shorter than the header says)")
        lengths.append(last)
    elif pos != body_end:
        raise CodecError("bitstream has trailing bytes after its header")
    streams = []
    for n in lengths:
        streams.append(data[pos : pos + n])
        pos += n
    return Container(tuple(fields), tuple(streams))


def header_size(fields: Sequence[int], stream_lengths: Sequence[int]) -> int:
    """Bytes of container overhead for these fields and streams (everything but the streams themselves)."""
    n = _FIXED + len(encode_varint(len(fields))) + sum(len(encode_varint(int(f))) for f in fields)
    n += len(encode_varint(len(stream_lengths)))
    n += sum(len(encode_varint(int(s))) for s in list(stream_lengths)[:-1])
    return n + CRC_SIZE
