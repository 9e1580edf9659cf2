"""``BlockMeanCodec``: an untrained reference codec that transmits each block's mean colour.

An image is cut into ``factor x factor`` blocks (the last row and column of blocks are completed by
replicating the border), each channel's block mean is quantized to ``bits`` bits and written as a
fixed-length code (``bits`` bits per mean, packed) into the book's container (:func:`~perceptual_compression.coding.pack`, header and CRC
included). The decoder places each mean at its block's centre and interpolates bilinearly.

It is the low-pass code a compressive autoencoder with a downsampling factor of ``factor`` can always
afford: at ``factor = 16`` and 8 bits it spends ``3 * 8 / 256 = 0.094`` bpp, below the 0.25 bpp bound of
eq. 16 (Hepburn et al. 2022, Sec. 5.2: ``M = 64`` binary channels per 16 x 16 block give 64 bits, the three
means need 24). Chapter 2 uses it as a zero-training reference beside the flat grey image for Table 1.

Every rate is measured from the bytes written: ``bpp = 8 * len(data) / (H * W)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .container import CodecError, pack, unpack

__all__ = ["BlockMeanCodec"]


class BlockMeanCodec:
    """Block means, ``bits``-bit fixed-length code, bilinear reconstruction.

    ``compress(x)`` takes one image ``(C, H, W)`` or ``(1, C, H, W)`` with values in ``[0, 1]`` and returns
    bytes; ``decompress(data)`` returns ``(1, C, H, W)``. ``bits`` must be 1 to 8 (one byte per mean)."""

    def __init__(self, factor: int = 16, bits: int = 8):
        if not (isinstance(factor, int) and factor >= 1):
            raise ValueError(f"factor must be a positive integer, got {factor!r}")
        if not (isinstance(bits, int) and 1 <= bits <= 8):
            raise ValueError(f"bits must be an integer from 1 to 8, got {bits!r}")
        self.factor, self.bits = factor, bits
        self.codec_id = f"block-means/f{factor}/b{bits}"

    @property
    def levels(self) -> int:
        return (1 << self.bits) - 1

    def grid(self, h: int, w: int) -> tuple[int, int]:
        """Number of blocks per column and per row for an ``h x w`` image."""
        return math.ceil(h / self.factor), math.ceil(w / self.factor)

    def block_means(self, x: Tensor) -> Tensor:
        """``(1, C, ceil(H/f), ceil(W/f))`` means of each block (border replicated to fill the last blocks)."""
        x = _as_batch1(x)
        h, w = x.shape[-2:]
        gh, gw = self.grid(h, w)
        pad = (0, gw * self.factor - w, 0, gh * self.factor - h)
        if any(pad):
            x = F.pad(x, pad, mode="replicate")
        return F.avg_pool2d(x, self.factor)

    @torch.no_grad()
    def compress(self, x: Tensor) -> bytes:
        x = _as_batch1(x).detach().float().cpu()
        c, h, w = x.shape[1:]
        q = torch.round(self.block_means(x).clamp(0, 1) * self.levels).to(torch.uint8)
        return pack(self.codec_id, (h, w, c), [_pack_bits(q.numpy().ravel(), self.bits)])

    @torch.no_grad()
    def decompress(self, data: bytes) -> Tensor:
        box = unpack(data, self.codec_id)
        if len(box.fields) != 3 or len(box.streams) != 1:
            raise CodecError(f"a {self.codec_id} bitstream has 3 fields and 1 stream, got "
                             f"{len(box.fields)} and {len(box.streams)}")
        h, w, c = box.fields
        gh, gw = self.grid(h, w)
        count = c * gh * gw
        if len(box.streams[0]) != self.stream_bytes(count):
            raise CodecError(f"expected {self.stream_bytes(count)} bytes ({count} block means of {self.bits} bits) "
                             f"for a {c}x{h}x{w} image, got {len(box.streams[0])}")
        q = _unpack_bits(box.streams[0], count, self.bits).reshape(1, c, gh, gw)
        means = torch.from_numpy(q.astype(np.float32)) / self.levels
        up = F.interpolate(means, size=(gh * self.factor, gw * self.factor), mode="bilinear",
                           align_corners=False)
        return up[..., :h, :w].clamp(0, 1)

    def stream_bytes(self, count: int) -> int:
        """Bytes of the fixed-length code of ``count`` means (``bits`` each, the last byte zero-padded)."""
        return math.ceil(count * self.bits / 8)

    def bits_per_pixel(self, data: bytes, h: int, w: int) -> float:
        return 8 * len(data) / (h * w)


def _pack_bits(values: np.ndarray, bits: int) -> bytes:
    """The low ``bits`` bits of each uint8 value, most significant first, concatenated and packed."""
    b = np.unpackbits(values.astype(np.uint8)[:, None], axis=1)[:, 8 - bits:]
    return np.packbits(b.ravel()).tobytes()


def _unpack_bits(data: bytes, count: int, bits: int) -> np.ndarray:
    b = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: count * bits].reshape(count, bits)
    full = np.zeros((count, 8), dtype=np.uint8)
    full[:, 8 - bits:] = b
    return np.packbits(full, axis=1).ravel()


def _as_batch1(x: Tensor) -> Tensor:
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one image (C, H, W) or (1, C, H, W), got shape {tuple(x.shape)}")
    return x
