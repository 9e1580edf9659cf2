import numpy as np
import pytest
import torch

from perceptual_compression.analysis.induced_distances import rmse
from perceptual_compression.analysis.perceptual_sensitivity import noisy_pair, observation1, sensitivity_ratio


def test_noise_has_the_requested_deviation():
    x = torch.full((4, 1, 64, 64), 0.5)
    x2 = noisy_pair(x, 10.0, generator=torch.Generator().manual_seed(0))
    assert ((x2 - x).std() * 255).item() == pytest.approx(10.0, rel=0.03)


def test_observation1_detects_a_density_weighted_distance():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(60, 1, 8, 8, generator=g)
    w = x.mean(dim=(1, 2, 3))  # pretend log p is an increasing function of the mean grey level
    log_p = torch.log(w).numpy()
    dists = {
        "weighted": lambda a, b: rmse(a, b) * a.mean(dim=(1, 2, 3)),  # sensitivity = w(x1): rho = 1
        "euclidean": lambda a, b: rmse(a, b) * (1 + 0 * a.mean(dim=(1, 2, 3))),
    }
    rows = observation1(x, log_p, [1.0, 5.0], dists, batch_size=16)
    assert len(rows) == 4
    for r in rows:
        if r["distance"] == "weighted":
            assert r["rho_sensitivity_logp"] == pytest.approx(1.0, abs=1e-9)
        else:
            assert r["rho_distance_rmse"] == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError):
        observation1(x, log_p[:5], [1.0], dists)


def test_sensitivity_ratio():
    np.testing.assert_allclose(sensitivity_ratio([2.0], [1.0], 4), [1.0])
