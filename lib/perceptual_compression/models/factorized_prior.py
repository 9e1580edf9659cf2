"""The factorized-prior autoencoder of Ballé et al. (ICLR 2018), as used by Hepburn et al. (ICLR 2022), Sec. 4
and 5.1, appendix D (Fig. 15).

Analysis ``e``: four 5x5 stride-2 convolutions with GDN between them; synthesis ``d``: four 5x5 stride-2
transposed convolutions with inverse GDN; a factorized (per-channel, non-parametric) entropy model on
``y = e(x)``; additive uniform noise in training, rounding in evaluation. The paper uses ``N=128, M=192``
for the five lower rates and ``N=192, M=320`` above. CompressAI's :class:`compressai.models.FactorizedPrior`
is exactly this model (and follows the codec protocol used by
:class:`perceptual_compression.coding.ImageCodec`), so it is used directly; this module adds the width
choice of appendix D, the objective with an MSE or MS-SSIM distortion, and the two representations whose
distances Sec. 4 studies (``y = e(x)`` and ``x_hat = f(x)``).
"""

from __future__ import annotations

import torch
from compressai.models import FactorizedPrior

__all__ = ["FactorizedPrior", "factorized_prior", "widths_for_rate", "inner", "reconstruct"]


def widths_for_rate(index: int, *, n_low_rates: int = 5, low: tuple[int, int] = (128, 192),
                    high: tuple[int, int] = (192, 320)) -> tuple[int, int]:
    """``(N, M)`` for the ``index``-th rate (0-based, increasing): appendix D's widths."""
    if index < 0:
        raise ValueError("index must be >= 0")
    return low if index < n_low_rates else high


def factorized_prior(n: int = 128, m: int = 192) -> FactorizedPrior:
    """A Ballé et al. (2018) factorized-prior autoencoder with ``N=n`` filters and ``M=m`` latent channels."""
    if n < 1 or m < 1:
        raise ValueError("n and m must be >= 1")
    return FactorizedPrior(N=n, M=m)


def inner(model: FactorizedPrior, x: torch.Tensor, *, quantized: bool = False) -> torch.Tensor:
    """The inner representation ``y = e(x)`` (or its rounded value ``Q(y)`` if ``quantized``)."""
    y = model.g_a(x)
    if quantized:
        y = model.entropy_bottleneck.quantize(y, "dequantize", model.entropy_bottleneck._get_medians())
    return y


def reconstruct(model: FactorizedPrior, x: torch.Tensor, *, quantized: bool = True) -> torch.Tensor:
    """``f(x) = d(Q(e(x)))`` (or the continuous ``d(e(x))``), clamped to ``[0, 1]`` like a decoded image."""
    return model.g_s(inner(model, x, quantized=quantized)).clamp(0, 1)
