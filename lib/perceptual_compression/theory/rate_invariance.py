"""The rate–invariance function (Dubois et al. 2021, Theorem 2, eq. 5) and the coin-flip example.

For tasks invariant under an equivalence ``~`` with maximal invariant ``M``, the minimal rate that keeps
the excess log-loss of every invariant task below ``delta`` (in bits) is

.. math::

    \\mathrm{Rate}(\\delta) = \\max\\{0,\\; H[M(X)] - \\delta\\}
                           = \\max\\{0,\\; H[X] - H[X \\mid M(X)] - \\delta\\}.

Coin flips (Sec. 3.3): ``n`` i.i.d. fair flips cost ``H[X^n] = n`` bits; under permutation invariance the
number of heads ``K ~ Binomial(n, 1/2)`` is a maximal invariant, so ``H[K] = O(log n)`` bits suffice.
:func:`binomial_entropy_bits` computes ``H[K]`` exactly (a direct sum over the pmf), and
:func:`binomial_entropy_asymptotic_bits` gives the normal approximation ``(1/2) log2(pi e n / 2)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from scipy.special import gammaln


def rate_invariance(delta: float | np.ndarray, h_max_invariant: float) -> np.ndarray:
    """Theorem 2: ``Rate(delta) = max(0, H[M(X)] - delta)`` (bits), for ``delta >= 0``."""
    delta = np.asarray(delta, dtype=float)
    if np.any(delta < 0):
        raise ValueError("delta (the allowed excess log-loss) must be >= 0")
    if h_max_invariant < 0:
        raise ValueError("H[M(X)] must be >= 0")
    return np.maximum(0.0, h_max_invariant - delta)


def rate_distortion_standard(delta: float | np.ndarray, h_x: float) -> np.ndarray:
    """The same curve without invariance (``M`` = identity): ``max(0, H[X] - delta)`` bits."""
    return rate_invariance(delta, h_x)


def binomial_pmf(n: int) -> np.ndarray:
    """``P(K = k)`` for ``K ~ Binomial(n, 1/2)``, ``k = 0..n``, computed in log space (float64)."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n={n!r} must be a non-negative integer")
    k = np.arange(n + 1, dtype=float)
    log_p = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1) - n * math.log(2.0)
    return np.exp(log_p)


def binomial_entropy_bits(n: int) -> float:
    """Exact ``H[Binomial(n, 1/2)]`` in bits: ``-sum_k p_k log2 p_k`` over all ``n + 1`` outcomes.

    The sum is evaluated term by term in float64 from log-probabilities (no asymptotics), so it is exact
    to floating-point precision for any ``n`` (a million terms take milliseconds).
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n={n!r} must be a non-negative integer")
    if n == 0:
        return 0.0
    k = np.arange(n + 1, dtype=float)
    log2_p = (gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)) / math.log(2.0) - n
    p = np.exp2(log2_p)
    return float(-(p * log2_p).sum())


def binomial_entropy_asymptotic_bits(n: int | np.ndarray) -> np.ndarray:
    """Normal approximation ``(1/2) log2(pi e n / 2)`` of ``H[Binomial(n, 1/2)]`` (error ``O(1/n)``)."""
    n = np.asarray(n, dtype=float)
    return 0.5 * np.log2(np.pi * np.e * n / 2.0)


def coin_flip_rates(ns: Iterable[int]) -> dict[str, np.ndarray]:
    """Bits to store ``n`` fair flips losslessly (``n``) vs. for permutation-invariant tasks (``H[K]``)."""
    ns = np.asarray(list(ns), dtype=int)
    return {
        "n": ns,
        "standard_bits": ns.astype(float),
        "invariant_bits": np.array([binomial_entropy_bits(int(n)) for n in ns]),
        "asymptotic_bits": binomial_entropy_asymptotic_bits(np.maximum(ns, 1)),
    }
