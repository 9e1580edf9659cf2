"""PSNR on 8-bit-rounded images: closed forms for known MSEs, rounding, infinity, shapes."""

from __future__ import annotations

import math

import pytest
import torch

from perceptual_compression.metrics import psnr
from perceptual_compression.metrics.psnr import mse_to_psnr

from _metrics_helpers import one_thread  # noqa: F401  (autouse fixture)


def _grid_image(b=1, h=16, w=24, seed=0):
    """An image whose values lie on the 8-bit grid, away from 0 and 255 (so offsets are not clamped)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(20, 230, (b, 3, h, w), generator=g).float() / 255


@pytest.mark.parametrize("k", [1, 3, 10, 25])
def test_constant_offset_gives_closed_form(k):
    x = _grid_image()
    value = psnr(x, x + k / 255)
    assert value.shape == (1,)
    assert value.item() == pytest.approx(20 * math.log10(255 / k), abs=1e-9)


def test_known_mse_mixed_errors():
    # half the pixels off by 2 levels, half exact: MSE = 2 -> PSNR = 10 log10(255^2 / 2)
    x = _grid_image(h=8, w=8)
    x_hat = x.clone()
    x_hat[..., :4, :] += 2 / 255
    assert psnr(x, x_hat).item() == pytest.approx(10 * math.log10(255**2 / 2), abs=1e-9)


def test_identical_images_give_inf_and_max_db_caps():
    x = _grid_image(b=2)
    assert torch.isinf(psnr(x, x)).all()
    assert torch.equal(psnr(x, x, max_db=100.0), torch.full((2,), 100.0, dtype=torch.float64))
    # the cap does not touch finite values below it
    assert psnr(x, x + 1 / 255, max_db=100.0).tolist() == pytest.approx([20 * math.log10(255)] * 2)


def test_uint8_rounding_effect():
    x = _grid_image()
    # a sub-level perturbation rounds back to the same 8-bit image
    assert torch.isinf(psnr(x, x + 0.4 / 255)).all()
    # without quantisation it is an MSE of (0.4/255)^2
    assert psnr(x, x + 0.4 / 255, quantize=False).item() == pytest.approx(20 * math.log10(255 / 0.4), rel=1e-5)
    # 0.6 of a level rounds up to a full level
    assert psnr(x, x + 0.6 / 255).item() == pytest.approx(20 * math.log10(255), abs=1e-9)


def test_values_are_clamped_to_the_valid_range():
    x = torch.ones(1, 3, 4, 4)
    assert torch.isinf(psnr(x, x + 0.3)).all()  # 1.3 clamps to 1.0
    zero = torch.zeros(1, 3, 4, 4)
    assert psnr(zero, torch.ones(1, 3, 4, 4)).item() == pytest.approx(0.0, abs=1e-12)


def test_per_image_values_and_single_image_shape():
    x = _grid_image(b=2)
    x_hat = x.clone()
    x_hat[0] += 1 / 255
    x_hat[1] += 5 / 255
    out = psnr(x, x_hat)
    assert out.shape == (2,)
    assert out[0].item() == pytest.approx(20 * math.log10(255), abs=1e-9)
    assert out[1].item() == pytest.approx(20 * math.log10(255 / 5), abs=1e-9)
    assert psnr(x[0], x_hat[0]).shape == (1,)


def test_mse_to_psnr_and_shape_errors():
    assert mse_to_psnr(torch.tensor(1e-2)).item() == pytest.approx(20.0)
    assert torch.isinf(mse_to_psnr(torch.tensor(0.0)))
    with pytest.raises(ValueError, match="same shape"):
        psnr(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match="shape"):
        psnr(torch.zeros(4, 4), torch.zeros(4, 4))
