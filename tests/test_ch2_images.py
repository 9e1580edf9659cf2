"""experiments.ch2_images: the package's exports and its evaluation module (crops, channel means)."""

import pytest
import torch

from perceptual_compression.experiments import ch2_images as img
from perceptual_compression.datasets import embedded_images
from _ch2_images_shared import test_images  # noqa: F401 (fixtures)


def test_center_crops(test_images):
    assert test_images.shape == (2, 3, 64, 64)
    whole = img.center_crops(embedded_images(), 2, None)
    assert isinstance(whole, list) and whole[0].shape == (3, 512, 512)
    with pytest.raises(ValueError):
        img.center_crops(embedded_images(), 1, 4096)


def test_restore_channel_means_undoes_a_brightness_and_colour_shift():
    torch.manual_seed(0)
    x = 0.2 + 0.6 * torch.rand(2, 3, 16, 16)
    shift = torch.tensor([0.1, -0.15, 0.05]).view(1, 3, 1, 1)
    assert torch.allclose(img.restore_channel_means(x, x + shift), x, atol=1e-6)  # a pure cast is fully undone
    y = img.restore_channel_means(x, 0.5 * x)  # a contrast loss is not: only the means are restored
    assert torch.allclose(y.mean((-2, -1)), x.mean((-2, -1)), atol=1e-6)
    assert not torch.allclose(y, x, atol=1e-2)
    assert img.restore_channel_means(x, x + 2.0).max() <= 1  # clamped to [0, 1]


def test_the_package_exports_every_public_name_of_its_modules():
    """``ch2_images`` is one module per experiment; the chapter and the scripts use it as one namespace, so a
    public function added to a module and not exported would be out of their reach."""
    from _package_exports import public_names_of_modules

    assert public_names_of_modules(img) == set(img.__all__)
    assert all(getattr(img, n) is not None for n in img.__all__)
