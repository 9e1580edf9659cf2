"""NLPD: identities, symmetry, monotonicity, agreement with plenoptic, gradients, sizes."""

from __future__ import annotations

import warnings

import pytest
import torch

from perceptual_compression.metrics import nlpd
from perceptual_compression.metrics.nlpd import nlpd_levels, rgb_to_luma

from _metrics_helpers import add_noise, one_thread, photo_crops  # noqa: F401  (one_thread: autouse fixture)


def _photo(size=64, b=1):
    return photo_crops(size, b)


_noise = add_noise


@pytest.mark.parametrize("channels", ["joint", "mean", "luma"])
@pytest.mark.parametrize("pooling", ["minkowski", "mean"])
def test_identity_is_exactly_zero(channels, pooling):
    x = _photo(b=2)
    out = nlpd(x, x, channels=channels, level_pooling=pooling)
    assert out.shape == (2,)
    assert torch.equal(out, torch.zeros(2))


def test_symmetric_and_positive():
    x, y = _photo(), _noise(_photo(), 0.05)
    d_xy, d_yx = nlpd(x, y), nlpd(y, x)
    assert d_xy.item() > 0
    assert torch.allclose(d_xy, d_yx, rtol=1e-5)


def test_monotone_in_noise_level():
    x = _photo()
    values = [nlpd(x, _noise(x, s)).item() for s in (0.0, 0.01, 0.03, 0.1)]
    assert values[0] == 0.0
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_grey_mean_pooling_equals_plenoptic():
    import plenoptic

    x = rgb_to_luma(_photo(b=2))
    y = _noise(x, 0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = plenoptic.metric.nlpd(x, y)[:, 0]  # plenoptic adds sqrt(1e-10) = 1e-5 to every level
    ours = nlpd(x, y, channels="mean", level_pooling="mean")
    assert torch.allclose(ours, ref - 1e-5, atol=2e-6)


def test_rgb_channel_conventions():
    import plenoptic

    x = _photo()
    y = _noise(x, 0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_channel = plenoptic.metric.nlpd(x, y)  # (B, 3): plenoptic treats channels like batch elements
    assert torch.allclose(nlpd(x, y, channels="mean", level_pooling="mean"), per_channel.mean(1) - 1e-5, atol=2e-6)
    # joint: per-level RMS over channels and pixels, then Minkowski-0.6 over the six levels
    r = nlpd_levels(x, y)
    assert r.shape == (1, 6)
    assert torch.allclose(nlpd(x, y), r.pow(0.6).sum(1).pow(1 / 0.6), rtol=1e-4)
    assert torch.allclose(nlpd(x, y, level_pooling="mean"), r.mean(1), rtol=1e-4)
    # luma: the same model on the BT.601 luma
    assert torch.allclose(nlpd(x, y, channels="luma"), nlpd(rgb_to_luma(x), rgb_to_luma(y)), rtol=1e-6)
    assert nlpd_levels(x, y, channels="mean").shape == (1, 6, 3)


def test_batch_values_equal_single_image_values():
    x = _photo(b=3)
    y = _noise(x, 0.03)
    batch = nlpd(x, y)
    singles = torch.cat([nlpd(x[i], y[i]) for i in range(3)])
    assert torch.allclose(batch, singles, rtol=1e-5)
    assert len(set(batch.tolist())) == 3


def test_gradient_finite_at_identity_and_away():
    x = _photo()
    y = x.clone().requires_grad_(True)
    nlpd(x, y).sum().backward()
    assert torch.isfinite(y.grad).all() and y.grad.abs().max() == 0
    z = _noise(x, 0.05).requires_grad_(True)
    nlpd(x, z).sum().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_size_and_argument_errors():
    small = torch.rand(1, 3, 32, 40)
    with pytest.raises(ValueError, match="at least 33x33"):
        nlpd(small, small)
    ok = torch.rand(1, 3, 33, 33)
    assert nlpd(ok, ok).item() == 0.0
    with pytest.raises(ValueError, match="channels must be one of"):
        nlpd(ok, ok, channels="rgb")
    with pytest.raises(ValueError, match="level_pooling must be one of"):
        nlpd(ok, ok, level_pooling="max")
