"""Figures for codec chapters: rate–distortion curves against published points, and pretraining curves.

The published points are a table with a ``model`` column (one curve per model), ``bpp`` and one column per
metric (the format of ``data/reference/ch4_illm.json``'s ``published_<dataset>`` tables); our points are
dicts with ``label``, ``bpp`` and metric values (NaN or missing: not drawn, and the panel says so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: metric -> (axis label, higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "psnr": ("PSNR (dB) ↑", True),
    "ms_ssim": ("MS-SSIM ↑", True),
    "lpips": ("LPIPS-Alex ↓", False),
    "nlpd": ("NLPD ↓", False),
    "fid": ("FID/256 ↓", False),
    "swd": ("sliced Wasserstein ↓", False),
}
_STYLES = {"No-GAN": dict(color="tab:blue", marker="o"), "MS-ILLM": dict(color="tab:red", marker="s")}


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def rate_distortion_figure(published, ours: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ("psnr", "ms_ssim", "lpips"),
                           *, title: str | None = None, published_label: str = "published", log_rate: bool = True):
    """One panel per metric: published curves (lines) and our points (stars, annotated).

    ``published``: DataFrame with ``model``, ``bpp`` and the metric columns (None/NaN entries skipped).
    ``ours``: e.g. ``[{"label": "ours (small, 0.14)", "bpp": 0.21, "psnr": 24.1, "lpips": float("nan")}]``.
    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    import matplotlib.ticker as mticker

    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"unknown metric {m!r}; valid: {', '.join(METRICS)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        name, _ = METRICS[m]
        if published is not None and m in published.columns:
            for model, df in published.groupby("model", sort=False):
                df = df[[_finite(v) for v in df[m]]].sort_values("bpp")
                if len(df):
                    ax.plot(df["bpp"], df[m].astype(float), label=f"{model} ({published_label})", lw=1.5,
                            ms=4, **_STYLES.get(model, {}))
        drawn = False
        for p in ours:
            if _finite(p.get(m)) and _finite(p.get("bpp")):
                ax.plot([p["bpp"]], [p[m]], marker="*", ms=13, ls="none", color=p.get("color", "k"),
                        label=p["label"])
                drawn = True
        if not drawn and ours:
            ax.text(0.5, 0.05, "ours: not computed\n(weights unavailable)", transform=ax.transAxes, ha="center",
                    va="bottom", fontsize=8, color="0.35")
        if log_rate:
            ax.set_xscale("log")
            # the published targets span 0.00875 ... 0.9 bpp: label them plainly, no crowded minor labels
            ax.xaxis.set_major_locator(mticker.FixedLocator([0.01, 0.03, 0.1, 0.3, 1.0]))
            ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(mticker.NullFormatter())
        ax.set_xlabel("bits per pixel (real bitstreams)")
        ax.set_ylabel(name)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def pretraining_figure(history, schedule, *, smooth: int = 10):
    """Three panels over training steps: hard and noisy bpp with the target (early phase shaded), λ, PSNR.

    ``history``: a :class:`~perceptual_compression.training.TrainingHistory` from
    :func:`perceptual_compression.training.illm.pretrain`; ``schedule``: its :class:`RateTargetSchedule`.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    def sm(v):
        if len(v) < smooth or smooth <= 1:
            return v
        k = np.ones(smooth) / smooth
        return np.convolve(v, k, mode="valid")

    steps = history.steps("bpp_hard")
    fig, axes = plt.subplots(1, 3, figsize=(12.5, 3.2))
    ax = axes[0]
    off = (smooth - 1) if len(steps) >= smooth and smooth > 1 else 0
    ax.plot(steps[off:], sm(history.values("bpp_hard")), label="measured (rounded latents)")
    ax.plot(steps[off:], sm(history.values("bpp")), label="training proxy (noisy latents)", alpha=0.7)
    ax.plot(steps, history.values("target"), "k--", lw=1, label="target (×1.429 early)")
    ax.axvspan(0, schedule.early_steps, color="0.9", zorder=0)
    ax.set_xlabel("step")
    ax.set_ylabel("bits per pixel")
    ax.legend(fontsize=7)
    axes[1].plot(history.steps("lambda_mean"), history.values("lambda_mean"), drawstyle="steps-post")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("mean λ over the batch")
    axes[1].axvspan(0, schedule.early_steps, color="0.9", zorder=0)
    axes[2].plot(steps[off:], sm(history.values("psnr")))
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("training PSNR (dB)")
    for a in axes:
        a.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig
