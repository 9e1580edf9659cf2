"""sources.banana: sampler statistics against the closed-form moments, the density, and rotation invariance."""

from __future__ import annotations

import math

import pytest
import torch

from perceptual_compression.sources.banana import (
    REPRESENTATIVE_ANGLE,
    Banana,
    maximal_invariant,
    random_rotation,
    representative,
    rotate,
)


def test_paper_parameters():
    b = Banana()
    assert (b.curvature, b.factor, b.location, b.angle, b.scale) == (0.05, 6.0, (-1.5, -2.0), -40.0, 0.5)


def test_closed_form_moments_follow_from_the_transform():
    # E[b2] = c (E[u1^2] - f^2) = 0 ; Var b2 = 1 + c^2 Var(u1^2) = 1 + 2 c^2 f^4 for u1 ~ N(0, f^2)
    b = Banana()
    cov = b.covariance()
    r = torch.tensor([[math.cos(math.radians(-40)), -math.sin(math.radians(-40))],
                      [math.sin(math.radians(-40)), math.cos(math.radians(-40))]], dtype=torch.float64)
    expected = 0.25 * r @ torch.diag(torch.tensor([36.0, 1 + 2 * 0.05**2 * 6**4], dtype=torch.float64)) @ r.T
    torch.testing.assert_close(cov, expected)
    torch.testing.assert_close(b.mean(), torch.tensor([-0.75, -1.0], dtype=torch.float64))


def test_sampler_moments_match_closed_form():
    b = Banana()
    n = 400_000
    x = b.sample(n, torch.Generator().manual_seed(0), dtype=torch.float64)
    mean, cov = x.mean(0), torch.cov(x.T)
    se_mean = torch.sqrt(torch.diag(b.covariance()) / n)
    assert torch.all((mean - b.mean()).abs() < 5 * se_mean)
    # fourth moments are large for the bent coordinate: allow 3% relative error on the covariance
    torch.testing.assert_close(cov, b.covariance(), rtol=0.03, atol=0.02)


def test_inverse_and_density():
    b = Banana()
    u = torch.randn(1000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * b.base_std().double()
    torch.testing.assert_close(b.inverse(b.transform(u)), u)
    # the density integrates to one over a box that holds the banana
    g = torch.linspace(-15, 15, 1201, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    dens = b.log_prob(torch.stack([xx, yy], -1)).exp()
    assert float(dens.sum() * (g[1] - g[0]) ** 2) == pytest.approx(1.0, abs=2e-3)
    # Monte Carlo entropy agrees with the closed form
    x = b.sample(200_000, torch.Generator().manual_seed(2), dtype=torch.float64)
    mc_bits = float(-b.log_prob(x).mean()) / math.log(2)
    assert mc_bits == pytest.approx(b.entropy_bits(), abs=0.01)


def test_norm_is_invariant_to_rotations():
    x = Banana().sample(5000, torch.Generator().manual_seed(3), dtype=torch.float64)
    xr = random_rotation(x, torch.Generator().manual_seed(4))
    torch.testing.assert_close(maximal_invariant(xr), maximal_invariant(x))
    assert (xr - x).norm(dim=1).mean() > 1.0  # the augmentation did move the points
    torch.testing.assert_close(rotate(rotate(x, 90.0), -90.0), x)
    torch.testing.assert_close(rotate(torch.tensor([[1.0, 0.0]], dtype=torch.float64), 90.0),
                               torch.tensor([[0.0, 1.0]], dtype=torch.float64), atol=1e-12, rtol=0)


def test_norm_is_maximal():
    # points with equal norms are rotations of each other: the norm separates exactly the orbits
    gen = torch.Generator().manual_seed(5)
    a = torch.randn(1000, 2, dtype=torch.float64, generator=gen)
    b = torch.randn(1000, 2, dtype=torch.float64, generator=gen)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)
    angle = torch.rad2deg(torch.atan2(b[:, 1], b[:, 0]) - torch.atan2(a[:, 1], a[:, 0]))
    torch.testing.assert_close(rotate(a, angle), b)


def test_representative():
    r = torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64)
    rep = representative(r)
    torch.testing.assert_close(maximal_invariant(rep), r)
    ang = torch.rad2deg(torch.atan2(rep[:, 1], rep[:, 0])) % 360
    torch.testing.assert_close(ang, torch.full_like(r, REPRESENTATIVE_ANGLE))
