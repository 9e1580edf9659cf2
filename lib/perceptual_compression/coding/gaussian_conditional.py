"""Code a batch of latents given Gaussian scales (and means) with CompressAI's GaussianConditional."""

from __future__ import annotations

import math

import torch
from compressai.entropy_models import GaussianConditional

from .container import CodecError, pack, unpack
from .rans import StreamDecoder, encode_stream
from .tables import entropy_model_fingerprint, gaussian_indexes, require_updated, table_from_entropy_model


class GaussianConditionalCodec:
    """Real bitstreams for ``y`` under ``N(means, scales²)`` convolved with a unit box (hyperprior models).

    The decoder must be given the same ``scales`` (and ``means``) as the encoder, typically computed from
    an already decoded hyper-latent. Symbols are ``round(y - means)``; table indexes come from
    ``GaussianConditional.build_indexes(scales)`` (the scale table set at ``update()``). The whole batch is
    one rANS stream. ``decompress`` returns ``round(y - means) + means``, bit-exactly what the module's
    eval forward returns.
    """

    def __init__(self, gaussian_conditional: GaussianConditional, codec_id: str = "gaussian-conditional") -> None:
        if not isinstance(gaussian_conditional, GaussianConditional):
            raise TypeError(f"expected a compressai GaussianConditional, got {type(gaussian_conditional).__name__}")
        self.gaussian_conditional = gaussian_conditional
        self.codec_id = codec_id

    def _indexes(self, scales: torch.Tensor):
        return gaussian_indexes(self.gaussian_conditional, scales).cpu().numpy()

    @staticmethod
    def _check(y_shape, scales: torch.Tensor, means: torch.Tensor | None, exc=ValueError) -> None:
        if tuple(scales.shape) != tuple(y_shape):
            raise exc(f"scales have shape {tuple(scales.shape)}, the latents {tuple(y_shape)}")
        if means is not None and tuple(means.shape) != tuple(y_shape):
            raise exc(f"means have shape {tuple(means.shape)}, the latents {tuple(y_shape)}")

    def quantize(self, y: torch.Tensor, means: torch.Tensor | None = None) -> torch.Tensor:
        """The values :meth:`decompress` returns: ``round(y - means) + means`` (``round(y)`` without means)."""
        return torch.round(y) if means is None else torch.round(y - means) + means

    @torch.no_grad()
    def compress(self, y: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None) -> bytes:
        """Bytes (header + one rANS stream) for ``y`` of any shape ``(B, ...)``; scales/means of the same shape."""
        require_updated(self.gaussian_conditional, "gaussian_conditional")
        self._check(y.shape, scales, means)
        centered = y if means is None else y - means
        if y.ndim < 1 or not torch.isfinite(centered).all() or not torch.isfinite(scales).all():
            raise ValueError("latents, means and scales must be finite tensors of shape (B, ...)")
        symbols = torch.round(centered).to(torch.int64).cpu().numpy()
        table = table_from_entropy_model(self.gaussian_conditional)
        stream = encode_stream([(symbols, self._indexes(scales), table)])
        return pack(self.codec_id, y.shape, [stream], fingerprint=self._fingerprint())

    def _fingerprint(self) -> bytes:
        return entropy_model_fingerprint(self.gaussian_conditional)

    @torch.no_grad()
    def decompress(self, data: bytes, scales: torch.Tensor, means: torch.Tensor | None = None) -> torch.Tensor:
        """``ŷ`` from :meth:`compress`'s bytes, given the encoder's ``scales`` and ``means``."""
        require_updated(self.gaussian_conditional, "gaussian_conditional")
        box = unpack(data, self.codec_id, fingerprint=self._fingerprint())
        shape = box.fields
        self._check(shape, scales, means)  # a caller error (wrong scales), not a bitstream error
        if len(box.streams) != 1:
            raise CodecError(f"bitstream is corrupt (expected 1 stream, found {len(box.streams)})")
        decoder = StreamDecoder(box.streams[0], math.prod(shape))
        values = decoder.decode(self._indexes(scales), table_from_entropy_model(self.gaussian_conditional))
        y_hat = torch.from_numpy(values).reshape(shape).to(device=scales.device, dtype=scales.dtype)
        return y_hat if means is None else y_hat + means

    @torch.no_grad()
    def estimate_bits(self, y: torch.Tensor, scales: torch.Tensor, means: torch.Tensor | None = None) -> float:
        """``-sum log2 p(ŷ | scales, means)`` from the module's likelihoods of the rounded latents."""
        _, likelihoods = self.gaussian_conditional(y, scales, means=means, training=False)
        return float(-torch.log2(likelihoods).sum())

    def bpp(self, data: bytes, num_pixels: int) -> float:
        """``8 * len(data) / num_pixels``."""
        return 8.0 * len(data) / num_pixels
