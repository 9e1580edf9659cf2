"""Chapter 2, Fig. 4 (right): rate-normalised performance of an MS-SSIM model relative to an MSE model along
the contrast axis (eq. 12 and 14).

- :func:`contrast_performance` measures it by coding each image for real; :func:`contrast_summary` reads it;
  :func:`contrast_factors` splits its ratio into a distortion and a rate factor;
- :func:`contrast_mean_error` and :func:`means_restored_factors`: the part of the error that is the channel means;
- :func:`zoo_models` / :func:`zoo_pairs`: the pretrained pairs the paper's setting needs (appendix D).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ...analysis.contrast import contrast_axis
from ...analysis.relative_performance import relative_performance
from ...models.factorized_prior import load_zoo_factorized
from .evaluation import restore_channel_means

Tensor = torch.Tensor


@torch.no_grad()
def contrast_performance(model_pairs: Sequence[tuple[object, object]], images: Sequence[Tensor], alphas: Sequence[float], *,
                         low: float = 0.0, high: float = 2.0, codec_prefix: str = "ch2-contrast") -> dict[str, np.ndarray]:
    """Relative performance ``P_perceptual / P_mse`` with ``P = MSE / bpp`` along the contrast axis (Fig. 4 right).

    ``model_pairs``: ``(perceptual model, MSE model)`` trained for similar rates; ``images``: ``(3, H, W)``
    tensors (a batch or a list). For every ``alpha`` each image ``x(alpha)`` (eq. 14) is coded for real by
    both models; ``P`` uses the mean squared error of the decoded image and the real bits per pixel (eq. 12).

    Returns ``alpha``, ``ratio`` (per pair, mean over images) and its mean over pairs, ``mean`` ("average
    across rates"). Beside them, the two factors of the ratio, each a geometric mean over images per pair
    and ``alpha``: ``distortion_ratio`` (MSE of the perceptual model / MSE of the MSE model) and
    ``rate_ratio`` (bpp / bpp); per image the ratio is exactly ``distortion_ratio / rate_ratio``, so their
    quotient is the geometric mean of the per-image ratios (at most ``ratio``, equal for one image). And the
    raw values, mean over images: ``bpp_perceptual``, ``bpp_mse``, ``mse_perceptual``, ``mse_mse``.
    """
    from ...coding import ImageCodec

    # values[k, a, i, j]: pair k, alpha a, image i; j = (D perceptual, R perceptual, D mse, R mse)
    values = np.zeros((len(model_pairs), len(alphas), len(images), 4))
    for k, (perc, mse_model) in enumerate(model_pairs):
        codecs = [ImageCodec(perc, f"{codec_prefix}-perceptual-{k}"), ImageCodec(mse_model, f"{codec_prefix}-mse-{k}")]
        for ia, a in enumerate(alphas):
            for ii, x in enumerate(images):
                xa = contrast_axis(x[None], float(a), low=low, high=high)
                for ic, codec in enumerate(codecs):
                    data = codec.compress(xa)
                    x_hat = codec.decompress(data).to(xa.device)
                    values[k, ia, ii, 2 * ic] = ((xa - x_hat) ** 2).mean().item()
                    values[k, ia, ii, 2 * ic + 1] = 8 * len(data) / (xa.shape[-1] * xa.shape[-2])
    d_p, r_p, d_m, r_m = (values[..., j] for j in range(4))
    per_image = relative_performance(d_p, r_p, d_m, r_m)
    r = per_image.mean(-1)
    tiny = np.finfo(np.float64).tiny  # a lossless decode (D = 0) gives a geometric mean of 0, not a NaN
    return {"alpha": np.asarray(alphas, dtype=np.float64), "ratio": r, "mean": r.mean(0),
            "distortion_ratio": np.exp(np.log(np.maximum(d_p, tiny) / np.maximum(d_m, tiny)).mean(-1)),
            "rate_ratio": np.exp(np.log(r_p / r_m).mean(-1)),
            "bpp_perceptual": r_p.mean(-1), "bpp_mse": r_m.mean(-1), "mse_perceptual": d_p.mean(-1), "mse_mse": d_m.mean(-1)}


def contrast_summary(res: dict, *, low_below: float = 0.5, high_above: float = 1.5) -> dict[str, float]:
    """The numbers the chapter reads from :func:`contrast_performance`: the minimum of the mean ratio (``min``)
    and its contrast (``alpha``), and the mean ratio below ``low_below`` (``low_mean``, the likely low-contrast
    images) and above ``high_above`` (``high_mean``). The status rule on them is
    :func:`~perceptual_compression.experiments.ch2_findings.contrast_status` (below 1 at some low contrast)."""
    a, mean = np.asarray(res["alpha"], dtype=np.float64), np.asarray(res["mean"], dtype=np.float64)
    i = int(np.argmin(mean))
    return {"min": float(mean[i]), "alpha": float(a[i]), "low_mean": float(mean[a < low_below].mean()),
            "high_mean": float(mean[a > high_above].mean())}


def zoo_models(qualities: Sequence[int], *, device=None, download: bool | None = None) -> dict[str, object]:
    """CompressAI's pretrained factorized-prior models for ``qualities``, named ``"mse-q<k>"`` and
    ``"ms-ssim-q<k>"`` (:func:`~perceptual_compression.models.factorized_prior.load_zoo_factorized`): the
    PyTorch counterparts of the pretrained tensorflow-compression models the paper measures (appendix D).
    Raises :class:`~perceptual_compression.assets.AssetUnavailableError` at the first file that cannot be had."""
    return {f"{metric}-q{q}": load_zoo_factorized(q, metric, device=device, download=download)
            for q in qualities for metric in ("mse", "ms-ssim")}


def zoo_pairs(models: dict[str, object], qualities: Sequence[int]) -> list[tuple[object, object]]:
    """``(MS-SSIM model, MSE model)`` per quality from :func:`zoo_models` (the order of
    :func:`contrast_performance`)."""
    return [(models[f"ms-ssim-q{q}"], models[f"mse-q{q}"]) for q in qualities]


def contrast_factors(res: dict, at: Sequence[float] = (0.02, 0.1, 0.5, 1.0, 2.0)) -> list[dict]:
    """Rows (pair, quantity, one column per contrast) that split :func:`contrast_performance`'s ratio into its
    distortion and rate factors at the grid points nearest to ``at``, beside each model's mean bpp.

    ``res`` may hold lists (a JSON record) or arrays. Columns are named ``"α = <value on the grid>"``; a grid
    point nearest to two of ``at`` appears once."""
    alpha = np.asarray(res["alpha"], dtype=np.float64)
    cols = sorted({int(np.argmin(np.abs(alpha - a))) for a in at})
    quantities = {"ratio P_MS-SSIM / P_MSE": "ratio", "D factor (MSE / MSE)": "distortion_ratio",
                  "R factor (bpp / bpp)": "rate_ratio", "bpp, MS-SSIM model": "bpp_perceptual", "bpp, MSE model": "bpp_mse"}
    rows = []
    for k in range(len(res["ratio"])):
        for label, key in quantities.items():
            v = np.asarray(res[key], dtype=np.float64)[k]
            rows.append({"pair": k, "quantity": label, **{f"α = {alpha[j]:g}": float(v[j]) for j in cols}})
    return rows


@torch.no_grad()
def contrast_mean_error(model, images: Sequence[Tensor], alphas: Sequence[float], *, low: float = 0.0,
                        high: float = 2.0, codec_id: str = "ch2-contrast-mean-error") -> dict[str, np.ndarray]:
    """How much of a model's MSE along the contrast axis is an error of the per-channel mean (a diagnostic).

    Each ``x(alpha)`` (eq. 14) is coded for real; returns per ``alpha`` (means over images) ``mse``, as in
    :func:`contrast_performance`, ``mse_means_restored``, the MSE after :func:`restore_channel_means` (never
    larger), and ``mean_share = 1 - mse_means_restored / mse``: the part of the error that is overall brightness
    and colour cast rather than structure."""
    from ...coding import ImageCodec

    codec = ImageCodec(model, codec_id)
    mse = np.zeros((len(alphas), len(images)))
    restored = np.zeros_like(mse)
    for ia, a in enumerate(alphas):
        for ii, x in enumerate(images):
            xa = contrast_axis(x[None], float(a), low=low, high=high)
            x_hat = codec.decompress(codec.compress(xa)).to(xa.device)
            mse[ia, ii] = ((xa - x_hat) ** 2).mean().item()
            restored[ia, ii] = ((xa - restore_channel_means(xa, x_hat)) ** 2).mean().item()
    m, r = mse.mean(-1), restored.mean(-1)
    return {"alpha": np.asarray(alphas, dtype=np.float64), "mse": m, "mse_means_restored": r, "mean_share": 1.0 - r / m}


def means_restored_factors(contrast: dict, mean_error: dict, rates: Sequence[int]) -> list[dict]:
    """Rows (pair, alpha) that join a :func:`contrast_performance` record (``contrast``) and the
    :func:`contrast_mean_error` results of the same models (``mean_error``: ``alpha`` and ``models``, keyed
    ``"ms-ssim-q<r+1>"`` / ``"mse-q<r+1>"`` for ``r`` in ``rates``): each model's share of the channel means in its
    MSE, the distortion factor with the means restored, and that factor over the rate factor at the nearest
    contrast of ``contrast``, an approximate ratio with the means restored (a diagnostic, not a codec)."""
    grid = np.asarray(contrast["alpha"], dtype=np.float64)
    rows = []
    for k, r in enumerate(rates):
        ms, mse = mean_error["models"][f"ms-ssim-q{r + 1}"], mean_error["models"][f"mse-q{r + 1}"]
        for j, a in enumerate(mean_error["alpha"]):
            r_f = contrast["rate_ratio"][k][int(np.argmin(np.abs(grid - a)))]
            d_rest = ms["mse_means_restored"][j] / mse["mse_means_restored"][j]
            rows.append({"pair": f"q{r + 1}", "α": a, "means' share of MSE, MS-SSIM model": ms["mean_share"][j],
                         "means' share of MSE, MSE model": mse["mean_share"][j],
                         "D factor, means restored": d_rest, "≈ ratio, means restored (D / R factor)": d_rest / r_f})
    return rows
