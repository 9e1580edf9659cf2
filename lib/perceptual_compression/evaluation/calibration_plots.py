"""Figures of the equivalent-noise calibration (PIM paper, appendix A.3: Figs. 5, 6, 8 and 9)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..augment.imagenet_c import CORRUPTION_LABELS, GAUSSIAN_NOISE_SIGMAS, FrostTextures, corrupt
from .calibration import add_noise

__all__ = ["plot_equivalent_sigma", "plot_histograms", "plot_corruption_examples", "METRIC_COLOURS"]

METRIC_COLOURS = {"MS-SSIM": "#1f77b4", "NLPD": "#2ca02c", "PIM": "#d62728",
                  "LPIPS-Alex": "#9467bd", "LPIPS-Alex-lin": "#8c564b"}


def _colour(metric: str, i: int):
    import matplotlib.pyplot as plt

    return METRIC_COLOURS.get(metric, plt.rcParams["axes.prop_cycle"].by_key()["color"][i % 10])


def plot_equivalent_sigma(equivalent, *, metrics: Sequence[str] | None = None,
                          corruptions: Sequence[str] | None = None, ncols: int = 6):
    """Fig. 6: equivalent Gaussian-noise σ of each corruption (one panel) against severity, one line per metric."""
    import matplotlib.pyplot as plt

    metrics = list(metrics or equivalent["metric"].unique())
    corruptions = list(corruptions or equivalent["corruption"].unique())
    nrows = int(np.ceil(len(corruptions) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.0 * nrows), sharex=True, sharey=True,
                             squeeze=False)
    ymax = float(equivalent["sigma_equivalent"].max()) * 1.08
    for ax, name in zip(axes.flat, corruptions):
        for i, m in enumerate(metrics):
            d = equivalent[(equivalent.metric == m) & (equivalent.corruption == name)].sort_values("severity")
            ax.plot(d["severity"], d["sigma_equivalent"], "o-", ms=3, lw=1.4, color=_colour(m, i), label=m)
        if name == "gaussian_noise":
            ax.plot(range(1, 6), GAUSSIAN_NOISE_SIGMAS, "k:", lw=1, label="true σ")
        ax.set_title(CORRUPTION_LABELS.get(name, name), fontsize=9)
        ax.set_xticks(range(1, 6))
        ax.set_ylim(0, ymax)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(corruptions):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("equivalent σ")
    for ax in axes[-1, :]:
        ax.set_xlabel("severity")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def plot_histograms(values, *, corruptions: Sequence[str], metrics: Sequence[str] | None = None,
                    noise_sigmas: Sequence[float] = GAUSSIAN_NOISE_SIGMAS, bins: int = 16):
    """Fig. 5: per-image metric values of the five severities (reds) and of some noise levels (purple to green).

    Rows: corruptions; columns: metrics. The noise levels shown are the calibration levels nearest to
    ``noise_sigmas``.
    """
    import matplotlib.pyplot as plt

    metrics = list(metrics or values["metric"].unique())
    noise = values[values.kind == "noise"]
    grid = np.sort(noise["sigma"].unique())
    shown = sorted({float(grid[np.argmin(np.abs(grid - s))]) for s in noise_sigmas})
    reds = plt.get_cmap("Reds")(np.linspace(0.35, 0.95, 5))
    greens = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(shown)))
    fig, axes = plt.subplots(len(corruptions), len(metrics), figsize=(3.0 * len(metrics), 1.9 * len(corruptions)),
                             squeeze=False)
    for j, m in enumerate(metrics):
        vm = values[values.metric == m]
        lo, hi = float(vm["value"].min()), float(vm["value"].max())
        edges = np.linspace(lo, hi + 1e-12, bins + 1)
        for i, name in enumerate(corruptions):
            ax = axes[i, j]
            for s, c in zip(shown, greens):
                v = vm[(vm.kind == "noise") & np.isclose(vm.sigma, s)]["value"]
                ax.hist(v, bins=edges, histtype="stepfilled", alpha=0.35, color=c, label=f"noise σ={s:.3f}")
            for sev in range(1, 6):
                v = vm[(vm.kind == "corruption") & (vm.corruption == name) & (vm.severity == sev)]["value"]
                ax.hist(v, bins=edges, histtype="step", lw=1.6, color=reds[sev - 1], label=f"severity {sev}")
            ax.set_yticks([])
            if i == 0:
                ax.set_title(m, fontsize=10)
            if j == 0:
                ax.set_ylabel(CORRUPTION_LABELS.get(name, name), fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, frameon=False, fontsize=8, bbox_to_anchor=(0.5, -0.01))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_corruption_examples(image: torch.Tensor, equivalent, *, corruptions: Sequence[str],
                             severities: Sequence[int] = (3,), metric: str = "PIM", seed: int = 0,
                             textures: FrostTextures | None = None, ncols: int = 5,
                             metrics_in_titles: Sequence[str] | None = None):
    """Figs. 8 and 9: corrupted versions of one image, each beside additive noise of its equivalent σ under ``metric``.

    Each tile shows the corruption (left half) and Gaussian noise at the equivalent σ (right half);
    titles list the equivalent σ under every metric in ``metrics_in_titles``.
    """
    import matplotlib.pyplot as plt

    metrics_in_titles = list(metrics_in_titles or equivalent["metric"].unique())
    jobs = [(c, s) for c in corruptions for s in severities]
    nrows = int(np.ceil(len(jobs) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.2 * nrows), squeeze=False)
    x = image.unsqueeze(0) if image.dim() == 3 else image[:1]
    w = x.shape[-1]
    for k, (ax, (name, sev)) in enumerate(zip(axes.flat, jobs)):
        rng = np.random.default_rng([seed, 7, k])
        bad = corrupt(x, name, sev, rng, textures=textures)[0]
        eq = equivalent[(equivalent.corruption == name) & (equivalent.severity == sev)].set_index("metric")
        sigma = float(eq.loc[metric, "sigma_equivalent"]) if metric in eq.index else float("nan")
        noisy = add_noise(x, sigma, np.random.default_rng([seed, 8, k]))[0] if np.isfinite(sigma) else x[0]
        tile = torch.cat([bad[..., : w // 2], noisy[..., w // 2:]], dim=-1)
        ax.imshow(tile.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.axvline(w // 2 - 0.5, color="w", lw=1)
        sig_text = ", ".join(f"{m} {eq.loc[m, 'sigma_equivalent']:.2f}" for m in metrics_in_titles if m in eq.index)
        ax.set_title(f"{CORRUPTION_LABELS.get(name, name)} {sev}\nσ: {sig_text}", fontsize=7)
        ax.axis("off")
    for ax in axes.flat[len(jobs):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
