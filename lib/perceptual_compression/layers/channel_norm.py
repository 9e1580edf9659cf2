"""ChannelNorm (Mentzer et al., HiFiC 2020, Sec. 4.1): normalize each pixel over its channels.

For a feature map :math:`x \\in \\mathbb{R}^{B\\times C\\times H\\times W}` and every position
:math:`(b, h, w)`,

.. math::

    \\mathrm{CN}(x)_{bchw} = \\gamma_c \\, \\frac{x_{bchw} - \\mu_{bhw}}{\\sqrt{\\sigma^2_{bhw} + \\epsilon}} + \\beta_c,
    \\qquad \\mu_{bhw} = \\tfrac{1}{C}\\sum_c x_{bchw},
    \\quad \\sigma^2_{bhw} = \\tfrac{1}{C-1}\\sum_c (x_{bchw} - \\mu_{bhw})^2 .

Unlike instance or group normalization it uses no spatial statistics, so a model trained on 256²
crops behaves the same on a full-resolution image. MS-ILLM (and NeuralCompression's
``ChannelNorm2D``) use :math:`\\epsilon = 10^{-3}` and the unbiased (``C-1``) channel variance; the
affine parameters are named ``gamma`` and ``beta`` with shape ``(1, C, 1, 1)`` so that the official
checkpoints load into this layer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ChannelNorm2d(nn.Module):
    """Per-pixel normalization across channels, with optional per-channel affine ``gamma``/``beta``."""

    def __init__(self, channels: int, eps: float = 1e-3, affine: bool = True) -> None:
        super().__init__()
        if channels < 2:
            raise ValueError(f"ChannelNorm2d needs at least 2 channels to compute a variance, got {channels}")
        self.channels = int(channels)
        self.eps = float(eps)
        self.affine = bool(affine)
        if self.affine:
            self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))
            self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"ChannelNorm2d({self.channels}) expects (B, {self.channels}, H, W), got {tuple(x.shape)}")
        # Written out rather than torch.var_mean(dim=1): the channel reduction of an NCHW tensor is
        # strided, and var_mean's kernel is ~10x slower on CPU than these two contiguous-friendly sums.
        mean = x.mean(dim=1, keepdim=True)
        centered = x - mean
        var = (centered * centered).sum(dim=1, keepdim=True) / (self.channels - 1)
        y = centered * torch.rsqrt(var + self.eps)
        if self.affine:
            y = y * self.gamma + self.beta
        return y

    def extra_repr(self) -> str:
        return f"{self.channels}, eps={self.eps:g}, affine={self.affine}"
