import math

import numpy as np
import pytest
import torch
from scipy import stats

from perceptual_compression.sources.student_t import StudentT2D


def test_log_prob_matches_scipy_multivariate_t():
    src = StudentT2D()
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(size=(200, 2)) * 3, [[0.0, 0.0], [35.0, 0.0], [-1e3, 2.0]]])
    ref = stats.multivariate_t(loc=[0, 0], shape=np.diag([0.25, 0.04]), df=2).logpdf(pts)
    ours = src.log_prob(torch.from_numpy(pts)).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


def test_log_prob_other_parameters_match_scipy():
    src = StudentT2D(nu=5.0, scale=(1.5, 0.3), loc=(0.2, -1.0))
    pts = np.random.default_rng(1).normal(size=(50, 2))
    ref = stats.multivariate_t(loc=[0.2, -1.0], shape=np.diag([1.5**2, 0.3**2]), df=5).logpdf(pts)
    np.testing.assert_allclose(src.log_prob(torch.from_numpy(pts)).numpy(), ref, rtol=1e-10)


def test_density_at_mode_closed_form():
    # nu = 2, d = 2: p(0) = Gamma(2) / (Gamma(1) * 2 pi * 0.5 * 0.2) = 1 / (0.2 pi)
    p0 = StudentT2D().prob(torch.zeros(1, 2, dtype=torch.float64)).item()
    assert p0 == pytest.approx(1 / (0.2 * math.pi), rel=1e-12)


def test_density_integrates_to_one_on_a_grid():
    src = StudentT2D()
    # substitute x = 0.5 tan(u), y = 0.2 tan(v) to integrate over the whole plane
    u = torch.linspace(-math.pi / 2, math.pi / 2, 2001, dtype=torch.float64)[1:-1]
    uu, vv = torch.meshgrid(u, u, indexing="ij")
    x = torch.stack([0.5 * torch.tan(uu), 0.2 * torch.tan(vv)], -1)
    jac = 0.5 / torch.cos(uu) ** 2 * 0.2 / torch.cos(vv) ** 2
    du = (u[1] - u[0]).item()
    total = (src.prob(x) * jac).sum().item() * du * du
    assert total == pytest.approx(1.0, abs=2e-3)


def test_samples_follow_the_distribution():
    src = StudentT2D()
    x = src.sample(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    # marginals of a bivariate t are univariate t with the same nu and scale
    for i, s in enumerate((0.5, 0.2)):
        ks = stats.kstest(x[:, i], stats.t(df=2, scale=s).cdf)
        assert ks.pvalue > 1e-3, (i, ks)
    # the radial statistic (x/s)^T (x/s) / 2 is F(2, 2) distributed
    q = ((x / np.array([0.5, 0.2])) ** 2).sum(1) / 2
    assert stats.kstest(q, stats.f(2, 2).cdf).pvalue > 1e-3


def test_sampling_is_seeded():
    a = StudentT2D().sample(10, generator=torch.Generator().manual_seed(3))
    b = StudentT2D().sample(10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_invalid_parameters_raise():
    with pytest.raises(ValueError):
        StudentT2D(nu=0)
    with pytest.raises(ValueError):
        StudentT2D(scale=(0.5, -1))


def test_line_along_x():
    line = StudentT2D().line_along_x(11, 35.0)
    assert line.shape == (11, 2)
    assert line[0, 0] == 0 and line[-1, 0] == 35 and (line[:, 1] == 0).all()
    # density decreases monotonically along the line
    assert (StudentT2D().log_prob(line).diff() < 0).all()
