"""MS-SSIM: identity, monotonicity, data-range convention, small-image handling."""

from __future__ import annotations

import pytest
import pytorch_msssim
import torch

from perceptual_compression.metrics import ms_ssim, ms_ssim_per_channel
from perceptual_compression.metrics.msssim import _ms_ssim_fewer_levels, max_ms_ssim_levels

from _metrics_helpers import add_noise, one_thread, photo_crops  # noqa: F401  (one_thread: autouse fixture)


def _photo(size=168, b=1):
    return photo_crops(size, 1, top=100, left=150).repeat(b, 1, 1, 1)


_noise = add_noise


def test_identity_is_one_per_image():
    x = _photo(b=2)
    out = ms_ssim(x, x)
    assert out.shape == (2,)
    assert torch.allclose(out, torch.ones(2), atol=1e-6)


def test_monotone_decrease_with_noise():
    x = _photo()
    values = [ms_ssim(x, _noise(x, s)).item() for s in (0.0, 0.02, 0.1, 0.3)]
    assert values[0] == pytest.approx(1.0, abs=1e-6)
    assert all(a > b for a, b in zip(values, values[1:])), values


def test_data_range_255_convention_is_the_same_number():
    x = _photo()
    y = _noise(x, 0.05)
    a = ms_ssim(x, y)
    b = ms_ssim(x * 255, y * 255, data_range=255.0)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_quantize_matches_metric_on_rounded_images():
    x = _photo()
    y = _noise(x, 0.05)
    rounded = ms_ssim(torch.floor(x * 255 + 0.5), torch.floor(y * 255 + 0.5), data_range=255.0)
    assert torch.allclose(ms_ssim(x, y, quantize=True), rounded, rtol=1e-5, atol=1e-6)


def _wang2003_ms_ssim(x, y):
    """MS-SSIM as Wang et al. (2003) define it, in NumPy, for one image (C, H, W) in [0, 1] whose sides halve
    evenly four times: 11-tap Gaussian window (sigma 1.5) over valid positions, K1 = 0.01, K2 = 0.03, 2x2 mean
    pooling, the contrast-structure term at scales 1-4 and the full SSIM at scale 5, the published exponents,
    averaged over channels."""
    import numpy as np

    w = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    w /= w.sum()

    def blur(a):
        a = np.apply_along_axis(np.convolve, 1, a, w, mode="valid")
        return np.apply_along_axis(np.convolve, 0, a, w, mode="valid")

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    exponents = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    per_channel = []
    for a, b in zip(x.double().numpy(), y.double().numpy()):
        value = 1.0
        for level, e in enumerate(exponents):
            mu_a, mu_b = blur(a), blur(b)
            var_a, var_b, cov = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2, blur(a * b) - mu_a * mu_b
            cs = (2 * cov + c2) / (var_a + var_b + c2)
            if level < len(exponents) - 1:
                value *= max(cs.mean(), 0.0) ** e
                a = a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2).mean(axis=(1, 3))
                b = b.reshape(b.shape[0] // 2, 2, b.shape[1] // 2, 2).mean(axis=(1, 3))
            else:
                lum = (2 * mu_a * mu_b + c1) / (mu_a ** 2 + mu_b ** 2 + c1)
                value *= max((lum * cs).mean(), 0.0) ** e
        per_channel.append(value)
    return float(np.mean(per_channel))


def test_matches_the_definition_pytorch_msssim_and_own_loop():
    x = _photo(size=176)  # 176 = 11 * 2^4: every scale halves evenly
    y = _noise(x, 0.05)
    want = _wang2003_ms_ssim(x[0], y[0])
    assert 0.5 < want < 0.99  # a noisy photograph: far from both ends
    assert ms_ssim(x, y).item() == pytest.approx(want, abs=2e-5)
    assert _ms_ssim_fewer_levels(x, y, 1.0, 5).item() == pytest.approx(want, abs=2e-5)
    ref = pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False)
    assert torch.allclose(ms_ssim(x, y), ref)
    # the fewer-scales implementation, run with all five scales, reproduces the library exactly
    assert torch.allclose(_ms_ssim_fewer_levels(x, y, 1.0, 5), ref, rtol=1e-5, atol=1e-6)


