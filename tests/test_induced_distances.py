import math

import numpy as np
import pytest
import torch

from perceptual_compression.analysis.induced_distances import induced_distances, perturb, rmse


def test_identity_autoencoder():
    x1 = torch.randn(100, 2, dtype=torch.float64)
    x2 = perturb(x1, 1e-2, generator=torch.Generator().manual_seed(0))
    d = induced_distances(x1, x2, lambda v: v, lambda v: v)
    assert np.allclose(d.d_self, 0)
    np.testing.assert_allclose(np.linalg.norm((x1 - x2).numpy(), axis=1), 1e-2, rtol=1e-5)
    s = d.sensitivities()
    np.testing.assert_allclose(s["D_r/RMSE"], math.sqrt(2), rtol=1e-4)
    np.testing.assert_allclose(s["D_in/RMSE"], math.sqrt(2), rtol=1e-4)


def test_linear_encoder_scales_inner_distance_and_quantizer_variants():
    x1 = torch.randn(200, 3, 4, 4)
    x2 = x1 + 0.3
    enc = lambda v: 2.0 * v  # noqa: E731
    dec = lambda v: 0.5 * v  # noqa: E731
    d = induced_distances(x1, x2, enc, dec)
    np.testing.assert_allclose(d.sensitivities()["D_in/RMSE"], 2 * math.sqrt(48), rtol=1e-4)
    np.testing.assert_allclose(d.d_self, 0, atol=1e-5)
    dq = induced_distances(x1, x2, enc, dec, quantize=torch.round, rec_quantized=True, inner_quantized=True)
    expected_inner = (torch.round(2 * x1) - torch.round(2 * x2)).flatten(1).norm(dim=1).numpy()
    np.testing.assert_allclose(dq.d_inner, expected_inner, rtol=1e-6)
    expected_self = (x1 - 0.5 * torch.round(2 * x1)).flatten(1).norm(dim=1).numpy()
    np.testing.assert_allclose(dq.d_self, expected_self, rtol=1e-5)


def test_spearman_with_probability():
    # a "model" whose sensitivity grows with a known density: rho = 1
    x1 = torch.linspace(0.01, 3, 100, dtype=torch.float64)[:, None]
    x2 = x1 + 1e-4
    p = torch.exp(-x1[:, 0] ** 2)
    enc = lambda v: torch.erf(v)  # noqa: E731  derivative prop. to exp(-x^2)
    d = induced_distances(x1, x2, enc, lambda v: v)
    assert d.spearman_with(p.numpy())["D_in/RMSE"] == pytest.approx(1.0, abs=1e-6)


def test_rmse_and_perturb():
    x = torch.zeros(4, 2, 3, 3)
    y = x + 2.0
    torch.testing.assert_close(rmse(x, y), torch.full((4,), 2.0))
    with pytest.raises(ValueError):
        perturb(x, 0.0)
    with pytest.raises(ValueError):
        induced_distances(x, y[:2], lambda v: v, lambda v: v)
