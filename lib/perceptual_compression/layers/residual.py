"""The residual block of the HiFiC generator (Mentzer et al. 2020, Fig. 2; used unchanged by MS-ILLM).

``y = x + CN(conv3x3(ReLU(CN(conv3x3(x)))))`` with :class:`~perceptual_compression.layers.channel_norm.ChannelNorm2d`.
The layers live in ``self.sequence`` at indices 0 (conv), 1 (norm), 2 (ReLU), 3 (conv), 4 (norm), the
layout of NeuralCompression's ``_ResidualBlock``, so that its checkpoints load with ``strict=True``.
"""

from __future__ import annotations

from torch import Tensor, nn

from .channel_norm import ChannelNorm2d


class ChannelNormResidualBlock(nn.Module):
    """Two 3×3 convolutions with ChannelNorm and a ReLU between them, plus the identity skip."""

    def __init__(self, channels: int, kernel_size: int = 3, eps: float = 1e-3) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.sequence = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size, padding=pad),
            ChannelNorm2d(channels, eps=eps),
            nn.ReLU(),
            nn.Conv2d(channels, channels, kernel_size, padding=pad),
            ChannelNorm2d(channels, eps=eps),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.sequence(x)
