"""Equivalent-σ calibration (A.3): grid, table, nearest rule, and the Gaussian-noise self-check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from perceptual_compression.augment.imagenet_c import GAUSSIAN_NOISE_SIGMAS
from perceptual_compression.evaluation.calibration import (
    add_noise,
    equivalent_sigma,
    gaussian_noise_check,
    mean_curves,
    metric_values,
    noise_levels,
)


def mse(x, y):
    return (x - y).pow(2).flatten(1).mean(1)


def mae(x, y):
    return (x - y).abs().flatten(1).mean(1)


def _images(n=3, size=48):
    g = torch.Generator().manual_seed(0)
    base = torch.rand(n, 3, size // 8, size // 8, generator=g)
    return torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False) * 0.8 + 0.1


def test_noise_grid_is_40_levels_from_001_to_060():
    s = noise_levels()
    assert len(s) == 40 and s[0] == pytest.approx(0.01) and s[-1] == pytest.approx(0.60)
    assert np.allclose(np.diff(s), 0.59 / 39)


def test_add_noise_matches_clip_of_additive_noise():
    x = _images(2, 16)
    out = add_noise(x, 0.2, np.random.default_rng(3))
    eps = np.random.default_rng(3).normal(size=(2, 16, 16, 3), scale=0.2)
    ref = np.clip(x.permute(0, 2, 3, 1).double().numpy() + eps, 0, 1)
    np.testing.assert_allclose(out.permute(0, 2, 3, 1).double().numpy(), ref, atol=1e-6)


@pytest.fixture(scope="module")
def table():
    return metric_values({"mse": mse, "mae": mae}, _images(), corruptions=["gaussian_noise", "contrast", "shift"],
                         seed=0, progress=False)


def test_metric_table_layout(table):
    n_img, n_metrics = 3, 2
    assert set(table.columns) == {"metric", "kind", "corruption", "severity", "sigma", "image", "value"}
    assert len(table) == n_metrics * n_img * (3 * 5 + 40)
    noise = table[table.kind == "noise"]
    assert noise.sigma.nunique() == 40 and noise.severity.isna().all()
    assert table[table.kind == "corruption"].sigma.isna().all()


def test_imagenet_c_gaussian_noise_maps_back_to_its_sigmas(table):
    eq = equivalent_sigma(table)
    check = gaussian_noise_check(eq)
    assert len(check) == 2 * 5 and bool(check.ok.all()), check
    step = 0.59 / 39
    for _, r in check.iterrows():
        assert abs(r.sigma_equivalent - GAUSSIAN_NOISE_SIGMAS[r.severity - 1]) < step


def test_noise_curves_increase_with_sigma(table):
    for _, curve in mean_curves(table).groupby("metric"):
        assert np.all(np.diff(curve.sort_values("sigma").value.to_numpy()) > 0)


def test_equivalent_sigma_takes_the_nearest_average():
    rows = []
    for i, (sig, val) in enumerate([(0.1, 1.0), (0.2, 2.0), (0.3, 3.0)]):
        for img, jitter in enumerate((-0.1, 0.1)):
            rows.append(dict(metric="m", kind="noise", corruption="additive_noise", severity=np.nan, sigma=sig,
                             image=img, value=val + jitter))
    for sev, vals in ((1, (1.2, 1.6)), (2, (2.6, 2.8))):          # means 1.4 -> 0.1; 2.7 -> 0.3
        for img, v in enumerate(vals):
            rows.append(dict(metric="m", kind="corruption", corruption="fog", severity=sev, sigma=np.nan,
                             image=img, value=v))
    eq = equivalent_sigma(pd.DataFrame(rows))
    assert eq.set_index("severity").sigma_equivalent.to_dict() == {1: 0.1, 2: 0.3}
    assert eq.value.tolist() == pytest.approx([1.4, 2.7])


def test_results_do_not_depend_on_which_metrics_are_evaluated():
    x = _images(2, 32)
    a = metric_values({"mse": mse}, x, corruptions=["fog"], sigmas=[0.1, 0.2], seed=1, progress=False)
    b = metric_values({"mae": mae, "mse": mse}, x, corruptions=["fog"], sigmas=[0.1, 0.2], seed=1, progress=False)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b[b.metric == "mse"].reset_index(drop=True))


def test_unknown_corruption_fails_at_once():
    with pytest.raises(ValueError, match="valid values"):
        metric_values({"mse": mse}, _images(1, 16), corruptions=["rain"], progress=False)


def test_imagenet_crop_resizes_the_short_side_then_centre_crops():
    from perceptual_compression.evaluation.calibration import imagenet_crop

    img = torch.rand(3, 512, 768)
    out = imagenet_crop(img, 224)
    assert out.shape == (3, 224, 224) and 0 <= float(out.min()) and float(out.max()) <= 1
    ramp = torch.linspace(0, 1, 768).view(1, 1, -1).expand(3, 512, 768)
    centre = imagenet_crop(ramp, 168)
    assert float(centre.mean()) == pytest.approx(0.5, abs=0.01)     # centred horizontally
