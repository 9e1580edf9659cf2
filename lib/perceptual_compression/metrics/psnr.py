r"""Peak signal-to-noise ratio on 8-bit images.

.. math::
    \mathrm{PSNR}(x, \hat x) = 10 \log_{10} \frac{255^2}{\frac{1}{CHW}\sum (Q(x) - Q(\hat x))^2},
    \qquad Q(x) = \lfloor 255\,\mathrm{clamp}(x, 0, 1) + \tfrac12 \rfloor

Images are float tensors in [0, 1]. By default both are first rounded to the 256 levels of an 8-bit file
(what a decoder writes to disk, and what NeuralCompression and CompressAI evaluate), so the PSNR of a
reconstruction does not depend on sub-quantisation-step noise. PSNR is computed **per image** (one MSE per
image over channels and pixels, data range 255) and returned as a tensor of shape ``(B,)``; average the
per-image values to get the "mean PSNR over a dataset" that papers report.

Identical images have zero MSE and an infinite PSNR: this function returns ``+inf`` for them (no hidden
cap). Pass ``max_db`` to clamp, e.g. ``max_db=100`` when averaging over a set that may contain lossless
reconstructions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._images import as_pair, to_uint8_levels

__all__ = ["psnr", "mse_to_psnr"]


def mse_to_psnr(mse: Tensor, data_range: float = 1.0) -> Tensor:
    """``10 log10(data_range² / mse)``; ``+inf`` where ``mse == 0``."""
    mse = torch.as_tensor(mse, dtype=torch.float64)
    return 10.0 * torch.log10(data_range**2 / mse)


def psnr(x: Tensor, x_hat: Tensor, *, quantize: bool = True, max_db: float | None = None) -> Tensor:
    """PSNR in dB of ``x_hat`` against ``x`` (both in [0, 1], ``(B, 3, H, W)`` or ``(3, H, W)``), shape ``(B,)``.

    quantize: round both images to 8-bit levels first (default, see the module docstring); with
        ``False`` the float images are compared directly (data range 1).
    max_db: if given, values above it (including ``+inf`` for identical images) are clamped to it.
    Returns float64 values (the MSE of 8-bit images is an exact rational; float64 keeps it so).
    """
    x, x_hat = as_pair(x, x_hat)
    if quantize:
        a, b, peak = to_uint8_levels(x), to_uint8_levels(x_hat), 255.0
    else:
        a, b, peak = x.detach(), x_hat.detach(), 1.0
    mse = (a.double() - b.double()).pow(2).flatten(1).mean(dim=1)
    out = mse_to_psnr(mse, peak)
    if max_db is not None:
        out = out.clamp(max=float(max_db))
    return out
