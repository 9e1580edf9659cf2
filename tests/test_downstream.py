"""evaluation.downstream: AURD on known curves, probes on separable toy problems, Bayes-risk counting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from perceptual_compression.evaluation.downstream import (
    aurd,
    bayes_risk_check,
    cell_mean_regression,
    gaussian_distortion_bits,
    lower_envelope,
    probe_error,
    rate_at_error,
)


pytestmark = pytest.mark.usefixtures("one_thread_per_test")  # see conftest.py



def test_aurd_known_curves():
    d = np.array([2.0, 0.0, 1.0])                       # unsorted on purpose
    assert aurd(d, 2.0 - d) == pytest.approx(2.0)       # triangle
    g = np.linspace(0.0, 2.0, 2001)
    assert aurd(g, g**2) == pytest.approx(8.0 / 3.0, abs=1e-5)
    # a common interval: [0.5, 1.5] under r = 2 - d is 1.0; constant extrapolation outside the points
    assert aurd(d, 2.0 - d, d_min=0.5, d_max=1.5) == pytest.approx(1.0)
    assert aurd([0.0, 1.0], [1.0, 1.0], d_min=-1.0, d_max=2.0) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        aurd([1.0], [1.0])


def test_gaussian_distortion_bits():
    assert float(gaussian_distortion_bits(1.0 / (2 * math.pi * math.e))) == pytest.approx(0.0, abs=1e-12)
    assert float(gaussian_distortion_bits(4.0) - gaussian_distortion_bits(1.0)) == pytest.approx(1.0)


def test_cell_mean_regression():
    z = torch.tensor([[0.0], [0.0], [1.0], [1.0], [5.0]])
    m = torch.tensor([1.0, 3.0, 10.0, 20.0, 7.0])
    torch.testing.assert_close(cell_mean_regression(z, m, z), torch.tensor([2.0, 2.0, 15.0, 15.0, 7.0]))
    # an unseen test code takes its nearest training cell
    torch.testing.assert_close(cell_mean_regression(z, m, torch.tensor([[4.0], [0.4]])), torch.tensor([7.0, 2.0]))


def test_bayes_risk_check():
    z_tr = torch.tensor([[0.0], [0.0], [1.0], [2.0]])
    y_tr = torch.tensor([0, 0, 1, 2])
    z_te = torch.tensor([[0.0], [1.0], [3.0]])
    y_te = torch.tensor([1, 1, 0])
    r = bayes_risk_check(z_tr, y_tr, z_te, y_te)
    assert (r.num_images, r.num_codes, r.num_conflicting_images) == (7, 4, 3)   # the three images with code 0
    assert r.empirical_bayes_error == pytest.approx(1 / 7)                      # one of them must be wrong
    assert not r.lossless
    ok = bayes_risk_check(z_tr[2:], y_tr[2:], z_te[1:2], y_te[1:2])
    assert ok.lossless and ok.empirical_bayes_error == 0.0


def _blobs(n, gen):
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.randn(n, 2, generator=gen) * 0.3 + torch.stack([y * 3.0, y * 0.0], 1)
    return x, y


def _xor(n, gen):
    x = torch.rand(n, 2, generator=gen) * 2 - 1
    return x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()


def test_linear_and_mlp_probes():
    gen = torch.Generator().manual_seed(0)
    xtr, ytr = _blobs(2000, gen)
    xte, yte = _blobs(1000, gen)
    assert probe_error(xtr, ytr, xte, yte, kind="linear", steps=100)["error"] < 0.01
    xtr, ytr = _xor(4000, gen)
    xte, yte = _xor(1000, gen)
    assert probe_error(xtr, ytr, xte, yte, kind="mlp", steps=800, lr=3e-3)["error"] < 0.06
    assert probe_error(xtr, ytr, xte, yte, kind="linear", steps=100)["error"] > 0.3  # not linearly separable
    with pytest.raises(ValueError, match="valid values"):
        probe_error(xtr, ytr, xte, yte, kind="svm")


def test_rate_at_error():
    errors = [0.5, 0.3, 0.1, 0.35, 0.2]
    rates = [1.0, 2.0, 4.0, 3.0, 5.0]
    fe, fr = lower_envelope(errors, rates)
    np.testing.assert_allclose(fe, [0.5, 0.3, 0.1])
    np.testing.assert_allclose(fr, [1.0, 2.0, 4.0])
    assert rate_at_error(errors, rates, 0.2) == pytest.approx(3.0)
    assert rate_at_error(errors, rates, 0.05) == math.inf
    assert rate_at_error(errors, rates, 0.9) == pytest.approx(1.0)
