"""Rate-normalised relative performance (Hepburn et al., ICLR 2022, appendix C eqs. 12-13; Sec. 5.1, Fig. 4).

The performance of a network on a set of points is its distortion per bit, ``P = D / R`` (eq. 12), a
normalisation that lets networks compressing to different rates be compared. The relative performance of
a network trained with the probability in its loss (``R + p(x)^0.1 lambda D``, or a perceptual distance)
against one trained with the plain loss is the ratio ``P_weighted / P_plain`` (eq. 13 as used in Sec. 5.1:
below 1 the weighted network does better). It is evaluated along a line from high to low probability:
``(x, 0), x in [0, 35]`` for the 2D Student-t, the contrast axis ``alpha in [0, 2]`` for images (eq. 14).
Appendix C smooths the curves with a degree-20 polynomial fit (Fig. 14a; raw values in Fig. 14b).
"""

from __future__ import annotations

import numpy as np


def performance(distortion, rate, *, eps: float = 1e-12) -> np.ndarray:
    """``P = D / R`` per point (eq. 12). ``rate`` in bits; rates below ``eps`` are clipped to ``eps``."""
    d = np.asarray(distortion, dtype=np.float64)
    r = np.asarray(rate, dtype=np.float64)
    return d / np.maximum(r, eps)


def relative_performance(d_weighted, r_weighted, d_plain, r_plain) -> np.ndarray:
    """``P_weighted / P_plain`` per point (eq. 13); below 1: the weighted network is better there."""
    return performance(d_weighted, r_weighted) / performance(d_plain, r_plain)


def polynomial_smooth(t, values, degree: int = 20) -> np.ndarray:
    """Least-squares polynomial fit of ``values`` over ``t`` evaluated at ``t`` (Fig. 14a uses degree 20).

    Uses :class:`numpy.polynomial.Polynomial` (the abscissa is mapped to ``[-1, 1]``, so high degrees stay
    well conditioned). Non-finite values are ignored in the fit.
    """
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(v)
    deg = int(min(degree, max(0, keep.sum() - 1)))
    fit = np.polynomial.Polynomial.fit(t[keep], v[keep], deg)
    return fit(t)
