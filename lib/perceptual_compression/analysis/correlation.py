"""Rank correlations used throughout Hepburn et al. (ICLR 2022): Spearman's rho between a distance and a
probability (Figs. 2, 6) or human opinion (Fig. 3).

Spearman's rho is Pearson's correlation of the ranks (ties get their average rank), so it is invariant to
any strictly increasing transform of either variable: ``rho(D, p(x)) = rho(D, log p(x))``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def _as_array(v) -> np.ndarray:
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    return np.asarray(v, dtype=np.float64).reshape(-1)


def _finite_pair(a, b, name: str):
    """The finite pairs of ``a`` and ``b`` as two arrays, or ``None`` when fewer than 3 remain or either is constant."""
    a, b = _as_array(a), _as_array(b)
    if a.shape != b.shape:
        raise ValueError(f"{name} needs two sequences of the same length, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return a, b


def spearman(a, b) -> float:
    """Spearman's rank correlation of two equally long sequences (NumPy arrays or tensors).

    Pairs where either value is not finite are dropped. Returns NaN when fewer than 3 pairs remain or
    either variable is constant (no ranking to correlate).
    """
    pair = _finite_pair(a, b, "spearman")
    return math.nan if pair is None else float(stats.spearmanr(*pair).statistic)


def pearson(a, b) -> float:
    """Pearson's linear correlation (same conventions as :func:`spearman`)."""
    pair = _finite_pair(a, b, "pearson")
    return math.nan if pair is None else float(stats.pearsonr(*pair).statistic)
