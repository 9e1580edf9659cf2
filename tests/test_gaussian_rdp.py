"""Gaussian R(D) and Theorem 2 (posterior sampling doubles the MSE at no extra rate, with p_X̃ = p_X)."""

import numpy as np
import pytest

from perceptual_compression.theory.gaussian_rdp import (
    discretized_gaussian, perfect_quality_rd, posterior_sampling_channel, shannon_distortion, shannon_rd,
    simulate_posterior_sampling, theorem2_bound)
from perceptual_compression.theory.rdp_solver import RDPSolver, mutual_information_bits, squared_error_distortion


def test_shannon_rd():
    assert shannon_rd(0.25, 1.0) == pytest.approx(1.0)
    assert shannon_rd(1.0, 4.0) == pytest.approx(1.0)
    assert shannon_rd(2.0, 1.0) == 0.0
    assert shannon_distortion(shannon_rd(0.3, 2.0), 2.0) == pytest.approx(0.3)


def test_perfect_quality_curve_lies_between_shannon_and_the_theorem2_bound():
    D = np.linspace(0.01, 1.99, 100)
    pq = perfect_quality_rd(D)
    assert np.all(pq >= shannon_rd(D) - 1e-12)
    assert np.all(pq <= theorem2_bound(D) + 1e-12)
    assert perfect_quality_rd(2.0) == 0.0 and perfect_quality_rd(3.0) == 0.0
    # strictly above Shannon where Shannon is positive (Theorem 1, property 3)
    assert np.all(pq[D < 1] > shannon_rd(D[D < 1]) + 1e-3)


@pytest.mark.parametrize("D", [0.1, 0.5])
def test_posterior_sampling_simulation(D):
    r = simulate_posterior_sampling(D, var=1.0, n=200_000, seed=1)
    assert r.mse_shannon == pytest.approx(D, rel=0.02)
    assert r.mse_ratio == pytest.approx(2.0, rel=0.02)          # eq. (28): twice the distortion
    assert r.var_posterior == pytest.approx(1.0, rel=0.02)      # eq. (27): p_X̃ = p_X
    assert r.var_reconstruction == pytest.approx(1.0 - D, rel=0.02)
    assert r.ks_posterior < 0.01 < r.ks_shannon
    assert r.rate_posterior <= r.rate_shannon                   # eq. (29): data processing
    assert r.rate_posterior == pytest.approx(perfect_quality_rd(2 * D), abs=1e-12)
    assert r.rate_posterior_est == pytest.approx(r.rate_posterior, abs=0.01)


def test_posterior_sampling_on_a_discretized_gaussian():
    pts, pmf = discretized_gaussian(17, width=3.5)
    dist = squared_error_distortion(pts)
    solver = RDPSolver(pmf, dist, "tv")
    D = 0.3
    sol = solver.solve(D)                                        # Shannon's codec on the grid
    ch = posterior_sampling_channel(pmf, sol.channel)
    joint = pmf[:, None] * ch
    assert np.allclose(joint.sum(0), pmf, atol=1e-12)            # perfect perceptual quality
    d_tilde = float((joint * dist).sum())
    assert d_tilde <= 2 * sol.distortion + 1e-6                  # eq. (28), <= on a grid
    assert d_tilde == pytest.approx(2 * D, rel=0.05)
    rate_tilde = mutual_information_bits(joint)
    assert rate_tilde <= sol.rate_bits + 1e-9                    # eq. (29)
    # eq. (30): R(D̃, 0) <= I(X; X̃) <= R(D, inf)
    assert solver.rate(d_tilde, 0.0) <= rate_tilde + 1e-6
    # Theorem 2 on the grid: R(2D, 0) <= R(D, inf)
    assert solver.rate(2 * D, 0.0) <= solver.rate(D) + 1e-6


def test_invalid():
    with pytest.raises(ValueError):
        shannon_rd(0.1, var=0.0)
    with pytest.raises(ValueError):
        simulate_posterior_sampling(1.5, var=1.0)
