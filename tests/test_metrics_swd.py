"""Sliced Wasserstein distance on Laplacian-pyramid patches: identity, noise/blur sensitivity, sampling."""

from __future__ import annotations

import math

import pytest
import torch

from perceptual_compression.metrics import sliced_wasserstein
from perceptual_compression.metrics.swd import laplacian_patch_descriptors, swd_num_levels

from _metrics_helpers import add_noise, astronaut, one_thread, photo_crops  # noqa: F401


def _power_law_fields(n, size=64, slope=2.0, seed=0):
    """``n`` stationary Gaussian random colour fields with power spectrum ~ 1 / f^slope, mapped into [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    f = torch.fft.fftfreq(size)
    radius = torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2).clamp_min(1.0 / size)
    amplitude = radius ** (-slope / 2)
    white = torch.randn(n, 3, size, size, generator=g)
    fields = torch.fft.ifft2(torch.fft.fft2(white) * amplitude).real
    fields = fields / fields.flatten(1).std(dim=1).view(-1, 1, 1, 1)
    return (0.5 + 0.12 * fields).clamp(0, 1)


def _blur(x, sigma):
    import torchvision.transforms.functional as TF

    return TF.gaussian_blur(x, kernel_size=2 * math.ceil(3 * sigma) + 1, sigma=sigma)


def test_identical_sets_give_exactly_zero():
    x = photo_crops(64, b=3)
    out = sliced_wasserstein(x, x.clone(), patches_per_image=64, num_projections=64)
    assert out.levels == (0.0,) * len(out.levels)
    assert out.mean == 0.0


def test_levels_and_resolutions():
    assert swd_num_levels(256, 256) == 5
    assert swd_num_levels(512, 768) == 6  # Kodak
    assert swd_num_levels(15, 100) == 0
    x = photo_crops(64, b=2)
    out = sliced_wasserstein(x, x, patches_per_image=16, num_projections=8)
    assert len(out.levels) == 3 and out.resolutions == ((64, 64), (32, 32), (16, 16))
    assert out.num_descriptors == (32, 32)
    capped = sliced_wasserstein(x, x, patches_per_image=16, num_projections=8, num_levels=2)
    assert len(capped.levels) == 2
    desc = laplacian_patch_descriptors(x, num_levels=3, patches_per_image=5)
    assert [tuple(d.shape) for d in desc] == [(10, 3, 7, 7)] * 3


def test_monotone_in_noise_level():
    x = photo_crops(128, b=2)
    kw = dict(patches_per_image=256, num_projections=128)
    values = [sliced_wasserstein(x, add_noise(x, s, seed=1), **kw).mean for s in (0.0, 0.02, 0.05, 0.1, 0.2)]
    assert values[0] == 0.0
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_sensitive_to_blur():
    x = photo_crops(128, b=2)
    kw = dict(patches_per_image=256, num_projections=128)
    values = [sliced_wasserstein(x, _blur(x, s), **kw) for s in (0.7, 1.5, 3.0)]
    means = [v.mean for v in values]
    assert all(a < b for a, b in zip(means, means[1:])), means
    # blur removes fine detail: the finest band moves most
    assert values[-1].levels[0] == max(values[-1].levels)


def _random_crops(n, size=64, seed=0):
    img = astronaut()
    g = torch.Generator().manual_seed(seed)
    ys = torch.randint(0, img.shape[1] - size, (n,), generator=g).tolist()
    xs = torch.randint(0, img.shape[2] - size, (n,), generator=g).tolist()
    return torch.stack([img[:, y : y + size, x : x + size] for y, x in zip(ys, xs)])


def test_two_halves_of_one_distribution_vs_different_distributions():
    kw = dict(patches_per_image=128, num_projections=128)
    # natural image patches: two halves of one set of random crops vs other distributions
    crops = _random_crops(32)
    same = sliced_wasserstein(crops[:16], crops[16:], **kw)
    for other in (_power_law_fields(16), add_noise(crops[16:], 0.05), _blur(crops[16:], 1.0)):
        different = sliced_wasserstein(crops[:16], other, **kw)
        assert same.levels[0] < 0.3 * different.levels[0], (same.levels, different.levels)
    # Gaussian random fields: two halves of one process vs a process with another spectral slope
    pink = _power_law_fields(32, slope=2.0, seed=0)
    halves = sliced_wasserstein(pink[:16], pink[16:], **kw)
    other_slope = sliced_wasserstein(pink[:16], _power_law_fields(16, slope=1.0, seed=1), **kw)
    assert halves.mean < 0.4 * other_slope.mean, (halves.levels, other_slope.levels)
    assert halves.levels[0] < 0.2 * other_slope.levels[0]


def test_sets_of_different_sizes():
    pink = _power_law_fields(24, slope=2.0, seed=2)
    kw = dict(patches_per_image=64, num_projections=64)
    a = sliced_wasserstein(pink[:8], pink[8:], **kw)  # 8 vs 16 images: quantile matching
    assert a.num_descriptors == (512, 1024)
    far = sliced_wasserstein(pink[:8], _power_law_fields(16, slope=0.5, seed=3), **kw)
    assert a.mean < 0.4 * far.mean and a.levels[0] < 0.2 * far.levels[0]


def test_reference_normalisation_sees_global_contrast_changes():
    x = photo_crops(64, b=2)
    low_contrast = 0.5 + 0.5 * (x - 0.5)
    kw = dict(patches_per_image=128, num_projections=64)
    per_set = sliced_wasserstein(x, low_contrast, normalize="per_set", **kw).mean
    reference = sliced_wasserstein(x, low_contrast, **kw).mean
    raw = sliced_wasserstein(x, low_contrast, normalize=None, **kw).mean
    # Karras' per-set normalisation removes a global gain per band; the default (reference) measures it
    assert per_set < 1e-4
    assert reference > 0.1 and raw > 0


def test_seeded_and_validated():
    x = photo_crops(64, b=2)
    y = add_noise(x, 0.1)
    kw = dict(patches_per_image=32, num_projections=32)
    assert sliced_wasserstein(x, y, seed=5, **kw) == sliced_wasserstein(x, y, seed=5, **kw)
    assert sliced_wasserstein(x, y, seed=5, **kw) != sliced_wasserstein(x, y, seed=6, **kw)
    with pytest.raises(ValueError, match="at least 16 px"):
        sliced_wasserstein(torch.rand(1, 3, 12, 64), torch.rand(1, 3, 12, 64))
    with pytest.raises(ValueError, match="normalize must be one of"):
        sliced_wasserstein(x, y, normalize="global")
    with pytest.raises(ValueError, match="same number of channels"):
        sliced_wasserstein(x, torch.rand(1, 1, 64, 64))


def test_an_intensity_offset_moves_only_the_low_pass_level():
    """Without normalisation the band levels of a Laplacian pyramid do not see a constant offset (they are
    differences of blurred images), the low-pass level does: an exact invariance that pins where each level's
    descriptors come from, not only an ordering. The low-pass distance is of the order of the offset."""
    x = photo_crops(64, b=2)
    out = sliced_wasserstein(x, x + 0.05, normalize=None, patches_per_image=64, num_projections=64)
    assert len(out.levels) == 3
    assert max(out.levels[:-1]) < 1e-6
    assert 0.02 < out.levels[-1] < 0.5
