import pytest
import torch

from perceptual_compression.datasets import embedded_images
from perceptual_compression.datasets.distortions import DISTORTIONS, LEVELS, distort, distorted_set


@pytest.fixture(scope="module")
def image():
    return embedded_images()[0][:, 100:164, 100:164]


@pytest.mark.parametrize("kind", list(DISTORTIONS))
def test_severity_grows_with_level(kind, image):
    errs = []
    for level in LEVELS:
        y = distort(image, kind, level, seed=1)
        assert y.shape == image.shape and y.min() >= 0 and y.max() <= 1
        errs.append(((y - image) ** 2).mean().item())
    assert errs[0] > 0
    assert errs[-1] > errs[0]
    assert sum(b >= a for a, b in zip(errs, errs[1:])) >= 3, errs


def test_seeded_and_layout(image):
    a = distort(image, "gaussian-noise", 3, seed=5)
    torch.testing.assert_close(a, distort(image, "gaussian-noise", 3, seed=5))
    pairs = distorted_set([image, image], kinds=["jpeg", "contrast"])
    assert len(pairs) == 2 * 2 * 5
    assert {(p.reference, p.kind, p.level) for p in pairs} == {(r, k, l) for r in (0, 1) for k in ("jpeg", "contrast") for l in LEVELS}
    with pytest.raises(ValueError):
        distort(image, "fog", 1)
    with pytest.raises(ValueError):
        distort(image, "jpeg", 6)
