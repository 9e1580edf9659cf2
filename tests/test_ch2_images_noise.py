"""experiments.ch2_images.noise: Sec. 5.2's uniform noise and the two labelled variants."""

import numpy as np
import pytest
import torch

from perceptual_compression.experiments import ch2_images as img


def test_uniform_noise_batches():
    g = torch.Generator().manual_seed(0)
    x = img.uniform_noise_batch(64, 16, g)
    assert x.shape == (64, 3, 16, 16) and 0 <= x.min() and x.max() <= 1
    assert abs(x.mean().item() - 0.5) < 0.01 and abs(x.var().item() - 1 / 12) < 0.005
    # the default draws exactly torch.rand's stream (the committed runs' batches)
    assert torch.equal(img.uniform_noise_batch(2, 8, torch.Generator().manual_seed(3)),
                       torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(3)))


def test_ranged_uniform_noise_spreads_local_means_but_keeps_pixels_independent():
    x = img.uniform_noise_batch(256, 32, torch.Generator().manual_seed(0), kind="uniform-ranged")
    assert x.shape == (256, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    means = x.mean(dim=(2, 3))                      # per image channel: (lo + hi) / 2
    lo, hi = x.amin(dim=(2, 3)), x.amax(dim=(2, 3))
    np.testing.assert_allclose(means, (lo + hi) / 2, atol=0.05)
    # the midpoint of two U(0, 1) order statistics is the mean of two U(0, 1): variance 1/24
    assert abs(means.var().item() - 1 / 24) < 0.006
    iid = img.uniform_noise_batch(256, 32, torch.Generator().manual_seed(0)).mean(dim=(2, 3))
    assert iid.std().item() < 0.02 < 0.15 < means.std().item()
    # within a channel, pixels are U(lo, hi): variance (hi - lo)^2 / 12, and neighbours are uncorrelated
    var = x.var(dim=(2, 3))
    np.testing.assert_allclose(var, (hi - lo) ** 2 / 12, atol=0.01)
    c = x - x.mean(dim=(2, 3), keepdim=True)
    lag1 = (c[..., 1:] * c[..., :-1]).mean() / c.pow(2).mean()
    assert abs(lag1.item()) < 0.01


def test_tiled_uniform_noise_has_a_range_per_tile_on_a_shifted_grid():
    g = torch.Generator().manual_seed(0)
    x = img.uniform_noise_batch(64, 64, g, kind="uniform-tiled")
    assert x.shape == (64, 3, 64, 64) and 0 <= x.min() and x.max() <= 1
    t = img.NOISE_TILE
    # the range is constant on tiles of side t: find each image's grid offset as the shift at which the
    # per-tile spread of values is smallest relative to the whole image's
    found = []
    for xi in x[:8]:
        scores = {}
        for oy in range(t):
            for ox in range(t):
                inner = xi[:, oy:oy + 3 * t, ox:ox + 3 * t].unfold(1, t, t).unfold(2, t, t)  # 3 x 3 whole tiles
                scores[(oy, ox)] = (inner.amax((-1, -2)) - inner.amin((-1, -2))).mean().item()
        found.append(min(scores, key=scores.get))
    assert len(set(found)) > 1  # the grid moves from image to image
    # block means on a fixed 16x16 grid spread widely (a tile's mean alone has sd sqrt(1/24) = 0.20; a block that
    # straddles tiles averages several), the paper's noise's do not
    blocks = x.unfold(2, t, t).unfold(3, t, t).mean((-1, -2))
    assert 0.1 < blocks.std().item() < 0.21
    iid = img.uniform_noise_batch(64, 64, torch.Generator().manual_seed(0)).unfold(2, t, t).unfold(3, t, t).mean((-1, -2))
    assert iid.std().item() < 0.03
    # neighbouring pixels are uncorrelated once each tile's mean is removed (no structure inside a tile)
    oy, ox = found[0]
    tile = x[0, :, oy:oy + t, ox:ox + t]
    c = tile - tile.mean(dim=(1, 2), keepdim=True)
    assert abs(((c[..., 1:] * c[..., :-1]).mean() / c.pow(2).mean()).item()) < 0.2
    with pytest.raises(ValueError, match="valid values are: 'uniform', 'uniform-ranged', 'uniform-tiled'"):
        img.uniform_noise_batch(2, 16, g, kind="gaussian")
