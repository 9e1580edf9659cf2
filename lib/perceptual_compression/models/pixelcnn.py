"""A small PixelCNN for grayscale 8-bit images with a discretized logistic mixture likelihood.

Observation 1 of Hepburn et al. (ICLR 2022, appendix A) needs ``log p(x)`` of natural images; the paper
used a pretrained PixelCNN++ (Salimans et al., 2017) on CIFAR-10. This is a much smaller model of the same
family, cheap enough to train inside the chapter: an autoregressive stack of masked convolutions
(van den Oord et al., 2016; the first mask excludes the current pixel, the following ones include it) with
residual connections, whose output at each pixel parametrises a mixture of ``K`` logistics discretized to
the 256 grey levels (the PixelCNN++ likelihood; the two extreme levels take the tails of the
distribution). ``log_prob`` gives the exact log-likelihood of an 8-bit image under the model: its
ranking of images is what the correlations of Observation 1 use.

What differs from the paper: grayscale instead of RGB, a few layers instead of PixelCNN++'s gated
ResNet with down/up-sampling streams, no dropout, trained in minutes on natural-image patches.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class MaskedConv2d(nn.Conv2d):
    """A convolution that sees only the pixels above and to the left (type ``"A"`` also hides the centre)."""

    def __init__(self, cin: int, cout: int, kernel_size: int, mask_type: str) -> None:
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type={mask_type!r} is not valid; valid values are: 'A', 'B'")
        super().__init__(cin, cout, kernel_size, padding=kernel_size // 2)
        k = kernel_size
        mask = torch.ones(1, 1, k, k)
        c = k // 2
        mask[..., c, c + (1 if mask_type == "B" else 0):] = 0
        mask[..., c + 1:, :] = 0
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def discretized_logistic_mixture_log_prob(x: torch.Tensor, params: torch.Tensor, n_mix: int,
                                          n_bins: int = 256) -> torch.Tensor:
    """Per-pixel log-probability (nats) of ``x`` in ``[-1, 1]`` (``n_bins`` levels) under the mixture.

    ``params`` has ``3 n_mix`` channels: mixture logits, means and log-scales. Bin ``i`` covers
    ``x_i +- 1/(n_bins - 1)``; the lowest and highest bins extend to ``-inf`` / ``+inf``.
    """
    logits, means, log_scales = params.split(n_mix, dim=1)
    log_scales = log_scales.clamp(min=-7.0)
    half = 1.0 / (n_bins - 1)
    centered = x - means  # x: (B, 1, H, W) broadcasts over the mixture channel
    inv_s = torch.exp(-log_scales)
    plus_in = inv_s * (centered + half)
    min_in = inv_s * (centered - half)
    log_cdf_plus = plus_in - F.softplus(plus_in)            # log sigmoid(plus_in)
    log_one_minus_cdf_min = -F.softplus(min_in)             # log (1 - sigmoid(min_in))
    cdf_delta = torch.sigmoid(plus_in) - torch.sigmoid(min_in)
    mid_in = inv_s * centered
    log_pdf_mid = mid_in - log_scales - 2.0 * F.softplus(mid_in)  # log density at the bin centre
    inner = torch.where(cdf_delta > 1e-5, torch.log(cdf_delta.clamp_min(1e-12)),
                        log_pdf_mid + math.log(2 * half))
    lp = torch.where(x < -1 + half, log_cdf_plus, torch.where(x > 1 - half, log_one_minus_cdf_min, inner))
    return torch.logsumexp(lp + F.log_softmax(logits, dim=1), dim=1)


class PixelCNN(nn.Module):
    """Grayscale PixelCNN: a 7x7 type-A masked convolution, ``layers`` residual 3x3 type-B blocks, a 1x1 head."""

    def __init__(self, channels: int = 64, layers: int = 8, n_mix: int = 5) -> None:
        super().__init__()
        if min(channels, n_mix) < 1 or layers < 0:
            raise ValueError("channels and n_mix must be >= 1, layers >= 0")
        self.n_mix = n_mix
        self.stem = MaskedConv2d(1, channels, 7, "A")
        self.blocks = nn.ModuleList(MaskedConv2d(channels, channels, 3, "B") for _ in range(layers))
        self.head = nn.Sequential(nn.ELU(), nn.Conv2d(channels, channels, 1), nn.ELU(),
                                  nn.Conv2d(channels, 3 * n_mix, 1))

    @staticmethod
    def to_model_range(x: torch.Tensor) -> torch.Tensor:
        """``[0, 1]`` images -> 8-bit levels mapped to ``[-1, 1]``."""
        return torch.round(x.clamp(0, 1) * 255) / 127.5 - 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mixture parameters ``(B, 3 n_mix, H, W)`` for grayscale images ``x`` in ``[0, 1]``, ``(B, 1, H, W)``."""
        h = self.stem(self.to_model_range(x))
        for block in self.blocks:
            h = h + block(F.elu(h))
        return self.head(h)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)`` in nats per image for grayscale images in ``[0, 1]`` (quantized to 8 bits)."""
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"expected grayscale images (B, 1, H, W), got {tuple(x.shape)}")
        lp = discretized_logistic_mixture_log_prob(self.to_model_range(x), self(x), self.n_mix)
        return lp.flatten(1).sum(1)

    def bits_per_dim(self, x: torch.Tensor) -> torch.Tensor:
        """``-log2 p(x) / (H W)`` per image."""
        return -self.log_prob(x) / (math.log(2) * x[0].numel())
