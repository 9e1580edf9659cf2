r"""Multi-scale structural similarity (Wang, Simoncelli & Bovik 2003) via ``pytorch-msssim``.

.. math::
    \mathrm{MS\text{-}SSIM}(x, \hat x) = \big[l_M(x,\hat x)\big]^{\alpha_M}
        \prod_{j=1}^{M} \big[c_j(x,\hat x)\, s_j(x,\hat x)\big]^{\beta_j}

with M = 5 scales (four 2x average-pool downsamplings), an 11-tap Gaussian window (sigma 1.5),
K1 = 0.01, K2 = 0.03 and the exponents (0.0448, 0.2856, 0.3001, 0.2363, 0.1333) of Wang et al.
Computed per colour channel and averaged over the three channels, per image: shape ``(B,)``.

Conventions
-----------
* Inputs in [0, 1] with ``data_range=1``. NeuralCompression evaluates uint8 images with
  ``data_range=255``; that is the same number, because SSIM's constants scale as
  ``C_i = (K_i * data_range)^2`` and every term is a ratio (checked in the tests). To also reproduce the
  8-bit rounding of that protocol, pass ``quantize=True``.
* Size: five scales need the shorter side to exceed ``(11 - 1) * 2**4 = 160`` pixels (pytorch-msssim's
  own requirement, so that the coarsest scale still holds an 11-pixel window). Smaller images raise a
  ``ValueError`` by default. With ``levels="auto"`` the largest number of scales that fits is used and the
  first exponents are renormalised to sum to one (a documented fallback whose values are **not** comparable
  with 5-scale MS-SSIM numbers from papers); an explicit ``levels=k`` does the same for ``k`` scales.
* Differentiable (with ``quantize=False``), so ``1 - ms_ssim`` can be a training loss.
* Signs: as in pytorch-msssim and TensorFlow's ``ssim_multiscale``, each scale's term is clipped at zero
  (``relu``) before the weighted product, and a term clipped to 0 passes no gradient. The coarsest scale's
  term is SSIM itself, luminance times contrast-structure, and both factors turn negative together for a
  channel reconstructed upside down (negative mean, inverted coarse structure): their product is then
  positive, and ``SSIM(x, -x)`` is close to 1. A model trained on ``1 - ms_ssim`` can settle a channel in that
  mirror solution, and gradient descent cannot bring it back: on every path back one of the two factors
  crosses zero first, and the term, hence the score, drops to 0 there. :func:`ms_ssim_per_channel` shows
  the channel scores.
"""

from __future__ import annotations

import pytorch_msssim
import torch
import torch.nn.functional as F
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim
from torch import Tensor

from ._images import as_pair, to_uint8_levels

__all__ = ["ms_ssim", "ms_ssim_per_channel", "MS_SSIM_WEIGHTS", "max_ms_ssim_levels"]

#: Wang et al. (2003) exponents, fine to coarse.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5


def max_ms_ssim_levels(height: int, width: int, window_size: int = WINDOW_SIZE) -> int:
    """Largest number of scales (at most 5) for which ``min(H, W) > (window_size - 1) * 2**(levels - 1)``."""
    side = min(height, width)
    levels = 0
    while levels < len(MS_SSIM_WEIGHTS) and side > (window_size - 1) * 2**levels:
        levels += 1
    return levels


def _ms_ssim_fewer_levels(x: Tensor, y: Tensor, data_range: float, levels: int) -> Tensor:
    """The MS-SSIM product with ``levels`` scales and renormalised exponents, built from pytorch-msssim's SSIM."""
    weights = x.new_tensor(MS_SSIM_WEIGHTS[:levels])
    weights = weights / weights.sum()
    win = _fspecial_gauss_1d(WINDOW_SIZE, WINDOW_SIGMA).repeat([x.shape[1], 1, 1, 1])
    terms = []
    for i in range(levels):
        ssim_per_channel, cs = _ssim(x, y, data_range=data_range, win=win, size_average=False)
        if i < levels - 1:
            terms.append(torch.relu(cs))
            padding = [s % 2 for s in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=padding)
            y = F.avg_pool2d(y, kernel_size=2, padding=padding)
    terms.append(torch.relu(ssim_per_channel))
    stacked = torch.stack(terms, dim=0)  # (levels, B, C)
    return torch.prod(stacked ** weights.view(-1, 1, 1), dim=0).mean(dim=1)


def ms_ssim(
    x: Tensor,
    x_hat: Tensor,
    *,
    data_range: float = 1.0,
    levels: int | str = 5,
    quantize: bool = False,
) -> Tensor:
    """MS-SSIM of ``x_hat`` against ``x`` (images in [0, data_range]), per image: shape ``(B,)``, 1 = identical.

    levels: 5 (default; the standard metric; images must exceed 160 px on the shorter side), ``"auto"``
        (the most scales that fit, exponents renormalised) or an int 1..5 (that many scales, renormalised).
    quantize: round both images to 8-bit levels first (NeuralCompression's evaluation protocol);
        only meaningful for ``data_range=1`` inputs.
    """
    x, x_hat = as_pair(x, x_hat)
    if quantize:
        if data_range != 1.0:
            raise ValueError("quantize=True expects images in [0, 1] (data_range=1)")
        x, x_hat = to_uint8_levels(x) / 255.0, to_uint8_levels(x_hat) / 255.0
    h, w = x.shape[-2:]
    fits = max_ms_ssim_levels(h, w)
    if levels == "auto":
        n_levels = fits
        if n_levels == 0:
            raise ValueError(f"MS-SSIM needs images larger than {WINDOW_SIZE - 1} px, got {h}x{w}")
    elif isinstance(levels, int) and not isinstance(levels, bool) and 1 <= levels <= len(MS_SSIM_WEIGHTS):
        n_levels = levels
        if n_levels > fits:
            need = (WINDOW_SIZE - 1) * 2 ** (n_levels - 1)
            hint = (
                f"; pass levels='auto' to use the {fits} scale(s) that fit, with renormalised exponents "
                "(not comparable with 5-scale MS-SSIM values from papers)"
                if fits
                else ""
            )
            raise ValueError(
                f"MS-SSIM with {n_levels} scales needs images larger than {need} px on the shorter side, "
                f"got {h}x{w}{hint}"
            )
    else:
        raise ValueError(f"levels must be 'auto' or an int in 1..{len(MS_SSIM_WEIGHTS)}, got {levels!r}")
    if n_levels == len(MS_SSIM_WEIGHTS):
        return pytorch_msssim.ms_ssim(x, x_hat, data_range=data_range, size_average=False)
    return _ms_ssim_fewer_levels(x, x_hat, data_range, n_levels)


def ms_ssim_per_channel(x: Tensor, x_hat: Tensor, *, data_range: float = 1.0, levels: int | str = 5) -> Tensor:
    """MS-SSIM of each colour channel, shape ``(B, C)`` (:func:`ms_ssim` is their mean over ``C``). A value of
    exactly 0 marks a channel whose terms were clipped (no gradient; module docstring)."""
    x, x_hat = as_pair(x, x_hat)
    return torch.stack([ms_ssim(x[:, c:c + 1], x_hat[:, c:c + 1], data_range=data_range, levels=levels)
                        for c in range(x.shape[1])], dim=1)
