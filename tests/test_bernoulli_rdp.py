"""Closed-form R(D, P) of a Bernoulli source (Blau & Michaeli 2019, eq. 5, 6 / supplement eq. 39–51)."""

import numpy as np
import pytest

from perceptual_compression.theory.bernoulli_rdp import (
    bernoulli_rdp, binary_entropy, channel_rate, d1, d2, optimal_channel, shannon_rd, ternary_entropy)

HB01 = 0.4689955935892812  # H_b(0.1) in bits


def test_entropies():
    assert binary_entropy(0.1) == pytest.approx(HB01, abs=1e-15)
    assert binary_entropy(0.5) == pytest.approx(1.0)
    assert binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    assert ternary_entropy(1 / 3, 1 / 3) == pytest.approx(np.log2(3))
    assert ternary_entropy(0.0, 0.1) == pytest.approx(HB01)
    with pytest.raises(ValueError):
        binary_entropy(1.5)


def test_thresholds():
    p = 0.1
    assert d1(p, 0.0) == 0.0
    assert d1(p, 0.05) == pytest.approx(0.05 / (1 - 2 * (0.1 - 0.05)))
    assert d2(p, 0.0) == pytest.approx(2 * 0.1 * 0.9)
    assert d2(p, 0.05) == pytest.approx(0.18 - 0.8 * 0.05)
    # J3: the two thresholds meet at P = p, where the perception constraint stops mattering
    assert d1(p, p) == pytest.approx(p) and d2(p, p) == pytest.approx(p)
    assert float(d2(p, p - 1e-9)) == pytest.approx(p, abs=1e-8)
    assert float(d1(p, p - 1e-9)) == pytest.approx(p, abs=1e-8)


@pytest.mark.parametrize("p", [0.1, 0.25, 0.4, 0.5])
def test_boundary_cases(p):
    Ps = np.array([0.0, 0.3 * p, 0.7 * p, p, 2 * p, np.inf])
    # D = 0: lossless, every curve gives H_b(p)
    assert np.allclose(bernoulli_rdp(0.0, Ps, p), binary_entropy(p), atol=1e-12)
    # P >= p: Shannon's function, eq. (5)
    Ds = np.linspace(0, 0.6, 61)
    for P in (p, 1.5 * p, 1.0, np.inf):
        assert np.allclose(bernoulli_rdp(Ds, P, p), shannon_rd(Ds, p), atol=1e-12)
    # D >= D2: zero rate
    for P in (0.0, 0.3 * p, 0.7 * p):
        D2 = float(d2(min(p, 0.5), P))
        assert np.all(bernoulli_rdp(np.linspace(D2, 1.0, 20), P, p) == 0.0)
        assert bernoulli_rdp(D2 * (1 - 1e-3), P, p) > 0


def test_shannon_values():
    assert shannon_rd(0.05, 0.1) == pytest.approx(HB01 - binary_entropy(0.05))
    assert shannon_rd(0.1, 0.1) == 0.0
    assert shannon_rd(0.2, 0.1) == 0.0


def test_branches_are_continuous():
    p = 0.1
    for P in (0.0, 0.02, 0.05, 0.09):
        for D in (float(d1(p, P)), float(d2(p, P))):
            if D == 0:
                continue
            lo, hi = bernoulli_rdp(D - 1e-9, P, p), bernoulli_rdp(D + 1e-9, P, p)
            assert abs(lo - hi) < 1e-6


def test_eq48_is_the_mutual_information_of_the_optimal_channel():
    """Eq. (48) equals I(X; X̂) of eq. (36) for a, b of eqs. (45)-(46), which meet D and P with equality."""
    p = 0.1
    for P in (0.0, 0.03, 0.07):
        for D in np.linspace(float(d1(p, P)) + 1e-4, float(d2(p, P)) - 1e-4, 9):
            a, b = optimal_channel(D, P, p)
            assert 0 <= a <= 1 and 0 <= b <= 1
            assert (1 - a) * (1 - p) + b * p == pytest.approx(D)        # eq. 37, distortion active
            assert abs((1 - a) * (1 - p) - b * p) == pytest.approx(P)   # eq. 38, perception active
            assert channel_rate(a, b, p) == pytest.approx(bernoulli_rdp(D, P, p), abs=1e-12)


def test_symmetry_in_p():
    Ds, Ps = np.meshgrid(np.linspace(0, 0.5, 11), np.linspace(0, 0.3, 7))
    assert np.allclose(bernoulli_rdp(Ds, Ps, 0.3), bernoulli_rdp(Ds, Ps, 0.7))


def test_theorem1_on_the_closed_form():
    p = 0.1
    Ds = np.linspace(0, 0.25, 201)
    Ps = np.linspace(0, 0.12, 121)
    R = bernoulli_rdp(Ds[None, :], Ps[:, None], p)
    assert np.all(np.diff(R, axis=1) <= 1e-12)   # non-increasing in D
    assert np.all(np.diff(R, axis=0) <= 1e-12)   # non-increasing in P
    # convex along D, along P and along the diagonal (second differences >= 0)
    assert np.all(np.diff(R, 2, axis=1) >= -1e-10)
    assert np.all(np.diff(R, 2, axis=0) >= -1e-10)
    diag = bernoulli_rdp(np.linspace(0, 0.2, 101), np.linspace(0, 0.1, 101), p)
    assert np.all(np.diff(diag, 2) >= -1e-10)
    # property 3: R(., 0) != R(., inf)
    assert np.max(bernoulli_rdp(Ds, 0.0, p) - bernoulli_rdp(Ds, np.inf, p)) > 0.05


def test_invalid_inputs():
    with pytest.raises(ValueError):
        bernoulli_rdp(-0.1, 0.0, 0.1)
    with pytest.raises(ValueError):
        bernoulli_rdp(0.1, 0.0, 1.2)
