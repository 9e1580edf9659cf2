"""theory.rate_invariance: the exact entropy of Binomial(n, 1/2) and the rate-invariance function."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from perceptual_compression.theory.rate_invariance import (
    binomial_entropy_asymptotic_bits,
    binomial_entropy_bits,
    binomial_pmf,
    coin_flip_rates,
    rate_invariance,
)


def _direct_entropy(n: int) -> float:
    """-sum p log2 p with exact rational probabilities C(n, k) / 2^n."""
    total = 0.0
    for k in range(n + 1):
        p = Fraction(math.comb(n, k), 2**n)
        total -= float(p) * (math.log2(math.comb(n, k)) - n)
    return total


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 61, 200])
def test_binomial_entropy_matches_direct_sum(n):
    assert binomial_entropy_bits(n) == pytest.approx(_direct_entropy(n), abs=1e-10)


def test_binomial_entropy_known_values():
    assert binomial_entropy_bits(0) == 0.0
    assert binomial_entropy_bits(1) == pytest.approx(1.0, abs=1e-12)       # one fair coin
    assert binomial_entropy_bits(2) == pytest.approx(1.5, abs=1e-12)       # 1/4, 1/2, 1/4
    h3 = 2 * (1 / 8) * 3 + 2 * (3 / 8) * math.log2(8 / 3)                  # 1/8, 3/8, 3/8, 1/8
    assert binomial_entropy_bits(3) == pytest.approx(h3, abs=1e-12)


def test_binomial_entropy_is_logarithmic():
    # error of the normal approximation is O(1/n); growth is (1/2) log2 n, far below n bits
    for n in (100, 1000, 100_000):
        assert abs(binomial_entropy_bits(n) - float(binomial_entropy_asymptotic_bits(n))) < 1.0 / n
    assert binomial_entropy_bits(1_000_000) < 12.0
    assert binomial_entropy_bits(4000) - binomial_entropy_bits(1000) == pytest.approx(1.0, abs=1e-3)


def test_pmf_sums_to_one_and_is_symmetric():
    p = binomial_pmf(50)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(p, p[::-1], rtol=1e-12)


def test_coin_flip_rates_table():
    r = coin_flip_rates([1, 10, 100])
    np.testing.assert_array_equal(r["standard_bits"], [1.0, 10.0, 100.0])
    assert np.all(r["invariant_bits"] <= r["standard_bits"] + 1e-12)
    assert r["invariant_bits"][0] == pytest.approx(1.0)


def test_rate_invariance_function():
    np.testing.assert_allclose(rate_invariance([0.0, 1.0, 3.3, 10.0], 3.3), [3.3, 2.3, 0.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError):
        rate_invariance(-0.1, 1.0)
    with pytest.raises(ValueError):
        binomial_entropy_bits(-1)