def test_max_levels_boundaries():
    assert max_ms_ssim_levels(161, 500) == 5
    assert max_ms_ssim_levels(160, 500) == 4
    assert max_ms_ssim_levels(64, 64) == 3
    assert max_ms_ssim_levels(11, 11) == 1
    assert max_ms_ssim_levels(10, 10) == 0


def test_small_images_raise_clear_error_by_default():
    x = _photo(size=64)
    with pytest.raises(ValueError, match=r"larger than 160 px.*levels='auto'.*3 scale"):
        ms_ssim(x, x)


def test_small_images_auto_levels_renormalised():
    x = _photo(size=64)
    y = _noise(x, 0.05)
    assert ms_ssim(x, x, levels="auto").item() == pytest.approx(1.0, abs=1e-6)
    auto = ms_ssim(x, y, levels="auto")
    assert torch.allclose(auto, ms_ssim(x, y, levels=3))
    # by hand: three scales with the first three exponents renormalised
    w = torch.tensor([0.0448, 0.2856, 0.3001])
    w = w / w.sum()
    from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

    win = _fspecial_gauss_1d(11, 1.5).repeat(3, 1, 1, 1)
    a, b, terms = x, y, []
    for i in range(3):
        s, cs = _ssim(a, b, data_range=1.0, win=win, size_average=False)
        terms.append(torch.relu(cs) if i < 2 else torch.relu(s))
        a, b = torch.nn.functional.avg_pool2d(a, 2), torch.nn.functional.avg_pool2d(b, 2)
    by_hand = torch.prod(torch.stack(terms) ** w.view(-1, 1, 1), dim=0).mean(dim=1)
    assert torch.allclose(auto, by_hand, rtol=1e-5)
    assert 0 < auto.item() < 1
    with pytest.raises(ValueError, match="larger than 10 px"):
        ms_ssim(x[..., :10, :10], x[..., :10, :10], levels="auto")
    with pytest.raises(ValueError, match="levels must be"):
        ms_ssim(x, x, levels=7)


def test_differentiable_loss():
    x = _photo()
    y = _noise(x, 0.05).requires_grad_(True)
    (1 - ms_ssim(x, y)).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def test_ssim_cannot_tell_a_channel_from_its_negative_but_ms_ssim_clips_it():
    """The coarsest scale's term is luminance x contrast-structure: both are negative for -x, so SSIM(x, -x) is
    close to 1 (the mirror solution); with five scales the finer contrast-structure terms are negative and
    clipped, so MS-SSIM(x, -x) is 0."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 176, 176, generator=g) * 0.5 + 0.25
    assert torch.all(ms_ssim(x, -x, levels=1) > 0.9)
    assert torch.all(ms_ssim(x, -x) == 0)


def test_per_channel_scores_average_to_ms_ssim_and_show_the_clipped_dead_zone():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 176, 176, generator=g) * 0.5 + 0.25
    x_hat = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    per = ms_ssim_per_channel(x, x_hat)
    assert per.shape == (2, 3)
    torch.testing.assert_close(per.mean(1), ms_ssim(x, x_hat), rtol=1e-5, atol=1e-6)
    # a negative mean in channel 0 makes its luminance term negative at every scale's product: the channel
    # scores exactly 0 and the loss 1 - MS-SSIM has no gradient for it, while the other channels keep theirs
    shifted = x_hat.clone()
    shifted[:, 0] -= 1.0
    shifted.requires_grad_(True)
    per = ms_ssim_per_channel(x, shifted)
    assert torch.all(per[:, 0] == 0) and torch.all(per[:, 1:] > 0.5)
    (1 - ms_ssim(x, shifted)).sum().backward()
    assert torch.all(shifted.grad[:, 0] == 0) and shifted.grad[:, 1:].abs().sum() > 0
