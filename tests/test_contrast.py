import numpy as np
import pytest
import torch

from perceptual_compression.analysis.contrast import alphas, contrast_axis, scale_contrast


def _img():
    g = torch.Generator().manual_seed(0)
    return 0.25 + 0.5 * torch.rand(2, 3, 16, 16, generator=g)


def test_end_points_and_original():
    x = _img()
    torch.testing.assert_close(contrast_axis(x, 1.0), x)
    grey = contrast_axis(x, 0.0, low=0.0)
    torch.testing.assert_close(grey, x.mean(dim=(1, 2, 3), keepdim=True).expand_as(x))
    torch.testing.assert_close(contrast_axis(x, 2.0, high=2.0), scale_contrast(x, 2.0))


def test_piecewise_linear_and_contrast_monotone():
    x = _img()
    mid = contrast_axis(x, 0.5, low=0.0)
    torch.testing.assert_close(mid, 0.5 * contrast_axis(x, 0.0) + 0.5 * x)
    stds = [contrast_axis(x, a).std().item() for a in (0.1, 0.5, 1.0, 1.5, 2.0)]
    assert all(a < b for a, b in zip(stds, stds[1:]))
    # the mean grey level is kept (no clipping here: values in [0.25, 0.75], factor 2)
    torch.testing.assert_close(contrast_axis(x, 1.7).mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)))


def test_validation_and_grid():
    with pytest.raises(ValueError):
        contrast_axis(_img(), 2.5)
    a = alphas(200)
    assert len(a) == 200 and a[0] == 0 and a[-1] == 2
    assert np.all(np.diff(a) > 0)
