"""augment.mnist / augment.supervised / augment.views: ranges, agreement with torchvision, label augmentation."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

from perceptual_compression.augment.mnist import (
    AUGMENTATION_SETS,
    RandomAffine,
    apply_affine,
    augmentation_set,
    sample_affine_params,
)
from perceptual_compression.augment.supervised import LabelAugmentation, uniform_label_entropy_bits
from perceptual_compression.augment.views import ImageViews, banana_pair
from perceptual_compression.sources.banana import REPRESENTATIVE_ANGLE, Banana


def test_paper_ranges():
    s = AUGMENTATION_SETS["standard"]
    assert (s.degrees, s.translate, s.shear, s.scale) == (45.0, 0.25, 25.0, (0.6, 1.4))
    m = AUGMENTATION_SETS["mild"]
    assert (m.degrees, m.translate, m.shear, m.scale) == (15.0, 0.15, 15.0, (0.8, 1.2))
    with pytest.raises(ValueError, match="valid values"):
        augmentation_set("huge")


@pytest.mark.parametrize("name", ["standard", "mild"])
def test_sampled_parameters_cover_the_ranges(name):
    r = AUGMENTATION_SETS[name]
    p = sample_affine_params(20_000, r, (28, 28), torch.Generator().manual_seed(0))
    for key, lo, hi in [("angle", -r.degrees, r.degrees), ("tx", -28 * r.translate, 28 * r.translate),
                        ("ty", -28 * r.translate, 28 * r.translate), ("scale", *r.scale), ("shear", -r.shear, r.shear)]:
        v = p[key]
        assert v.min() >= lo and v.max() <= hi, key
        span = hi - lo
        assert v.min() < lo + 0.01 * span and v.max() > hi - 0.01 * span, key     # the whole range is used
        assert float(v.mean()) == pytest.approx((lo + hi) / 2, abs=0.02 * span), key  # uniformly


def test_batched_affine_equals_torchvision():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(6, 1, 28, 28, generator=gen)
    p = sample_affine_params(6, AUGMENTATION_SETS["standard"], (28, 28), gen)
    out = apply_affine(x, p)
    for i in range(6):
        ref = TF.affine(x[i], angle=float(p["angle"][i]), translate=[float(p["tx"][i]), float(p["ty"][i])],
                        scale=float(p["scale"][i]), shear=[float(p["shear"][i]), 0.0],
                        interpolation=InterpolationMode.BILINEAR)
        torch.testing.assert_close(out[i], ref, atol=1e-5, rtol=0)


def test_identity_parameters_and_scale():
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    ident = {k: torch.tensor([v, v], dtype=torch.float64) for k, v in
             dict(angle=0.0, tx=0.0, ty=0.0, scale=1.0, shear=0.0).items()}
    torch.testing.assert_close(apply_affine(x, ident), x, atol=1e-5, rtol=0)
    # scaling a centred Gaussian blob by s scales its spatial standard deviation by s
    yy, xx = torch.meshgrid(torch.arange(28.0) - 13.5, torch.arange(28.0) - 13.5, indexing="ij")
    blob = torch.exp(-(xx**2 + yy**2) / (2 * 3.0**2)).view(1, 1, 28, 28)

    def spread(img):
        w = img[0, 0] / img.sum()
        return float(torch.sqrt((w * (xx**2 + yy**2)).sum() / 2))

    for s in (0.6, 1.4):
        p = {k: torch.tensor([v], dtype=torch.float64) for k, v in
             dict(angle=0.0, tx=0.0, ty=0.0, scale=s, shear=0.0).items()}
        assert spread(apply_affine(blob, p)) == pytest.approx(3.0 * s, rel=0.05)


def test_random_affine_is_seeded_and_changes_images():
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    a = RandomAffine("standard")
    y1 = a(x, torch.Generator().manual_seed(9))
    y2 = a(x, torch.Generator().manual_seed(9))
    torch.testing.assert_close(y1, y2)
    assert (y1 - x).abs().mean() > 0.05
    assert a(x[0]).shape == (1, 28, 28)


def test_label_augmentation():
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 9])
    aug = LabelAugmentation(labels, representative_seed=1)
    y = torch.tensor([0, 2, 9, 1, 0])
    idx = aug.indices_like(y, torch.Generator().manual_seed(0))
    torch.testing.assert_close(labels[idx], y)
    rep = aug.representative_indices(y)
    torch.testing.assert_close(labels[rep], y)
    torch.testing.assert_close(rep, LabelAugmentation(labels, representative_seed=1).representative_indices(y))
    balanced = LabelAugmentation(torch.arange(10).repeat(5))
    assert balanced.label_entropy_bits() == pytest.approx(math.log2(10))
    assert uniform_label_entropy_bits(10) == pytest.approx(3.321928, abs=1e-6)
    with pytest.raises(ValueError):
        aug.indices_like(torch.tensor([5]))


def test_image_views():
    gen = torch.Generator().manual_seed(4)
    images = torch.rand(20, 1, 28, 28, generator=gen)
    labels = torch.arange(20) % 4
    v = ImageViews(images, labels, affine=RandomAffine("standard"))
    idx = torch.arange(5)
    a, t = v.pair("VC", 5, gen, indices=idx)
    torch.testing.assert_close(a, t)
    a, t = v.pair("VIC", 5, gen, indices=idx)
    torch.testing.assert_close(t, images[idx])
    assert (a - images[idx]).abs().mean() > 0.01
    a, p = v.pair("BINCE", 5, gen, indices=idx)
    assert (a - p).abs().mean() > 0.01
    s = ImageViews(images, labels, affine=None, supervised=True)
    a, t = s.pair("VIC", 8, gen)
    reps = s.labels_aug.representative_indices(torch.arange(4))
    for i in range(8):
        lab = int(labels[(images - a[i]).flatten(1).abs().sum(1).argmin()])
        torch.testing.assert_close(t[i], images[reps[lab]])
    with pytest.raises(ValueError, match="valid values"):
        v.pair("VAE", 2)


def test_banana_pairs():
    src = Banana()
    x, t = banana_pair(src, "VC", 100, torch.Generator().manual_seed(0))
    torch.testing.assert_close(x, t)
    x, t = banana_pair(src, "VIC", 100, torch.Generator().manual_seed(0))
    torch.testing.assert_close(x.norm(dim=1), t.norm(dim=1))
    ang = torch.rad2deg(torch.atan2(t[:, 1], t[:, 0])) % 360
    torch.testing.assert_close(ang, torch.full_like(ang, REPRESENTATIVE_ANGLE), atol=1e-3, rtol=0)
