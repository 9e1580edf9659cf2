"""Code integer symbols under a fixed per-channel categorical distribution (quantizer indices, VQ codes)."""

from __future__ import annotations

import math

import numpy as np
import torch

from .container import CodecError, pack, unpack
from .entropy_bottleneck import channel_indexes
from .rans import StreamDecoder, encode_stream, ideal_bits
from .tables import table_from_pmf


class CategoricalCodec:
    """Real bitstreams for symbols ``s[b, c, ...]`` in ``[0, L)`` drawn from ``pmf[c]`` (shape ``(C, L)``).

    For example the quantizer indices of chapter 1 or the soft-quantization centers of chapter 2. The pmf
    rows are turned into 16-bit CDFs by CompressAI's ``pmf_to_quantized_cdf`` and the whole batch is coded as
    one rANS stream, so for many symbols the coded size approaches ``-sum log2 pmf`` (:meth:`estimate_bits`):
    the gap is the 16-bit quantization of the pmf plus 32-64 bits per stream.

    Symbols may have any shape ``(B, C, ...)``; with ``C = 1`` a single pmf row serves all of them.
    """

    def __init__(self, pmf: torch.Tensor, codec_id: str = "categorical") -> None:
        pmf = torch.as_tensor(pmf, dtype=torch.float64).detach().cpu()
        self.table = table_from_pmf(pmf)  # validates the shape and the values
        self.pmf = pmf / pmf.sum(dim=1, keepdim=True)
        self.channels, self.levels = self.pmf.shape
        self.codec_id = codec_id
        self._fingerprint = self.table.fingerprint()

    def _check(self, shape, exc=ValueError) -> None:
        if len(shape) < 2 or shape[1] != self.channels:
            raise exc(f"symbols must have shape (B, {self.channels}, ...), got {tuple(shape)}")

    def _symbols(self, symbols: torch.Tensor) -> np.ndarray:
        symbols = torch.as_tensor(symbols)
        if symbols.is_floating_point() or symbols.is_complex() or symbols.dtype == torch.bool:
            raise ValueError(f"symbols must be an integer tensor, got {symbols.dtype}")
        self._check(tuple(symbols.shape))
        s = symbols.detach().cpu().to(torch.int64).numpy()
        if s.size and (s.min() < 0 or s.max() >= self.levels):
            raise ValueError(f"symbols must lie in [0, {self.levels}), got values in [{s.min()}, {s.max()}]")
        return s

    def compress(self, symbols: torch.Tensor) -> bytes:
        """Bytes (header + one rANS stream) for an integer tensor of shape ``(B, C, ...)``."""
        s = self._symbols(symbols)
        stream = encode_stream([(s, channel_indexes(s.shape), self.table)])
        return pack(self.codec_id, s.shape, [stream], fingerprint=self._fingerprint)

    def decompress(self, data: bytes) -> torch.Tensor:
        """The symbols (int64, on the CPU) from :meth:`compress`'s bytes."""
        box = unpack(data, self.codec_id, fingerprint=self._fingerprint)
        shape = box.fields
        self._check(shape, CodecError)
        if len(box.streams) != 1:
            raise CodecError(f"bitstream is corrupt (expected 1 stream, found {len(box.streams)})")
        decoder = StreamDecoder(box.streams[0], math.prod(shape))
        values = decoder.decode(channel_indexes(shape), self.table)
        if values.size and (values.min() < 0 or values.max() >= self.levels):
            raise CodecError("bitstream is corrupt (decoded a symbol outside the alphabet)")
        return torch.from_numpy(values).reshape(shape)

    def estimate_bits(self, symbols: torch.Tensor) -> float:
        """``-sum log2 pmf[c, s]`` (infinite if a symbol has probability zero)."""
        s = self._symbols(symbols)
        logp = torch.log2(self.pmf).numpy()
        with np.errstate(divide="ignore"):
            return float(-logp[channel_indexes(s.shape), s.reshape(-1)].sum())

    def quantized_bits(self, symbols: torch.Tensor) -> float:
        """``-sum log2 q[c, s]`` under the coder's 16-bit CDFs: the coded size minus the per-stream overhead."""
        s = self._symbols(symbols)
        return ideal_bits(s, channel_indexes(s.shape), self.table)

    def bpp(self, data: bytes, num_pixels: int) -> float:
        """``8 * len(data) / num_pixels``."""
        return 8.0 * len(data) / num_pixels
