"""The bitstream container: round trips, header size, and a CodecError for every kind of bad input."""

import random
import zlib

import pytest

from perceptual_compression.coding import CodecError, header_size, pack, unpack
from perceptual_compression.coding.container import (
    MAGIC,
    MIN_SIZE,
    VERSION,
    codec_tag,
    decode_varint,
    encode_varint,
)

STREAMS = [b"\x01\x02\x03\x04" * 3, b"", b"\xff" * 9]
FIELDS = [512, 768, 1, 8, 12]


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**32 + 5, 2**63 - 1])
def test_varint_round_trip_and_length(value):
    data = encode_varint(value)
    assert decode_varint(data, 0, len(data)) == (value, len(data))
    assert len(data) == max(1, -(-value.bit_length() // 7))


@pytest.mark.parametrize("bad", [-1, 2**63, 1.5])
def test_varint_rejects_out_of_range(bad):
    with pytest.raises(ValueError):
        encode_varint(bad)


def test_varint_rejects_non_canonical_and_overlong():
    with pytest.raises(CodecError):
        decode_varint(b"\x80\x00", 0, 2)  # zero written in two bytes
    with pytest.raises(CodecError):
        decode_varint(b"\xff" * 10, 0, 10)
    with pytest.raises(CodecError):
        decode_varint(b"\x80", 0, 1)


def test_round_trip_fields_and_streams():
    data = pack("codec-a", FIELDS, STREAMS, fingerprint=b"\x01\x02\x03\x04")
    box = unpack(data, "codec-a", fingerprint=b"\x01\x02\x03\x04")
    assert box.fields == tuple(FIELDS)
    assert box.streams == tuple(STREAMS)
    assert data[:2] == MAGIC and data[2] == VERSION and data[3] == codec_tag("codec-a")


def test_round_trip_without_fields_or_streams():
    data = pack("x", [], [])
    assert len(data) == MIN_SIZE == 10
    assert unpack(data, "x").fields == () and unpack(data, "x").streams == ()


def test_header_size_matches_and_is_small():
    data = pack("ch4-noganms-q1", FIELDS, STREAMS)
    assert len(data) - sum(map(len, STREAMS)) == header_size(FIELDS, [len(s) for s in STREAMS])
    # A Kodak image (512x768) coded as one stream: 2 magic + 1 version + 1 tag + 1 + 7 (five fields) + 1 + 4 CRC.
    one = header_size([512, 768, 1, 8, 12], [430])
    assert one == 17
    assert 8 * one / (512 * 768) < 0.00035  # bpp the header adds to every Kodak image


def test_crc_is_seeded_with_codec_id_and_fingerprint():
    a = pack("id", [1], [b"abcd"], fingerprint=b"\x00\x00\x00\x01")
    b = pack("id", [1], [b"abcd"], fingerprint=b"\x00\x00\x00\x02")
    assert a[:-4] == b[:-4] and a[-4:] != b[-4:]
    with pytest.raises(CodecError, match="checksum"):
        unpack(a, "id", fingerprint=b"\x00\x00\x00\x02")
    assert zlib.crc32(a[:-4], zlib.crc32(b"id\x00\x00\x00\x00\x01")) == int.from_bytes(a[-4:], "little")


def _small():
    return pack("small", [3, 4, 5], [b"\x10\x20\x30\x40\x50\x60\x70\x80", b"\x01\x02\x03\x04"])


def test_every_truncation_raises_codec_error():
    data = _small()
    for n in range(len(data)):
        with pytest.raises(CodecError):
            unpack(data[:n], "small")


def test_every_single_bit_flip_raises_codec_error():
    data = _small()
    for i in range(len(data)):
        for bit in range(8):
            bad = bytearray(data)
            bad[i] ^= 1 << bit
            with pytest.raises(CodecError):
                unpack(bytes(bad), "small")


def test_random_byte_corruption_and_trailing_bytes_raise_codec_error():
    data = _small()
    rng = random.Random(0)
    for _ in range(300):
        bad = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        if bytes(bad) == data:
            continue
        with pytest.raises(CodecError):
            unpack(bytes(bad), "small")
    with pytest.raises(CodecError):
        unpack(data + b"\x00", "small")


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "truncated"),
        (b"P", "truncated"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "not a perceptual_compression bitstream"),
        (b"PK\x03\x04" + bytes(40), "not a perceptual_compression bitstream"),
    ],
)
def test_foreign_or_empty_input(data, match):
    with pytest.raises(CodecError, match=match):
        unpack(data, "small")


def test_unsupported_version():
    bad = bytearray(_small())
    bad[2] = VERSION + 1
    with pytest.raises(CodecError, match="unsupported bitstream format version"):
        unpack(bytes(bad), "small")


def test_wrong_codec_id():
    data = _small()
    other = next(f"other-{i}" for i in range(1000) if codec_tag(f"other-{i}") != codec_tag("small"))
    with pytest.raises(CodecError, match="different codec"):
        unpack(data, other)
    # an id whose one-byte tag collides is still rejected, by the seeded CRC
    twin = next(f"twin-{i}" for i in range(10000) if codec_tag(f"twin-{i}") == codec_tag("small"))
    with pytest.raises(CodecError, match="checksum"):
        unpack(data, twin)


def test_non_bytes_input_and_bad_codec_id():
    with pytest.raises(CodecError):
        unpack("not bytes", "small")
    with pytest.raises(ValueError):
        pack("", [], [])
    with pytest.raises(ValueError):
        pack("x", [-1], [])
    assert issubclass(CodecError, ValueError)
