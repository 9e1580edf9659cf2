"""Scalar quantization to L fixed centers with a soft relaxation for gradients (Mentzer et al., 2018).

Used by Blau & Michaeli (2019, supplement E) as the last encoder layer: the centers
:math:`c_1,\\dots,c_L` are fixed and evenly spaced in :math:`[-1, 1]`. The forward pass is the hard
nearest-center assignment :math:`\\hat z_i = \\arg\\min_{c_j}|z_i - c_j|`; the backward pass uses the gradient
of the soft assignment (eq. 55)

.. math:: \\tilde z_i = \\sum_{j=1}^L \\frac{\\exp(-\\sigma|z_i - c_j|)}{\\sum_{l=1}^L \\exp(-\\sigma|z_i - c_l|)}\\,c_j,
          \\qquad \\sigma = 2/L .

The decoder's input is the quantized code plus uniform noise :math:`\\mathcal U(-a/2, a/2)` with
:math:`a = 2/(L-1)`, the spacing of the centers, so that different codes never mix up while the decoder is
pushed to use the randomness (Sec. 4).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["fixed_centers", "FixedCenterQuantizer"]


def fixed_centers(L: int, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
    """``L`` evenly spaced centers in ``[low, high]`` (both ends included)."""
    if not isinstance(L, int) or L < 2:
        raise ValueError(f"L={L!r} is not valid; the quantizer needs an integer L >= 2")
    if not high > low:
        raise ValueError("high must be > low")
    return torch.linspace(low, high, L)


class FixedCenterQuantizer(nn.Module):
    """Hard nearest-center forward pass, soft (eq. 55) backward pass; optional decoder noise.

    Parameters
    ----------
    L:
        Number of centers (quantization levels).
    sigma:
        Softness of eq. (55); default ``2 / L`` as in the paper.
    low, high:
        Interval of the centers (default ``[-1, 1]``, the range of the encoder's Tanh).
    """

    def __init__(self, L: int, sigma: float | None = None, low: float = -1.0, high: float = 1.0) -> None:
        super().__init__()
        self.L = L
        self.register_buffer("centers", fixed_centers(L, low, high))
        self.sigma = float(2.0 / L if sigma is None else sigma)
        if not self.sigma > 0:
            raise ValueError("sigma must be > 0")
        self.noise_width = float((high - low) / (L - 1))  # a = 2/(L-1) for [-1, 1]

    def extra_repr(self) -> str:
        return f"L={self.L}, sigma={self.sigma:g}, noise_width={self.noise_width:g}"

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest center of every entry (LongTensor, same shape as ``z``)."""
        return (z.unsqueeze(-1) - self.centers).abs().argmin(dim=-1)

    def dequantize(self, idx: torch.Tensor) -> torch.Tensor:
        """Centers of the given indices."""
        return self.centers[idx]

    def hard(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest-center assignment (no gradient)."""
        return self.dequantize(self.indices(z))

    def soft(self, z: torch.Tensor) -> torch.Tensor:
        """The differentiable soft assignment of eq. (55)."""
        w = torch.softmax(-self.sigma * (z.unsqueeze(-1) - self.centers).abs(), dim=-1)
        return (w * self.centers).sum(-1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Hard values in the forward pass, gradient of :meth:`soft` in the backward pass."""
        soft = self.soft(z)
        return soft + (self.hard(z) - soft).detach()

    def add_noise(self, z_hat: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``z_hat + U(-a/2, a/2)``, the decoder's stochastic input (Sec. 4)."""
        u = torch.rand(z_hat.shape, generator=generator, device=z_hat.device, dtype=z_hat.dtype)
        return z_hat + (u - 0.5) * self.noise_width
