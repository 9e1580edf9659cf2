"""The contrast axis through the distribution of natural images (Hepburn et al., ICLR 2022, appendix D.2, eq. 14).

Low-contrast images are more likely than high-contrast ones (Frazor & Geisler, 2006), so contrast serves as
a line from high to low probability. For each image ``x`` a low-contrast version ``x_low`` and a
high-contrast version ``x_high`` are made, and

.. math::

    x(\\alpha) = \\begin{cases} (1 - \\alpha)\\, x_{low} + \\alpha\\, x & \\alpha \\le 1 \\\\
                                (2 - \\alpha)\\, x + (\\alpha - 1)\\, x_{high} & \\alpha > 1 \\end{cases}

for ``alpha in [0, 2]``: ``alpha = 0`` is the low-contrast image (solid grey in the limit), ``alpha = 1`` the
original and ``alpha = 2`` the high-contrast one. (The printed eq. 14 is garbled in our copy of the paper;
this is the linear interpolation its text describes, with ``alpha = 1`` the original as in Sec. 5.1.)
Contrast is changed about each image's mean grey level; ``x_high`` is clipped to ``[0, 1]``.
"""

from __future__ import annotations

import numpy as np
import torch


def scale_contrast(x: torch.Tensor, factor: float) -> torch.Tensor:
    """``mean + factor (x - mean)`` per image (mean over channels and pixels), clipped to ``[0, 1]``."""
    if factor < 0:
        raise ValueError("factor must be >= 0")
    dims = tuple(range(1, x.dim())) if x.dim() == 4 else tuple(range(x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    return (mean + factor * (x - mean)).clamp(0, 1)


def contrast_axis(x: torch.Tensor, alpha: float, *, low: float = 0.0, high: float = 2.0) -> torch.Tensor:
    """``x(alpha)`` of eq. 14 with ``x_low = scale_contrast(x, low)`` and ``x_high = scale_contrast(x, high)``."""
    if not 0.0 <= alpha <= 2.0:
        raise ValueError(f"alpha={alpha!r} is not valid; it must be in [0, 2]")
    if alpha <= 1.0:
        return (1.0 - alpha) * scale_contrast(x, low) + alpha * x
    return (2.0 - alpha) * x + (alpha - 1.0) * scale_contrast(x, high)


def alphas(n: int = 200) -> np.ndarray:
    """``n`` evenly spaced values in ``[0, 2]`` (appendix D.2 uses 200)."""
    if n < 2:
        raise ValueError("n must be >= 2")
    return np.linspace(0.0, 2.0, n)
