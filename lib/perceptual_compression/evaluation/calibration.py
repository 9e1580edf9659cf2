"""Equivalent Gaussian-noise levels of image corruptions under a metric (PIM paper, appendix A.3).

To put metrics with different scales on one axis, the paper expresses every corruption by the
standard deviation of additive Gaussian noise that the metric finds equally strong:

1. add Gaussian noise at 40 standard deviations from 0.01 to 0.60 (pixel values in [0, 1]) to the
   clean images and average the metric over the images, giving one curve per metric;
2. average the metric over the images for each corruption and severity;
3. the equivalent σ is the noise level whose average metric value is nearest (:func:`equivalent_sigma`).

ImageNet-C's own Gaussian-noise corruption must map back to its standard deviations
(0.08, 0.12, 0.18, 0.26, 0.38) up to the grid spacing: :func:`gaussian_noise_check` is the
self-check of Fig. 5's first row. :func:`metric_values` computes the table of per-image metric values
that all of this (and the histograms of Fig. 5) is computed from.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from ..augment.imagenet_c import (
    ALL_CORRUPTIONS,
    GAUSSIAN_NOISE_SIGMAS,
    SEVERITIES,
    FrostTextures,
    additive_gaussian_noise,
    corrupt,
)

__all__ = [
    "imagenet_crop",
    "noise_levels",
    "add_noise",
    "metric_values",
    "mean_curves",
    "equivalent_sigma",
    "gaussian_noise_check",
]

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def imagenet_crop(image: torch.Tensor, size: int = 224) -> torch.Tensor:
    """ImageNet-C's preprocessing of a photograph: resize the shorter side to ``size * 256 / 224``
    (``Resize(256)`` for 224), antialiased, then take the central ``size × size`` crop. (3, H, W) -> (3, size, size)."""
    if image.dim() != 3:
        raise ValueError(f"expected one (3, H, W) image, got shape {tuple(image.shape)}")
    h, w = image.shape[-2:]
    short = round(size * 256 / 224)
    nh, nw = (short, max(short, round(w * short / h))) if h <= w else (max(short, round(h * short / w)), short)
    out = torch.nn.functional.interpolate(image[None].float(), size=(nh, nw), mode="bilinear", antialias=True,
                                          align_corners=False)[0]
    top, left = (nh - size) // 2, (nw - size) // 2
    return out[:, top:top + size, left:left + size].clamp(0, 1).contiguous()


def noise_levels(n: int = 40, low: float = 0.01, high: float = 0.60) -> np.ndarray:
    """The calibration grid: ``n`` evenly spaced standard deviations in [low, high] (A.3: 40 in [0.01, 0.60])."""
    if n < 2 or not 0 < low < high:
        raise ValueError("need n >= 2 and 0 < low < high")
    return np.linspace(low, high, n)


def add_noise(images: torch.Tensor, sigma: float, rng: np.random.Generator) -> torch.Tensor:
    """``clip(x + N(0, σ²), 0, 1)`` on a batch (B, 3, H, W): the same operation as ImageNet-C's Gaussian noise."""
    arr = images.detach().cpu().double().permute(0, 2, 3, 1).numpy()
    out = np.stack([additive_gaussian_noise(a, sigma, rng) for a in arr])
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(images.dtype).contiguous()


def _evaluate(metrics: Mapping[str, Metric], clean: torch.Tensor, distorted: torch.Tensor) -> dict[str, np.ndarray]:
    out = {}
    with torch.no_grad():
        for name, fn in metrics.items():
            v = fn(clean, distorted)
            out[name] = np.asarray(torch.as_tensor(v).detach().cpu().double()).reshape(-1)
            if out[name].shape[0] != clean.shape[0]:
                raise ValueError(f"metric {name!r} returned {out[name].shape[0]} values for {clean.shape[0]} images")
    return out


