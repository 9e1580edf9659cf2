"""Quantization to a fixed set of centers with a soft relaxation (Hepburn et al., ICLR 2022, appendix E).

Instead of learning the rate, Sec. 5.2 bounds it: every latent value is rounded to the nearest of ``L``
fixed centers ``c_1 .. c_L`` (``{-1, 1}`` or ``{-2, -1, 0, 1, 2}``) and only the distortion is minimised
(as in Agustsson et al. 2019 and Ding et al. 2021). Rounding has no useful gradient, so training uses the
soft assignment of eq. 15,

.. math::

    \\tilde y_i = \\sum_{j=1}^L \\frac{\\exp(-s (y_i - c_j)^2)}{\\sum_{k=1}^L \\exp(-s (y_i - c_k)^2)}\\, c_j ,

with the scale ``s`` fixed to 1 in the paper. As ``s -> infinity`` it tends to hard quantization; for any
``s`` the output is a convex combination of centers, so it lies in ``[min c, max c]``.

The entropy of the code is bounded by the number of symbols (eq. 16): an ``H x W`` image, ``n`` stride-2
downsamplings and ``m`` latent channels give ``H/2^n * W/2^n * m`` symbols of at most ``log2 L`` bits, i.e.
``m log2(L) / 4^n`` bits per pixel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

MODES = ("soft", "hard", "ste")


def entropy_bound_bits(height: int, width: int, n_down: int, m: int, n_centers: int) -> float:
    """Eq. 16: the largest number of bits an ``height x width`` image can take, ``H/2^n W/2^n m log2 L``.

    Spatial sizes that are not multiples of ``2^n`` are rounded up (the encoder pads to its stride).
    """
    if min(height, width, m, n_centers) < 1 or n_down < 0:
        raise ValueError("height, width, m and n_centers must be >= 1 and n_down >= 0")
    f = 2 ** n_down
    return math.ceil(height / f) * math.ceil(width / f) * m * math.log2(n_centers)


def entropy_bound_bpp(n_down: int, m: int, n_centers: int) -> float:
    """Eq. 16 per pixel: ``m log2(L) / 4^n`` (e.g. ``64 * 1 / 256 = 0.25`` bpp for ``L = 2``, ``n = 4``)."""
    if m < 1 or n_centers < 1 or n_down < 0:
        raise ValueError("m and n_centers must be >= 1 and n_down >= 0")
    return m * math.log2(n_centers) / 4 ** n_down


class SoftCenterQuantizer(nn.Module):
    """Quantize to fixed ``centers``: soft (eq. 15), hard (nearest center) or straight-through.

    ``mode="soft"``: eq. 15 with scale ``s``; ``"hard"``: the nearest center; ``"ste"``: hard values in the
    forward pass with the soft gradient (``soft + (hard - soft).detach()``). Without a ``mode`` the module
    uses ``"soft"`` in training mode and ``"hard"`` in evaluation mode; chapter 2's trainer passes its mode
    explicitly (``EntropyLimitedConfig.train_quantization``, ``"ste"`` by default: the paper does not say
    whether eq. 15 replaces rounding in the forward pass or only in the gradient).
    """

    def __init__(self, centers: Sequence[float], scale: float = 1.0) -> None:
        super().__init__()
        c = torch.as_tensor(list(centers), dtype=torch.float32)
        if c.dim() != 1 or c.numel() < 1:
            raise ValueError("centers must be a non-empty 1-D sequence")
        if torch.unique(c).numel() != c.numel():
            raise ValueError(f"centers must be distinct, got {list(centers)}")
        if not scale > 0:
            raise ValueError("scale must be > 0")
        self.register_buffer("centers", torch.sort(c).values)
        self.scale = float(scale)

    @property
    def n_centers(self) -> int:
        return self.centers.numel()

    def assignments(self, y: torch.Tensor) -> torch.Tensor:
        """Soft assignment weights of eq. 15, shape ``y.shape + (L,)`` (each row sums to 1)."""
        d2 = (y.unsqueeze(-1) - self.centers.to(y.dtype)) ** 2
        return torch.softmax(-self.scale * d2, dim=-1)

    def soft(self, y: torch.Tensor) -> torch.Tensor:
        """Eq. 15."""
        return (self.assignments(y) * self.centers.to(y.dtype)).sum(-1)

    def symbols(self, y: torch.Tensor) -> torch.Tensor:
        """Index of the nearest center (int64), the symbol that is entropy coded."""
        return torch.argmin((y.unsqueeze(-1) - self.centers.to(y.dtype)).abs(), dim=-1)

    def dequantize(self, symbols: torch.Tensor) -> torch.Tensor:
        """Center values of symbol indices."""
        return self.centers[symbols]

    def hard(self, y: torch.Tensor) -> torch.Tensor:
        """Nearest center."""
        return self.dequantize(self.symbols(y)).to(y.dtype)

    def forward(self, y: torch.Tensor, mode: str | None = None) -> torch.Tensor:
        mode = mode or ("soft" if self.training else "hard")
        if mode == "soft":
            return self.soft(y)
        if mode == "hard":
            return self.hard(y)
        if mode == "ste":
            s = self.soft(y)
            return s + (self.hard(y) - s).detach()
        raise ValueError(f"mode={mode!r} is not valid; valid values are: {', '.join(MODES)}")

    def extra_repr(self) -> str:
        return f"centers={self.centers.tolist()}, scale={self.scale}"
