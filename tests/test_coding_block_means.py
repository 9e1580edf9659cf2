"""BlockMeanCodec: block means to bytes and back (sizes from the bytes, closed forms, bad input)."""

import math

import pytest
import torch
import torch.nn.functional as F

from perceptual_compression.coding import BlockMeanCodec, CodecError, header_size


def test_block_means_are_the_mean_of_each_block():
    x = torch.rand(3, 32, 48, generator=torch.Generator().manual_seed(0))
    m = BlockMeanCodec(16).block_means(x)
    want = x.reshape(3, 2, 16, 3, 16).mean(dim=(2, 4))
    assert m.shape == (1, 3, 2, 3)
    assert torch.allclose(m[0], want, atol=1e-6)


@pytest.mark.parametrize("value", [0.0, 17 / 255, 0.5, 1.0])
@pytest.mark.parametrize("size", [(32, 48), (37, 50)])
def test_a_constant_image_is_decoded_exactly(value, size):
    x = torch.full((3, *size), value)
    codec = BlockMeanCodec(16)
    x_hat = codec.decompress(codec.compress(x))
    assert x_hat.shape == (1, 3, *size)  # sizes that are not multiples of the block are kept
    assert torch.allclose(x_hat, torch.full_like(x_hat, round(value * 255) / 255), atol=1e-6)


def test_the_rate_is_the_bytes_written_header_included():
    codec = BlockMeanCodec(16)
    x = torch.rand(3, 512, 768, generator=torch.Generator().manual_seed(1))
    data = codec.compress(x)
    means = 3 * 32 * 48  # one byte per channel and block
    assert len(data) == means + header_size((512, 768, 3), [means])
    bpp = codec.bits_per_pixel(data, 512, 768)
    assert bpp == 8 * len(data) / (512 * 768)
    assert 3 * 8 / 256 < bpp < 0.1  # 24 bits per 16x16 block plus a header of a few bytes
    assert bpp < 64 * math.log2(2) / 4**4  # under eq. 16's 0.25 bpp bound (Hepburn et al. 2022, Sec. 5.2)
    # partial blocks count as whole ones
    assert len(codec.compress(torch.rand(3, 17, 33))) == 3 * 2 * 3 + header_size((17, 33, 3), [18])
    # fewer bits per mean: packed, the last byte padded (8 x 8 blocks at 5 bits fit the 0.25 bpp bound too)
    five = BlockMeanCodec(8, 5)
    n = 3 * 64 * 96
    data5 = five.compress(x)
    assert len(data5) == math.ceil(5 * n / 8) + header_size((512, 768, 3), [math.ceil(5 * n / 8)])
    assert 15 / 64 < five.bits_per_pixel(data5, 512, 768) < 0.25
    odd = BlockMeanCodec(16, 3)  # 3 x 2 x 3 = 18 means of 3 bits: 54 bits in 7 bytes
    assert len(odd.compress(torch.rand(3, 17, 33))) == 7 + header_size((17, 33, 3), [7])


@pytest.mark.parametrize("bits", [8, 5, 3, 1])
def test_the_decoder_interpolates_the_quantized_means(bits):
    x = torch.rand(1, 3, 64, 80, generator=torch.Generator().manual_seed(2))
    codec = BlockMeanCodec(8, bits)
    m = codec.block_means(x)
    levels = 2**bits - 1
    q = torch.round(m * levels) / levels
    assert (q - m).abs().max() <= 0.5 / levels + 1e-6
    want = F.interpolate(q, size=(64, 80), mode="bilinear", align_corners=False)
    assert torch.allclose(codec.decompress(codec.compress(x)), want, atol=1e-6)


def test_a_linear_ramp_is_reproduced_between_block_centres():
    # block means of a linear ramp are its values at the block centres, and bilinear interpolation between
    # centres is exact for a linear function: the error is the 8-bit rounding of the means only
    w = 128
    ramp = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    x = ramp.view(1, 1, w).expand(3, 32, w).clone()
    codec = BlockMeanCodec(16)
    x_hat = codec.decompress(codec.compress(x))[0]
    inner = slice(8, w - 8)  # between the first and the last block centre
    assert (x_hat[..., inner] - x[..., inner]).abs().max() <= 0.5 / 255 + 1e-6
    assert (x_hat - x).abs().max() > 0.01  # outside them the border blocks are flat: not an identity codec


def test_bad_input_and_bad_settings_are_refused():
    codec = BlockMeanCodec(16)
    data = codec.compress(torch.rand(3, 32, 32))
    with pytest.raises(CodecError):
        BlockMeanCodec(8).decompress(data)  # written by another codec
    corrupt = bytearray(data)
    corrupt[8] ^= 0xFF
    with pytest.raises(CodecError):
        codec.decompress(bytes(corrupt))
    with pytest.raises(CodecError):
        codec.decompress(data[:-5])
    for bad in ({"factor": 0}, {"factor": 2.0}, {"bits": 0}, {"bits": 9}):
        with pytest.raises(ValueError):
            BlockMeanCodec(**bad)
    with pytest.raises(ValueError, match="one image"):
        codec.compress(torch.rand(2, 3, 32, 32))
