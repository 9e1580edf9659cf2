"""Fixtures and helpers shared by the tests of experiments.ch2_images."""

import pytest
import torch

from perceptual_compression.datasets import PatchDataset, embedded_images
from perceptual_compression.experiments import ch2_images as img


@pytest.fixture(scope="module")
def patches():
    return PatchDataset(embedded_images(), size=32, seed=0)


@pytest.fixture(scope="module")
def test_images():
    return img.center_crops(embedded_images(), 2, 64)


def equal_weights(a, b) -> bool:
    """The two modules hold the same parameters and buffers, bit for bit (a resumed run against an uninterrupted one)."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
