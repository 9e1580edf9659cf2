"""compressors.feature_compressor: rate per image (estimated and coded), round trip, probe on reconstructions."""

from __future__ import annotations

import pytest
import torch

from perceptual_compression.compressors.feature_compressor import feature_rate, fit_feature_compressor
from perceptual_compression.evaluation.downstream import probe_error


pytestmark = pytest.mark.usefixtures("one_thread_per_test")  # see conftest.py


def _features(n, gen):
    y = torch.randint(0, 4, (n,), generator=gen)
    centers = torch.randn(4, 8, generator=torch.Generator().manual_seed(0)) * 3
    return centers[y] + 0.3 * torch.randn(n, 8, generator=gen), y


def test_feature_compressor_rates_and_round_trip():
    gen = torch.Generator().manual_seed(1)
    f_tr, y_tr = _features(2000, gen)
    f_te, y_te = _features(2000, gen)
    coarse = fit_feature_compressor(f_tr, beta=0.5, steps=150, batch_size=128, lr=2e-2, progress=False)
    fine = fit_feature_compressor(f_tr, beta=20.0, steps=150, batch_size=128, lr=2e-2, progress=False)
    r_coarse, r_fine = feature_rate(coarse, f_te), feature_rate(fine, f_te)
    assert r_coarse.estimated_bits < r_fine.estimated_bits < 32 * 8       # beta trades bits for fidelity
    for r in (r_coarse, r_fine):
        # one bitstream for the batch: coded = estimate + header (15 bytes) + rANS flush (<= 64 bits) + < 2%
        total = r.estimated_bits * r.num_images
        excess = r.coded_bits * r.num_images - total
        assert -0.02 * total <= excess <= 8 * 15 + 64 + 0.02 * total, r
    assert abs(r_fine.overhead) < 0.02, r_fine                               # large payload: within 2%
    f_hat, _ = fine.reconstruct(f_te)
    torch.testing.assert_close(fine.decompress(fine.compress(f_te)), f_hat)
    assert (f_hat - f_te).abs().mean() < (coarse.reconstruct(f_te)[0] - f_te).abs().mean()
    errors = {}
    for name, model in (("coarse", coarse), ("fine", fine)):
        g_tr, _ = model.reconstruct(f_tr)
        errors[name] = probe_error(g_tr, y_tr, model.reconstruct(f_te)[0], y_te, kind="linear", steps=50)["error"]
    assert errors["fine"] < 0.02                    # ~34 bits keep the 4 classes linearly separable
    assert errors["coarse"] >= errors["fine"]       # ~4 bits merge some of them
