"""FID/KID through torch-fidelity with stand-in feature extractors; the FID/256 patch protocol."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from perceptual_compression.metrics import (
    InceptionFeatures,
    extract_features,
    fid256_patches,
    fid_from_features,
    fid_kid,
    kid_from_features,
)

from _metrics_helpers import add_noise, one_thread, photo_crops, registry_with  # noqa: F401


class TinyExtractor(nn.Module):
    """A stand-in feature extractor: two random convs, then mean and standard-deviation pooling -> (N, 16)."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2))

    def forward(self, x):
        h = self.net(x).flatten(2)
        return 10 * torch.cat([h.mean(-1), h.std(-1)], dim=1)


def _closed_form_fid(mu1, s1, mu2, s2):
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def _gaussian(n, mean, cov, seed):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.multivariate_normal(mean, cov, size=n))


# ---------------------------------------------------------------- FID/256 patches


def test_patch_counts_follow_the_shifted_grid_rule():
    # Kodak landscape 768x512 (W x H): 3x2 tiles + shifted grid on 640x384 -> 2x1 tiles = 8
    assert len(fid256_patches(torch.zeros(1, 3, 512, 768))) == 8
    assert len(fid256_patches(torch.zeros(3, 768, 512))) == 8  # portrait
    assert len(fid256_patches(torch.zeros(1, 3, 256, 256))) == 1
    assert len(fid256_patches(torch.zeros(1, 3, 383, 1000))) == 3  # 383 < 1.5 * 256: no shifted grid
    assert len(fid256_patches(torch.zeros(1, 3, 384, 384))) == 2  # exactly 1.5 * 256: shifted grid
    assert len(fid256_patches(torch.zeros(1, 3, 640, 640))) == 4 + 4
    assert len(fid256_patches(torch.zeros(2, 3, 512, 768))) == 16
    # a list of differently sized images
    assert len(fid256_patches([torch.zeros(3, 512, 768), torch.zeros(3, 768, 512), torch.zeros(3, 256, 300)])) == 17
    assert fid256_patches(torch.zeros(1, 3, 96, 64), patch=32).shape == (6 + 2, 3, 32, 32)


def test_patch_content_and_order():
    x = torch.rand(1, 3, 512, 768, generator=torch.Generator().manual_seed(0))
    p = fid256_patches(x)
    assert p.shape == (8, 3, 256, 256)
    img = x[0]
    assert torch.equal(p[0], img[:, :256, :256])
    assert torch.equal(p[2], img[:, :256, 512:768])  # first row, third column
    assert torch.equal(p[4], img[:, 256:512, 256:512])  # second row, second column
    assert torch.equal(p[6], img[:, 128:384, 128:384])  # shifted grid
    assert torch.equal(p[7], img[:, 128:384, 384:640])


def test_too_small_images_are_refused():
    with pytest.raises(ValueError, match="smaller than the 256x256"):
        fid256_patches(torch.zeros(1, 3, 200, 768))


# ---------------------------------------------------------------- FID from features