def metric_values(
    metrics: Mapping[str, Metric],
    images: torch.Tensor,
    *,
    corruptions: Sequence[str] = ALL_CORRUPTIONS,
    severities: Sequence[int] = SEVERITIES,
    sigmas: Sequence[float] | None = None,
    seed: int = 0,
    textures: FrostTextures | None = None,
    progress: bool | None = None,
):
    """Per-image metric values for every corruption × severity and every calibration noise level.

    ``metrics`` maps a name to ``fn(x, x_hat) -> Tensor[B]`` (e.g. MS-SSIM, NLPD, a PIM distance);
    ``images``: (N, 3, H, W) in [0, 1]. Each corrupted batch is made once and scored by every metric.
    Randomness is derived from ``seed`` per (corruption, severity) and per noise level, so results do
    not depend on which metrics are evaluated. Returns a pandas DataFrame with columns ``metric``,
    ``kind`` ("corruption" | "noise"), ``corruption``, ``severity``, ``sigma``, ``image``, ``value``.
    """
    import pandas as pd

    from ..training.loop import _progress_enabled

    unknown = [c for c in corruptions if c not in ALL_CORRUPTIONS]
    if unknown:
        raise ValueError(f"unknown corruptions {unknown}; valid values are: {', '.join(ALL_CORRUPTIONS)}")
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, H, W), got {tuple(images.shape)}")
    sigmas = noise_levels() if sigmas is None else np.asarray(sigmas, dtype=float)
    jobs = [("corruption", c, s) for c in corruptions for s in severities]
    jobs += [("noise", None, i) for i in range(len(sigmas))]
    rows: list[dict] = []
    bar = None
    if _progress_enabled(progress):
        import sys

        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="calibration", file=sys.stderr, mininterval=2.0)
    n = images.shape[0]
    for kind, name, s in jobs:
        if kind == "corruption":
            rng = np.random.default_rng([seed, 0, ALL_CORRUPTIONS.index(name), s])
            distorted = corrupt(images, name, s, rng, textures=textures)
            sev, sig = s, np.nan
        else:
            rng = np.random.default_rng([seed, 1, s])
            distorted = add_noise(images, float(sigmas[s]), rng)
            sev, sig = np.nan, float(sigmas[s])
        for metric, vals in _evaluate(metrics, images, distorted).items():
            for i in range(n):
                rows.append({"metric": metric, "kind": kind, "corruption": name or "additive_noise",
                             "severity": sev, "sigma": sig, "image": i, "value": float(vals[i])})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return pd.DataFrame(rows)


def mean_curves(values):
    """Average metric value per noise level: DataFrame (metric, sigma, value)."""
    noise = values[values["kind"] == "noise"]
    return noise.groupby(["metric", "sigma"], as_index=False)["value"].mean()


def equivalent_sigma(values):
    """The equivalent noise σ of every corruption × severity, per metric (nearest average metric value).

    Returns a DataFrame with columns ``metric``, ``corruption``, ``severity``, ``value`` (the average
    metric value of the corruption) and ``sigma_equivalent``.
    """
    import pandas as pd

    curves = mean_curves(values)
    corr = values[values["kind"] == "corruption"]
    means = corr.groupby(["metric", "corruption", "severity"], as_index=False, sort=False)["value"].mean()
    out = []
    for metric, group in means.groupby("metric", sort=False):
        curve = curves[curves["metric"] == metric].sort_values("sigma")
        if curve.empty:
            raise ValueError(f"no noise curve for metric {metric!r}")
        sig, val = curve["sigma"].to_numpy(), curve["value"].to_numpy()
        for _, row in group.iterrows():
            k = int(np.argmin(np.abs(val - row["value"])))
            out.append({"metric": metric, "corruption": row["corruption"], "severity": int(row["severity"]),
                        "value": float(row["value"]), "sigma_equivalent": float(sig[k])})
    return pd.DataFrame(out)


def gaussian_noise_check(equivalent, sigmas: Sequence[float] | None = None):
    """Self-check of the calibration: ImageNet-C Gaussian noise must map back to σ = 0.08, …, 0.38.

    ``equivalent`` is the output of :func:`equivalent_sigma`. A severity passes when its equivalent σ
    is one of the two grid levels that bracket the true σ (the best a 40-level grid can do).
    Returns a DataFrame (metric, severity, sigma_true, sigma_equivalent, error, ok).
    """
    import pandas as pd

    grid = noise_levels() if sigmas is None else np.asarray(sigmas, dtype=float)
    step = float(np.max(np.diff(np.sort(grid))))
    g = equivalent[equivalent["corruption"] == "gaussian_noise"]
    rows = []
    for _, r in g.iterrows():
        true = GAUSSIAN_NOISE_SIGMAS[int(r["severity"]) - 1]
        err = float(r["sigma_equivalent"] - true)
        rows.append({"metric": r["metric"], "severity": int(r["severity"]), "sigma_true": true,
                     "sigma_equivalent": float(r["sigma_equivalent"]), "error": err, "ok": abs(err) < step + 1e-9})
    return pd.DataFrame(rows)
