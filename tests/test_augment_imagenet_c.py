"""ImageNet-C corruptions (+ PIM's Shift and Zoom): shapes, ranges, severities, exact Gaussian noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from perceptual_compression.augment import imagenet_c as ic


def _image(size: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth colourful test image with edges, values well inside (0, 1)."""
    rng = np.random.default_rng(seed)
    base = ndi.gaussian_filter(rng.standard_normal((size, size, 3)), (4, 4, 0))
    base = (base - base.min()) / np.ptp(base)
    yy, xx = np.mgrid[:size, :size]
    edges = ((xx // 8 + yy // 8) % 2)[..., None] * np.array([0.25, 0.1, -0.15])
    return np.clip(0.15 + 0.6 * base + edges, 0.02, 0.98)


@pytest.fixture(scope="module")
def textures():
    rng = np.random.default_rng(0)
    return ic.FrostTextures([ic._procedural_frost(rng, (200, 220)) for _ in range(6)], "test textures", True)


def test_corruption_lists():
    assert len(ic.IMAGENET_C_CORRUPTIONS) == 15
    assert ic.ALL_CORRUPTIONS[-2:] == ("shift", "zoom")
    assert set(ic.CORRUPTION_LABELS) == set(ic.ALL_CORRUPTIONS)


@pytest.mark.parametrize("name", ic.ALL_CORRUPTIONS)
def test_every_corruption_keeps_shape_and_range_and_changes_the_image(name, textures):
    x = _image()
    for s in ic.SEVERITIES:
        out = ic.corrupt_array(x, name, s, rng=s, textures=textures)
        assert out.shape == x.shape and out.dtype == np.float64
        assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
        assert np.abs(out - x).mean() > 1e-3, (name, s)


# Severities of ImageNet-C are not all ordered by pixel change: the elastic transform's severities 1-2 are
# large affine warps and 3-5 small local deformations; snow's severity 3 raises the flake threshold; frost's
# severity 4 darkens the image more but adds the same frost as severity 3.
_ORDERED_FROM = {"elastic_transform": 3, "snow": 3}


@pytest.fixture(scope="module")
def photo():
    """scikit-image's bundled astronaut photograph (no download), 128 x 128."""
    from skimage import data, transform

    return np.clip(transform.resize(data.astronaut(), (128, 128), anti_aliasing=True), 0, 1)


@pytest.mark.parametrize("name", ic.ALL_CORRUPTIONS)
def test_distortion_grows_with_severity(name, textures, photo):
    x = photo
    change = []
    for s in ic.SEVERITIES:
        change.append(np.mean([np.abs(ic.corrupt_array(x, name, s, rng=seed, textures=textures) - x).mean()
                               for seed in range(3)]))
    c = np.array(change[_ORDERED_FROM.get(name, 1) - 1:])
    # non-decreasing up to 5 % (glass blur 3/4 and frost 3/4 are nearly equal by design), clearly stronger at the top
    assert np.all(c[1:] > 0.95 * c[:-1]), (name, np.round(change, 4))
    assert c[-1] > 1.1 * c[0], (name, np.round(change, 4))


def test_torch_interface_batches_and_is_deterministic_per_seed(textures):
    x = torch.from_numpy(np.stack([_image(32, 0), _image(32, 1)])).permute(0, 3, 1, 2).float()
    a = ic.corrupt(x, "fog", 3, rng=7, textures=textures)
    b = ic.corrupt(x, "fog", 3, rng=7, textures=textures)
    assert a.shape == x.shape and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, ic.corrupt(x, "fog", 3, rng=8, textures=textures))
    single = ic.corrupt(x[0], "contrast", 2)
    assert single.shape == x[0].shape


def test_invalid_names_and_severities_fail_clearly():
    with pytest.raises(ValueError, match="valid values"):
        ic.corrupt_array(_image(16), "rain", 1)
    with pytest.raises(ValueError, match="1, 2, 3, 4, 5"):
        ic.corrupt_array(_image(16), "fog", 6)


def test_gaussian_noise_is_exactly_the_calibration_noise():
    """ImageNet-C's Gaussian noise at severity s == additive noise of sigma_s (same draws, bit for bit)."""
    x = _image(48)
    assert ic.GAUSSIAN_NOISE_SIGMAS == (0.08, 0.12, 0.18, 0.26, 0.38)
    for s, sigma in zip(ic.SEVERITIES, ic.GAUSSIAN_NOISE_SIGMAS):
        a = ic.corrupt_array(x, "gaussian_noise", s, rng=123)
        b = ic.additive_gaussian_noise(x, sigma, np.random.default_rng(123))
        assert np.array_equal(a, b)


def test_gaussian_noise_has_the_published_standard_deviation():
    x = np.full((256, 256, 3), 0.5)
    for s, sigma in zip((1, 2), (0.08, 0.12)):                 # no clipping at 0.5 +- 4 sigma
        d = ic.corrupt_array(x, "gaussian_noise", s, rng=0) - x
        assert d.std() == pytest.approx(sigma, rel=0.01)
        assert abs(d.mean()) < 3 * sigma / np.sqrt(d.size)


def test_published_parameter_tables():
    assert ic._SHOT == (60, 25, 12, 5, 3)
    assert ic._IMPULSE == (0.03, 0.06, 0.09, 0.17, 0.27)
    assert ic._CONTRAST == (0.4, 0.3, 0.2, 0.1, 0.05)
    assert ic._JPEG == (25, 18, 15, 10, 7)
    assert ic._PIXELATE == (0.6, 0.5, 0.4, 0.3, 0.25)
    assert ic._MOTION[4] == (20, 15) and ic._DEFOCUS[0] == (3, 0.1)
    np.testing.assert_allclose(ic._ZOOM_BLUR[4], np.arange(1, 1.31, 0.03))


def test_contrast_and_brightness_closed_forms():
    x = _image(16)
    out = ic.corrupt_array(x, "contrast", 5)
    m = x.mean(axis=(0, 1))
    np.testing.assert_allclose(out, (x - m) * 0.05 + m)
    from skimage.color import rgb2hsv
    v_in, v_out = rgb2hsv(x)[..., 2], rgb2hsv(ic.corrupt_array(x, "brightness", 1))[..., 2]
    np.testing.assert_allclose(v_out, np.clip(v_in + 0.1, 0, 1), atol=1e-9)


def test_shift_translates_by_the_severity_in_pixels():
    x = _image(32)
    out = ic.corrupt_array(x, "shift", 2)
    np.testing.assert_array_equal(out[2:, 2:], x[:-2, :-2])


def test_motion_blur_kernel_is_one_sided_along_the_angle():
    w, dy, dx = ic.motion_blur_kernel_offsets(10, 3, 0.0)
    assert len(w) == 21 and w.sum() == pytest.approx(1.0) and np.all(np.diff(w) < 0)
    assert np.array_equal(dx, np.arange(21)) and not dy.any()
    _, dy, dx = ic.motion_blur_kernel_offsets(10, 3, 90.0)
    assert np.array_equal(dy, np.arange(21)) and not dx.any()


def test_glass_blur_reproduces_the_published_sequential_copy():
    """The published loop ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` on NumPy views copies the neighbour."""
    x = _image(20)
    sigma, delta, iterations = ic._GLASS[1]
    ours = ic.corrupt_array(x, "glass_blur", 2, rng=5)
    rng = np.random.default_rng(5)
    img = (ic._gaussian(x, sigma) * 255).astype(np.uint8)
    for _ in range(iterations):
        rows, cols = range(20 - delta, delta, -1), range(20 - delta, delta, -1)
        offs = rng.integers(-delta, delta, size=(len(rows) * len(cols), 2))
        k = 0
        for h in rows:
            for w in cols:
                dx, dy = offs[k]
                k += 1
                img[h, w], img[h + dy, w + dx] = img[h + dy, w + dx], img[h, w]   # literal published statement
    expected = np.clip(ic._gaussian(img / 255.0, sigma), 0, 1)
    np.testing.assert_array_equal(ours, expected)


def test_plasma_fractal_range_and_determinism():
    a = ic.plasma_fractal(64, 2.0, np.random.default_rng(0))
    b = ic.plasma_fractal(64, 2.0, np.random.default_rng(0))
    assert a.shape == (64, 64) and a.min() == 0.0 and a.max() == 1.0
    assert np.array_equal(a, b)
    with pytest.raises(ValueError):
        ic.plasma_fractal(60)


def test_clipped_zoom_keeps_size_and_identity_at_one():
    x = _image(30)
    assert ic.clipped_zoom(x, 1.3).shape == x.shape
    np.testing.assert_allclose(ic.clipped_zoom(x, 1.0), x)


def test_frost_falls_back_to_labelled_textures_when_assets_are_missing(monkeypatch):
    import perceptual_compression.assets as assets

    def unavailable(asset_id, **kw):
        raise assets.AssetUnavailableError(f"{asset_id}: not available in this test", asset_id=asset_id)

    monkeypatch.setattr(assets, "resolve", unavailable)
    monkeypatch.setattr(ic, "_FROST_CACHE", {})
    tex = ic.frost_textures()
    assert tex.is_fallback and "procedural" in tex.label and "not available" in tex.reason
    assert len(tex.images) == 6 and all(t.shape[-1] == 3 for t in tex.images)
    with pytest.raises(assets.AssetUnavailableError):
        monkeypatch.setattr(ic, "_FROST_CACHE", {})
        ic.frost_textures(allow_fallback=False)
