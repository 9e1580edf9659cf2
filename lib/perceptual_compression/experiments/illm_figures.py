"""Figures of MS-ILLM part 2 (Muckley et al. 2023): the λ_d sweep (Fig. 1 / A2), label maps, qualitative crops."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from torch import Tensor

COLORS = {"illm": "tab:red", "patchgan": "tab:blue", "none": "0.4", "No-GAN (part 1)": "k"}
NAMES = {"illm": "MS-ILLM (ours)", "patchgan": "MS-PatchGAN (ours)", "none": "no adversarial term"}


def lambda_sweep_figure(df, *, fidelity: str = "swd", fidelity_label: str = "sliced Wasserstein distance",
                        title: str | None = None):
    """Left (Fig. A2): PSNR and statistical-fidelity distance against λ_d, per discriminator.
    Right (Fig. 1): distortion (the MSE at the mean PSNR, ``10^(-PSNR/10)``, i.e. the geometric mean of the images'
    MSEs) against the distance, one curve per discriminator, λ_d annotated.
    ``title``: a figure title above the three panels' own.

    ``df``: the table of :func:`perceptual_compression.training.illm_finetune.lambda_sweep`. λ_d = 0 (the
    fine-tuning without adversarial term) starts both curves.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    zero = df[df["discriminator"] == "none"]
    for kind in ("illm", "patchgan"):
        d = df[df["discriminator"] == kind]
        if not len(d):
            continue
        d = pd_concat(zero, d).sort_values("lambda_d")
        x = np.maximum(d["lambda_d"].to_numpy(), 1e-4)
        axes[0].plot(x, d["psnr"], "o-", color=COLORS[kind], label=NAMES[kind])
        axes[1].plot(x, d[fidelity], "o-", color=COLORS[kind], label=NAMES[kind])
        axes[2].plot(d[fidelity], d["mse"], "o-", color=COLORS[kind], label=NAMES[kind])
        for _, r in d.iterrows():
            axes[2].annotate(f"{r['lambda_d']:g}", (r[fidelity], r["mse"]), fontsize=7, xytext=(3, 3),
                             textcoords="offset points")
    base = df[df["discriminator"] == "No-GAN (part 1)"]
    if len(base):
        axes[2].plot(base[fidelity], base["mse"], "k*", ms=12, label="No-GAN (part 1)")
    for ax in axes[:2]:
        ax.set_xscale("log")
        ax.set_xlabel("λ_d (λ_d = 0 drawn at 1e-4)")
    axes[0].set_ylabel("PSNR (dB)")
    axes[0].set_title("distortion rises with λ_d", fontsize=9)
    axes[1].set_ylabel(fidelity_label)
    axes[1].set_title("the distribution distance falls", fontsize=9)
    axes[2].set_xlabel(f"{fidelity_label} (statistical fidelity: lower is better)")
    axes[2].set_ylabel("MSE at the mean PSNR (geometric mean)")
    axes[2].set_title("distortion vs statistical fidelity (Fig. 1)", fontsize=9)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    axes[2].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93) if title else None)
    return fig


def pd_concat(a, b):
    import pandas as pd

    return pd.concat([a, b], ignore_index=True)


def label_map_figure(image: Tensor, labels: Tensor, *, title: str = ""):
    """An image beside its label map u(x) (random colours per label; the grid is the label resolution)."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    palette = rng.random((int(labels.max()) + 1, 3))
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    axes[0].imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
    axes[0].set_title("image", fontsize=9)
    axes[1].imshow(palette[labels.numpy()], interpolation="nearest")
    axes[1].set_title(f"labels u(x): {labels.shape[0]}×{labels.shape[1]}, {len(np.unique(labels.numpy()))} distinct",
                      fontsize=9)
    for ax in axes:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def crops_figure(original: Tensor, reconstructions: Mapping[str, Tensor], boxes: Sequence[tuple[int, int, int]]):
    """Figs. 4/A3: crops (top, left, size) of the original and each reconstruction, PSNR of the crop in the title."""
    import matplotlib.pyplot as plt

    cols = ["original", *reconstructions]
    fig, axes = plt.subplots(len(boxes), len(cols), figsize=(2.6 * len(cols), 2.7 * len(boxes)), squeeze=False)
    for r, (top, left, size) in enumerate(boxes):
        ref = original[:, top:top + size, left:left + size]
        for c, name in enumerate(cols):
            img = ref if name == "original" else reconstructions[name][:, top:top + size, left:left + size]
            axes[r][c].imshow(img.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            if name != "original":
                mse = float(((img - ref) ** 2).mean())
                name = f"{name}\n{-10 * np.log10(max(mse, 1e-10)):.2f} dB"
            axes[r][c].set_title(name, fontsize=8)
            axes[r][c].axis("off")
    fig.tight_layout()
    return fig
