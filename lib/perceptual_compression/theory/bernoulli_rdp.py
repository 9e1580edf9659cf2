"""The rate–distortion–perception function of a Bernoulli source (Blau & Michaeli, ICML 2019, Sec. 3.1).

Source :math:`X\\sim\\mathrm{Bern}(p)`, binary reconstructions, Hamming distortion and total-variation
perception index :math:`d_{TV}(p_X, p_{\\hat X})`. Rates are in **bits**.

* Shannon's rate–distortion function, eq. (5) / supplement eq. (39)::

      R(D, inf) = H_b(p) - H_b(D)   for D < p,   0 otherwise.

* For ``P < p`` the perception constraint becomes active once ``D > D1`` (eq. 6 / supplement eq. 51)::

      R(D, P) = H_b(p) - H_b(D)                                          D <= D1
              = 2 H_b(p) + H_b(p - P) - H_t((D-P)/2, p) - H_t((D+P)/2, q) D1 < D <= D2
              = 0                                                        D > D2

  with ``q = 1 - p``, ``D1 = P / (1 - 2(p - P))`` (eq. 44) and ``D2 = 2pq - (q - p) P`` (eq. 49).
  For ``P >= p`` the function equals Shannon's (justification J3 of the supplement).

The paper assumes ``p <= 1/2`` without loss of generality; here ``p > 1/2`` is handled by the symmetry
``0 <-> 1`` (Hamming distortion and total variation are invariant to relabelling), so any ``p`` in
``[0, 1]`` is accepted.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "binary_entropy",
    "ternary_entropy",
    "d1",
    "d2",
    "shannon_rd",
    "bernoulli_rdp",
    "optimal_channel",
    "channel_rate",
]


def _xlog2x(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x > 0, x * np.log2(np.where(x > 0, x, 1.0)), 0.0)
    return out


def binary_entropy(x) -> np.ndarray:
    """:math:`H_b(x) = -x\\log_2 x - (1-x)\\log_2(1-x)` in bits (``0 log 0 = 0``)."""
    x = np.asarray(x, dtype=float)
    if np.any((x < -1e-12) | (x > 1 + 1e-12)):
        raise ValueError("binary_entropy needs probabilities in [0, 1]")
    x = np.clip(x, 0.0, 1.0)
    return -_xlog2x(x) - _xlog2x(1.0 - x)


def ternary_entropy(a, b) -> np.ndarray:
    """Entropy in bits of a ternary variable with probabilities ``a, b, 1 - a - b`` (the paper's :math:`H_t`)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    c = 1.0 - a - b
    if np.any((a < -1e-12) | (b < -1e-12) | (c < -1e-12)):
        raise ValueError("ternary_entropy needs a, b >= 0 and a + b <= 1")
    return -_xlog2x(np.clip(a, 0, 1)) - _xlog2x(np.clip(b, 0, 1)) - _xlog2x(np.clip(c, 0, 1))


def _check_p(p: float) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p={p!r} is not a probability; it must be in [0, 1]")
    return p


def _check_nonneg(name: str, v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    if np.any(np.isnan(v)) or np.any(v < 0):
        raise ValueError(f"{name} must be >= 0 (got {v!r})")
    return v


def d1(p: float, P):
    """:math:`D_1 = P/(1 - 2(p - P))` (supplement eq. 44), for ``p <= 1/2``: where the perception constraint activates.

    Equal to ``p`` at ``P = p``; for ``P >= p`` the constraint never activates and ``D1`` is returned as ``p``.
    """
    p = _check_p(p)
    if p > 0.5:
        raise ValueError("d1 is stated for p <= 1/2 (use 1 - p: the problem is symmetric)")
    P = _check_nonneg("P", P)
    den = 1.0 - 2.0 * (p - P)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, P / np.where(den > 0, den, 1.0), 0.0)
    return np.where(P >= p, p, out)


def d2(p: float, P):
    """:math:`D_2 = 2pq - (q - p)P` (supplement eq. 49), for ``p <= 1/2``: where ``R(D, P)`` reaches zero.

    For ``P >= p`` this returns ``p`` (Shannon's curve reaches zero at ``D = p``).
    """
    p = _check_p(p)
    if p > 0.5:
        raise ValueError("d2 is stated for p <= 1/2 (use 1 - p: the problem is symmetric)")
    P = _check_nonneg("P", P)
    q = 1.0 - p
    return np.where(P >= p, p, 2 * p * q - (q - p) * P)


def shannon_rd(D, p: float) -> np.ndarray:
    """Shannon's rate–distortion function of ``Bern(p)`` under Hamming distortion, eq. (5), in bits."""
    p = _check_p(p)
    p = min(p, 1.0 - p)
    D = _check_nonneg("D", D)
    return np.where(D < p, binary_entropy(p) - binary_entropy(np.minimum(D, p)), 0.0)


def bernoulli_rdp(D, P, p: float = 0.1) -> np.ndarray:
    """:math:`R(D, P)` of ``Bern(p)`` (Hamming distortion, TV perception), eq. (6) / supplement eq. (51), in bits.

    ``D`` and ``P`` broadcast against each other; ``P = np.inf`` gives Shannon's eq. (5).
    """
    p = _check_p(p)
    p = min(p, 1.0 - p)  # relabelling symmetry
    D, P = np.broadcast_arrays(_check_nonneg("D", D), _check_nonneg("P", P))
    q = 1.0 - p
    shannon = shannon_rd(D, p)
    Pf = np.where(np.isfinite(P), P, 1.0)
    D1 = d1(p, np.minimum(Pf, p))
    D2 = d2(p, np.minimum(Pf, p))
    active = (P < p) & (D > D1) & (D < D2)
    # middle branch, evaluated only where it applies (arguments are valid probabilities there)
    Dm = np.where(active, D, 0.0)
    Pm = np.where(active, Pf, 0.0)
    alpha = np.clip((Dm - Pm) / 2, 0.0, None)
    beta = np.clip((Dm + Pm) / 2, 0.0, None)
    middle = (2 * binary_entropy(p) + binary_entropy(np.clip(p - Pm, 0, 1))
              - ternary_entropy(alpha, np.full_like(alpha, p))
              - ternary_entropy(np.minimum(beta, 1 - q), np.full_like(beta, q)))
    out = np.where(P >= p, shannon, np.where(D <= D1, shannon, np.where(active, middle, 0.0)))
    out = np.maximum(out, 0.0)
    return out if out.ndim else float(out)


def optimal_channel(D: float, P: float, p: float = 0.1) -> tuple[float, float]:
    """The minimising channel ``(a, b) = (P(X̂=0|X=0), P(X̂=0|X=1))`` of supplement eqs. (40), (45), (46), (50).

    Stated for ``p <= 1/2``. Beyond ``D2`` (or ``p`` for Shannon's problem) any independent channel with the
    right marginal is optimal; the one returned is the paper's ``a = b`` (eq. 50), or ``a = b = 1`` for eq. (40).
    """
    p = _check_p(p)
    if p > 0.5:
        raise ValueError("optimal_channel is stated for p <= 1/2")
    D, P = float(D), float(P)
    if D < 0 or P < 0:
        raise ValueError("D and P must be >= 0")
    q = 1.0 - p
    if P >= p or D <= float(d1(p, P)):
        if D >= p:
            return 1.0, 1.0
        a = (1 - D) * (1 - p - D) / ((1 - p) * (1 - 2 * D))
        b = D * (1 - p - D) / (p * (1 - 2 * D))
        return a, b
    if D >= float(d2(p, P)):
        return q + P, q + P
    return 1 - (D - P) / (2 * q), (D + P) / (2 * p)


def channel_rate(a: float, b: float, p: float) -> float:
    """Mutual information :math:`I(X;\\hat X)` in bits of the binary channel ``(a, b)`` (supplement eq. 36)."""
    joint = np.array([[(1 - p) * a, (1 - p) * (1 - a)], [p * b, p * (1 - b)]])
    px = joint.sum(1, keepdims=True)
    pxh = joint.sum(0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log2(joint / (px * pxh)), 0.0)
    return float(max(terms.sum(), 0.0))
