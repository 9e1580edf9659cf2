"""The convex-program R(D, P) solver against the closed form, other divergences, and Theorem 1."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from perceptual_compression.theory.bernoulli_rdp import bernoulli_rdp, binary_entropy
from perceptual_compression.theory.rdp_solver import (
    DIVERGENCES, RDPInfeasibleError, RDPSolver, divergence_value, hamming_distortion, mutual_information_bits,
    squared_error_distortion)


@pytest.mark.parametrize("p,Ps", [
    (0.1, [0.0, 0.02, 0.05, 0.08, 0.1, 0.3, math.inf]),
    (0.3, [0.0, 0.1, 0.2, math.inf]),
    (0.5, [0.0, 0.25, math.inf]),
])
def test_solver_reproduces_the_closed_form(p, Ps):
    solver = RDPSolver([1 - p, p], hamming_distortion(2), "tv")
    Ds = np.linspace(0.0, 0.55, 12)
    worst = 0.0
    for P in Ps:
        for D in Ds:
            sol = solver.solve(D, P)
            worst = max(worst, abs(sol.rate_bits - bernoulli_rdp(D, P, p)))
            assert sol.distortion <= D + 1e-7
            assert sol.perception <= P + 1e-7
            assert np.allclose(sol.channel.sum(1), 1.0)
    assert worst <= 1e-6


def _tv_equivalent(div, p, P):
    """TV level whose active side (p_X̂(1) < p) matches d(Bern(p), Bern(q1)) = P."""
    f = lambda q1: divergence_value(div, np.array([1 - p, p]), np.array([1 - q1, q1])) - P
    if f(1e-12) <= 0:
        return p
    return p - brentq(f, 1e-12, p)


@pytest.mark.parametrize("div", ["kl", "hellinger", "reverse_kl", "chi2"])
def test_other_divergences_match_the_closed_form_via_the_equivalent_tv_level(div):
    """For a binary source every divergence constrains p_X̂(1) to an interval; the active end (below p)
    equals a TV level, so R_d(D, P) = R_TV(D, P_TV(P)) from eq. (6)."""
    p = 0.1
    solver = RDPSolver([1 - p, p], hamming_distortion(2), div)
    for P in (0.005, 0.02):
        Ptv = _tv_equivalent(div, p, P)
        for D in (0.03, 0.06, 0.1, 0.14):
            assert solver.rate(D, P) == pytest.approx(bernoulli_rdp(D, Ptv, p), abs=1e-6)


def test_perfect_perception_is_the_same_for_every_divergence():
    p_x = np.array([0.5, 0.3, 0.2])
    dist = squared_error_distortion(np.array([0.0, 1.0, 2.0]))
    rates = [RDPSolver(p_x, dist, d).rate(0.3, 0.0) for d in DIVERGENCES]
    assert np.ptp(rates) < 1e-6
    assert rates[0] > RDPSolver(p_x, dist, "tv").rate(0.3) + 1e-3  # and it is above Shannon's


def test_theorem1_numerically():
    """Non-increasing in D and P, jointly convex (midpoints), and R(., 0) != R(., inf) (A2 holds)."""
    p_x = np.array([0.5, 0.3, 0.2])
    dist = squared_error_distortion(np.array([0.0, 1.0, 3.0]))
    solver = RDPSolver(p_x, dist, "kl")
    Ds = np.array([0.05, 0.2, 0.4, 0.7])
    Ps = np.array([0.0, 0.02, 0.08, math.inf])
    R = solver.rates(Ds[None, :], Ps[:, None])
    assert np.all(np.diff(R, axis=1) <= 1e-7)
    assert np.all(np.diff(R, axis=0) <= 1e-7)
    rng = np.random.default_rng(0)
    for _ in range(6):
        (Da, Db), (Pa, Pb) = rng.uniform(0.02, 0.8, 2), rng.uniform(0.0, 0.1, 2)
        mid = solver.rate((Da + Db) / 2, (Pa + Pb) / 2)
        assert mid <= (solver.rate(Da, Pa) + solver.rate(Db, Pb)) / 2 + 1e-6
    assert np.max(R[0] - R[-1]) > 5e-3  # perfect perception costs rate (property 3)


def test_lossless_point_and_infeasible_distortion():
    p_x = np.array([0.6, 0.3, 0.1])
    solver = RDPSolver(p_x, hamming_distortion(3), "tv")
    H = -(p_x * np.log2(p_x)).sum()
    for P in (0.0, 0.1, math.inf):
        assert solver.rate(0.0, P) == pytest.approx(H, abs=1e-7)
    shifted = RDPSolver(p_x, hamming_distortion(3) + 0.1, "tv")
    with pytest.raises(RDPInfeasibleError):
        shifted.solve(0.05)


def test_different_reconstruction_alphabet_needs_a_reference():
    p_x = np.array([0.5, 0.5])
    dist = np.array([[0.0, 1.0, 0.2], [1.0, 0.0, 0.2]])  # x̂ = 2 is a cheap "erasure"
    with pytest.raises(ValueError, match="reference"):
        RDPSolver(p_x, dist, "tv")
    s = RDPSolver(p_x, dist, "tv", reference=[0.5, 0.5, 0.0])
    # with P = inf the erasure helps; with P = 0 it is forbidden and we are back to the binary problem
    assert s.rate(0.1) < 1 - binary_entropy(0.1) - 1e-3
    assert s.rate(0.1, 0.0) == pytest.approx(1 - binary_entropy(0.1), abs=1e-6)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="valid values"):
        RDPSolver([0.5, 0.5], hamming_distortion(2), "wasserstein")
    with pytest.raises(ValueError):
        RDPSolver([0.5, 0.6], hamming_distortion(2))
    with pytest.raises(ValueError):
        RDPSolver([0.5, 0.5], -hamming_distortion(2))


def test_mutual_information_bits():
    assert mutual_information_bits(np.diag([0.5, 0.5])) == pytest.approx(1.0)
    assert mutual_information_bits(np.full((2, 2), 0.25)) == pytest.approx(0.0, abs=1e-15)
