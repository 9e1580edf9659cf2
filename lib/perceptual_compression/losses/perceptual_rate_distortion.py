"""Rate-distortion objectives with a Euclidean or a perceptual distortion (Hepburn et al., ICLR 2022, eq. 3).

``L = R + lambda D`` with ``R`` the estimated bits per pixel of the latents and ``D`` one of

- ``"mse"``: ``255^2 * MSE`` (CompressAI's convention for the factorized-prior lambdas);
- ``"ms-ssim"``: ``1 - MS-SSIM`` (:func:`perceptual_compression.metrics.ms_ssim`);
- ``"nlpd"``: NLPD (:func:`perceptual_compression.metrics.nlpd`).

The entropy-limited models of Sec. 5.2 drop ``R`` (their rate is bounded by construction) and minimise
``D`` alone: :func:`distortion` with ``mse_scale=1`` (plain MSE).

Using a perceptual ``D`` in empirical risk minimisation counts the image statistics twice, once in the
data and once in the distance (the paper's double-counting effect, Sec. 5).
"""

from __future__ import annotations

import math

import torch

DISTORTIONS = ("mse", "ms-ssim", "nlpd")


def distortion(name: str, x: torch.Tensor, x_hat: torch.Tensor, *, mse_scale: float = 1.0,
               msssim_levels: int | str = "auto") -> torch.Tensor:
    """Per-image distortion ``(B,)`` of ``x_hat`` against ``x`` (images in ``[0, 1]``, differentiable).

    ``mse_scale`` multiplies the MSE (``255**2`` for CompressAI's lambdas). ``msssim_levels``: MS-SSIM
    scales (``"auto"``: as many as fit, needed for training patches smaller than 161 px).
    """
    if name == "mse":
        return mse_scale * (x - x_hat).pow(2).flatten(1).mean(1)
    if name == "ms-ssim":
        from ..metrics import ms_ssim

        return 1.0 - ms_ssim(x, x_hat, levels=msssim_levels)
    if name == "nlpd":
        from ..metrics import nlpd

        return nlpd(x, x_hat)
    raise ValueError(f"distortion={name!r} is not valid; valid values are: {', '.join(DISTORTIONS)}")


def bits_per_pixel(likelihoods: dict[str, torch.Tensor] | list[torch.Tensor], num_pixels: int) -> torch.Tensor:
    """``sum -log2 p`` over every likelihood tensor, divided by the number of pixels (a scalar tensor)."""
    tensors = likelihoods.values() if isinstance(likelihoods, dict) else likelihoods
    return sum(torch.log(t).sum() for t in tensors) / (-math.log(2) * num_pixels)


def rate_distortion_loss(out: dict, x: torch.Tensor, lmbda: float, name: str = "mse", *,
                         msssim_levels: int | str = "auto") -> dict[str, torch.Tensor]:
    """Eq. 3 for a CompressAI model output ``out`` (``x_hat`` and ``likelihoods``): ``bpp + lambda D``.

    ``D`` is ``255^2 MSE`` for ``"mse"``, ``1 - MS-SSIM`` or NLPD, averaged over the batch.
    """
    n, _, h, w = x.shape
    bpp = bits_per_pixel(out["likelihoods"], n * h * w)
    d = distortion(name, x, out["x_hat"], mse_scale=255.0**2, msssim_levels=msssim_levels).mean()
    return {"loss": bpp + lmbda * d, "bpp": bpp, "distortion": d}