def test_fid_matches_closed_form_on_the_same_statistics():
    cov1 = np.array([[1.0, 0.3, 0.0], [0.3, 2.0, 0.5], [0.0, 0.5, 0.7]])
    cov2 = np.array([[0.5, -0.1, 0.0], [-0.1, 1.0, 0.2], [0.0, 0.2, 1.5]])
    f1 = _gaussian(2000, [0.0, 0.0, 0.0], cov1, 1)
    f2 = _gaussian(2000, [1.0, -0.5, 0.2], cov2, 2)
    a, b = f1.numpy(), f2.numpy()
    expected = _closed_form_fid(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert fid_from_features(f1, f2) == pytest.approx(expected, rel=1e-8)
    # and the estimate is close to the FID of the true Gaussians
    truth = _closed_form_fid(np.zeros(3), cov1, np.array([1.0, -0.5, 0.2]), cov2)
    assert fid_from_features(f1, f2) == pytest.approx(truth, rel=0.1)


def test_fid_of_identical_sets_is_zero_and_translation_adds_squared_norm():
    f = _gaussian(500, np.zeros(4), np.eye(4), 3)
    assert abs(fid_from_features(f, f)) < 1e-8
    shift = torch.tensor([1.0, 2.0, 0.0, -2.0], dtype=torch.float64)
    assert fid_from_features(f, f + shift) == pytest.approx(9.0, rel=1e-8)


def test_fid_needs_two_samples_and_matching_dimensions():
    with pytest.raises(ValueError, match="at least 2 samples"):
        fid_from_features(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="equal D"):
        fid_from_features(torch.zeros(4, 3), torch.zeros(4, 2))


# ---------------------------------------------------------------- KID


def test_kid_near_zero_for_same_distribution_and_positive_for_different():
    cov = np.eye(6)
    a = _gaussian(400, np.zeros(6), cov, 4)
    b = _gaussian(400, np.zeros(6), cov, 5)
    c = _gaussian(400, np.full(6, 0.5), cov, 6)
    same, same_std, used = kid_from_features(a, b, subsets=20, subset_size=200)
    diff, _, _ = kid_from_features(a, c, subsets=20, subset_size=200)
    assert used == 200
    assert abs(same) < 3 * same_std  # zero within its sampling noise
    assert diff > 20 * abs(same)
    # the unbiased estimator of a set against itself is small but not exactly zero (see fid.py)
    itself, _, _ = kid_from_features(a, a, subsets=5, subset_size=400)
    assert abs(itself) < 0.05 * diff


def test_kid_small_sample_counts():
    a = _gaussian(30, np.zeros(3), np.eye(3), 7)
    b = _gaussian(50, np.zeros(3), np.eye(3), 8)
    _, _, used = kid_from_features(a, b, subsets=5)  # default subset size 1000 -> adjusted to 30
    assert used == 30
    with pytest.raises(ValueError, match="subset size 1000 is larger than the smaller feature set.*30 real"):
        kid_from_features(a, b, subset_size=1000)
    with pytest.raises(ValueError, match="at least 2"):
        kid_from_features(a, b, subset_size=1)
    # reproducible for a seed
    assert kid_from_features(a, b, subsets=5, seed=3) == kid_from_features(a, b, subsets=5, seed=3)


# ---------------------------------------------------------------- end to end with a stand-in extractor


def test_fid_kid_end_to_end_with_stand_in_extractor():
    real = photo_crops(64, b=4, step=30)
    extractor = TinyExtractor()
    same = fid_kid(real, real, feature_extractor=extractor, patch_size=32, kid_subsets=10)
    assert same.num_real == same.num_fake == 4 * 5  # 2x2 tiles + 1 shifted tile per 64 px image
    assert abs(same.fid) < 1e-6
    assert same.kid_subset_size == 20
    assert same.feature_extractor == "TinyExtractor" and same.patch_size == 32
    noisy = fid_kid(real, add_noise(real, 0.2), feature_extractor=extractor, patch_size=32, kid_subsets=10)
    more = fid_kid(real, add_noise(real, 0.4), feature_extractor=extractor, patch_size=32, kid_subsets=10)
    assert 0 < noisy.fid < more.fid
    assert 0 < noisy.kid < more.kid
    assert abs(same.kid) < 0.2 * noisy.kid  # small set (m = 20): the estimator's own offset is visible
    whole = fid_kid(list(real), real, feature_extractor=extractor, patch_size=None, kid=False)
    assert whole.num_real == 4 and whole.kid is None and abs(whole.fid) < 1e-6
    assert set(same.as_dict()) >= {"fid", "kid", "kid_std", "num_real", "num_fake"}


def test_extract_features_batches_equal_sizes_and_checks_output():
    extractor = TinyExtractor()
    imgs = [torch.rand(3, 32, 32), torch.rand(3, 32, 32), torch.rand(3, 40, 32)]
    f = extract_features(imgs, extractor, batch_size=8, device="cpu")
    assert f.shape == (3, 16) and f.dtype == torch.float64
    with torch.no_grad():
        assert torch.allclose(f[2].float(), extractor(imgs[2][None])[0], atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, D\) features"):
        extract_features(imgs, nn.Identity(), device="cpu")


# ---------------------------------------------------------------- Inception weights through the registry


def test_inception_weights_come_from_the_registry(monkeypatch, tmp_path):
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    seen = {}

    class RecordingInception(nn.Module):
        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            super().__init__()
            seen.update(name=name, features=features_list, path=feature_extractor_weights_path)

        def forward(self, x):
            seen["dtype"] = x.dtype
            return (x.float().mean(dim=(2, 3)),)

    monkeypatch.setattr(fe, "FeatureExtractorInceptionV3", RecordingInception)
    made = tmp_path / "made-by-test.pth"
    torch.save({"stand-in": torch.zeros(1)}, made)
    assets = registry_with(tmp_path, monkeypatch, {"torch-fidelity-inception-v3": made})
    assert InceptionFeatures.available() is True
    extractor = InceptionFeatures()
    expected = assets.resolve("torch-fidelity-inception-v3")
    assert expected.name == "weights-inception-2015-12-05-6726825d.pth"
    assert seen["path"] == str(expected) and seen["features"] == ["2048"]
    out = extractor(torch.full((2, 3, 8, 8), 0.5))
    assert seen["dtype"] == torch.uint8  # torch-fidelity's Inception takes 8-bit images
    assert torch.allclose(out, torch.full((2, 3), 128.0))  # floor(0.5 * 255 + 0.5)


def test_missing_inception_weights_raise_the_registry_error(tmp_path, monkeypatch):
    from perceptual_compression.assets import AssetUnavailableError

    registry_with(tmp_path, monkeypatch)
    assert InceptionFeatures.available() is False
    with pytest.raises(AssetUnavailableError, match="torch-fidelity-inception-v3") as info:
        fid_kid(torch.rand(2, 3, 256, 256), torch.rand(2, 3, 256, 256))
    assert "\n" not in str(info.value)
