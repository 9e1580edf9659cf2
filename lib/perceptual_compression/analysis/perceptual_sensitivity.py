"""Observation 1 of Hepburn et al. (ICLR 2022): the sensitivity of a perceptual distance correlates with
the probability of the image (Sec. 2, eq. 1; appendix A.2, Fig. 6).

Equalization models of vision predict, for a small distortion ``x2 = x1 + dx``,

.. math::

    \\frac{D_p(x_1, x_2)}{\\sqrt m\\, \\mathrm{RMSE}(x_1, x_2)} \\approx p(x_1)^\\gamma, \\quad \\gamma > 0,

so ``D_p / RMSE`` should be rank-correlated with ``log p(x1)``, whereas for ``D_p = RMSE`` the ratio is
constant (zero correlation). Appendix A.2 adds Gaussian noise ``dx ~ N(0, sigma^2)`` of growing ``sigma``
(0-255 units) and reports, per ``sigma``: ``rho(D_p / RMSE, log p)`` (Observation 1),
``rho(D_p, RMSE)`` (how Euclidean the distance behaves) and ``rho(RMSE, log p)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import torch

from .correlation import spearman
from .induced_distances import rmse as _rmse


@torch.no_grad()
def noisy_pair(x: torch.Tensor, sigma: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x + N(0, (sigma/255)^2)`` for images in ``[0, 1]`` (not clipped: the distortion is exactly Gaussian)."""
    if sigma < 0:
        raise ValueError("sigma must be >= 0")
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return x + (sigma / 255.0) * noise


@torch.no_grad()
def observation1(
    x: torch.Tensor,
    log_p,
    sigmas,
    distances: Mapping[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]],
    *,
    seed: int = 0,
    batch_size: int = 64,
) -> list[dict[str, float]]:
    """For each ``sigma`` and each named distance: the three Spearman correlations of appendix A.2.

    ``x``: images ``(B, C, H, W)`` in ``[0, 1]``; ``log_p``: their log-probabilities (any monotone unit);
    ``distances``: name -> ``D(x1, x2) -> Tensor[B]`` (a distortion: larger = more different).
    Returns rows with ``sigma``, ``distance``, ``rho_sensitivity_logp``, ``rho_distance_rmse``,
    ``rho_rmse_logp``.
    """
    log_p = np.asarray(log_p, dtype=np.float64)
    if len(log_p) != x.shape[0]:
        raise ValueError("log_p needs one value per image")
    rows = []
    g = torch.Generator().manual_seed(seed)
    for sigma in sigmas:
        x2 = noisy_pair(x, float(sigma), generator=g)
        r = _rmse(x, x2).double().cpu().numpy() * 255.0
        for name, fn in distances.items():
            d = torch.cat([fn(x[i:i + batch_size], x2[i:i + batch_size]).reshape(-1).double().cpu()
                           for i in range(0, x.shape[0], batch_size)]).numpy()
            rows.append({
                "sigma": float(sigma), "distance": name,
                "rho_sensitivity_logp": spearman(d / r, log_p),
                "rho_distance_rmse": spearman(d, r),
                "rho_rmse_logp": spearman(r, log_p),
                "mean_distance": float(np.mean(d)),
            })
    return rows


def sensitivity_ratio(d: np.ndarray, rmse: np.ndarray, m: int) -> np.ndarray:
    """``D_p / (sqrt(m) RMSE)`` (eq. 1's left-hand side)."""
    return np.asarray(d, dtype=np.float64) / (math.sqrt(m) * np.asarray(rmse, dtype=np.float64))
