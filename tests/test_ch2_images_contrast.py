"""experiments.ch2_images.contrast and .quality_correlation: Fig. 4 (right) along the contrast axis, and
Observation 5's correlations."""

import numpy as np
import pytest
import torch

from perceptual_compression.experiments import ch2_images as img
from perceptual_compression.models.factorized_prior import factorized_prior
from _ch2_images_shared import test_images  # noqa: F401 (fixtures)


def test_same_model_on_both_sides_gives_ratio_one_and_observation5(test_images):
    torch.manual_seed(0)
    m = factorized_prior(8, 8).eval()
    m.update(force=True)
    res = img.contrast_performance([(m, m)], list(test_images), [0.5, 1.0, 2.0])
    np.testing.assert_allclose(res["ratio"], 1.0)
    np.testing.assert_allclose(res["distortion_ratio"], 1.0)
    np.testing.assert_allclose(res["rate_ratio"], 1.0)
    refs = list(test_images)
    distorted = [(0, (refs[0] + 0.01 * k).clamp(0, 1)) for k in range(1, 6)] + [(1, (refs[1] * 0.9 ** k)) for k in range(1, 6)]
    scores = [float(((refs[i] - x) ** 2).mean()) for i, x in distorted]
    # an "autoencoder" that scales by 100, rounds, and scales back: both induced distances rank like RMSE
    lin = factorized_prior(8, 3).eval()
    lin.g_a, lin.g_s = _Scale(100.0), _Scale(0.01)
    lin.update(force=True)
    out = img.observation5({"lin": lin}, refs, distorted, {"mse": scores, "-mse": [-v for v in scores]})
    rows = out["mse"]
    assert rows[0]["model"] == "RMSE" and rows[0]["rho_Dr"] == pytest.approx(1.0)
    assert rows[1]["rho_Din"] == pytest.approx(1.0) and rows[1]["rho_Dr"] > 0.95
    assert out["-mse"][1]["rho_Din"] == pytest.approx(-1.0)


def test_contrast_ratio_splits_into_distortion_and_rate_factors(test_images):
    from perceptual_compression.analysis.contrast import contrast_axis
    from perceptual_compression.coding import ImageCodec

    torch.manual_seed(0)
    a, b = factorized_prior(8, 8).eval(), factorized_prior(8, 8).eval()
    for m in (a, b):
        m.update(force=True)
    alphas = [0.3, 1.0, 1.7]
    one = img.contrast_performance([(a, b)], [test_images[0]], alphas)
    # one image: the ratio is exactly the distortion factor over the rate factor
    np.testing.assert_allclose(one["ratio"], one["distortion_ratio"] / one["rate_ratio"], rtol=1e-12)
    # the raw values are the real codec's: bytes of the bitstream and MSE of its decode
    xa = contrast_axis(test_images[0][None], 1.7)
    data = ImageCodec(b, "check").compress(xa)
    assert one["bpp_mse"][0, 2] == pytest.approx(8 * len(data) / (xa.shape[-1] * xa.shape[-2]))
    x_hat = ImageCodec(b, "check").decompress(data)
    assert one["mse_mse"][0, 2] == pytest.approx(((xa - x_hat) ** 2).mean().item(), rel=1e-6)
    np.testing.assert_allclose(one["ratio"][0], (one["mse_perceptual"] / one["bpp_perceptual"])[0]
                               / (one["mse_mse"] / one["bpp_mse"])[0], rtol=1e-12)
    many = img.contrast_performance([(a, b)], list(test_images), alphas)
    # several images: the quotient is the geometric mean of the per-image ratios, never above their mean
    assert many["distortion_ratio"].shape == many["rate_ratio"].shape == (1, 3)
    assert np.all(many["distortion_ratio"] / many["rate_ratio"] <= many["ratio"] * (1 + 1e-12))
    # the split table: one row per pair and quantity, columns at the grid points nearest to the requested
    # contrasts (0.2 and 0.4 both fall on 0.3), values read from the result, JSON lists accepted
    rows = img.contrast_factors({k: np.asarray(v).tolist() for k, v in many.items()}, at=(0.2, 0.4, 2.0))
    assert [r["quantity"] for r in rows][:3] == ["ratio P_MS-SSIM / P_MSE", "D factor (MSE / MSE)", "R factor (bpp / bpp)"]
    assert len(rows) == 5 and list(rows[0]) == ["pair", "quantity", "α = 0.3", "α = 1.7"]
    assert rows[1]["α = 1.7"] == pytest.approx(many["distortion_ratio"][0, 2])
    assert rows[4]["α = 0.3"] == pytest.approx(many["bpp_mse"][0, 0])
    # the mean-error diagnostic codes the same images the same way: the same MSE, never less after restoring the means
    me = img.contrast_mean_error(b, list(test_images), alphas)
    np.testing.assert_allclose(me["mse"], many["mse_mse"][0], rtol=1e-9)
    assert np.all(me["mse_means_restored"] <= me["mse"]) and np.all((0 <= me["mean_share"]) & (me["mean_share"] <= 1))


class _Scale(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        return self.c * x


def test_contrast_summary_reads_the_minimum_and_the_two_ends_of_the_axis():
    res = {"alpha": np.array([0.02, 0.1, 0.5, 1.0, 1.6, 2.0]), "mean": np.array([0.7, 0.6, 0.9, 1.0, 1.2, 1.4])}
    s = img.contrast_summary(res)
    assert s == {"min": 0.6, "alpha": 0.1, "low_mean": pytest.approx(0.65), "high_mean": pytest.approx(1.3)}
    assert img.contrast_summary(res, low_below=0.05)["low_mean"] == pytest.approx(0.7)


def test_zoo_models_load_both_metrics_per_quality_and_pair_them(monkeypatch):
    """The chapter's pretrained path: names, order and pairing (the loader itself: test_factorized_prior)."""
    calls = []

    def fake(q, metric, device=None, download=None):
        calls.append((q, metric))
        return f"{metric}{q}"

    monkeypatch.setattr(img.contrast, "load_zoo_factorized", fake)  # where zoo_models looks it up
    models = img.zoo_models((3, 6))
    assert calls == [(3, "mse"), (3, "ms-ssim"), (6, "mse"), (6, "ms-ssim")]
    assert models == {"mse-q3": "mse3", "ms-ssim-q3": "ms-ssim3", "mse-q6": "mse6", "ms-ssim-q6": "ms-ssim6"}
    assert img.zoo_pairs(models, (6, 3)) == [("ms-ssim6", "mse6"), ("ms-ssim3", "mse3")]
