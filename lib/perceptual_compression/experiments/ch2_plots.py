"""Figures of Chapter 2, drawn like the paper's (Hepburn et al., ICLR 2022). Each returns the figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def observation1(rows, sigmas, paper: dict[str, float] | None = None):
    """Fig. 6: Spearman correlations against the noise deviation, one panel per perceptual distance."""
    names = list(dict.fromkeys(r["distance"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        rr = [r for r in rows if r["distance"] == name]
        s = [r["sigma"] for r in rr]
        ax.plot(s, [r["rho_sensitivity_logp"] for r in rr], "o-", color="tab:red", label=r"$\rho(D_p/\mathrm{RMSE}, \log p)$")
        ax.plot(s, [r["rho_distance_rmse"] for r in rr], "s-", color="tab:orange", label=r"$\rho(D_p, \mathrm{RMSE})$")
        ax.plot(s, [r["rho_rmse_logp"] for r in rr], "^-", color="tab:blue", label=r"$\rho(\mathrm{RMSE}, \log p)$")
        if paper and name in paper:
            ax.plot([1.0], [paper[name]], "*", ms=13, color="k", label="paper, σ=1")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("noise σ (0-255)")
        ax.set_ylabel("Spearman ρ")
        ax.set_title(name)
        ax.set_ylim(-1, 1)
    axes[0][-1].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def student_t(source, samples: torch.Tensor, extent=(-4, 4, -2, 2)):
    """Fig. 11 a-b: samples and density of the 2D Student-t."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 2.6))
    s = samples.cpu().numpy()
    axes[0].plot(s[:, 0], s[:, 1], ".", ms=1, alpha=0.4)
    axes[0].set_title("(a) samples")
    xs = torch.linspace(extent[0], extent[1], 300)
    ys = torch.linspace(extent[2], extent[3], 150)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    dens = source.prob(torch.stack([gx, gy], -1).double()).numpy()
    axes[1].imshow(dens, extent=extent, origin="lower", aspect="auto", cmap="Blues")
    axes[1].set_title("(b) density")
    for ax in axes:
        ax.set_xlim(extent[:2])
        ax.set_ylim(extent[2:])
    fig.tight_layout()
    return fig


def fig2(rows_by_rate, paper_points=None):
    """Fig. 2: Spearman correlation of D_s, D_r/RMSE, D_in/RMSE with p(x1) per rate (bits per sample).

    ``paper_points``: ``(distance, rate, rho)`` with distance ``"D_s"``, ``"D_r"`` or ``"D_in"``; a value whose rate
    the paper does not state (``rate=None``) is drawn as a dotted horizontal line instead of a star.
    """
    colors = {"D_s": "tab:blue", "D_r": "tab:orange", "D_in": "tab:green"}
    fig, ax = plt.subplots(figsize=(6, 3.6))
    rate = [r["bits_per_sample"] for r in rows_by_rate]
    for key, label, marker, color in (("rho_Ds", r"$D_s$", "o", colors["D_s"]), ("rho_Dr", r"$D_r/\mathrm{RMSE}$", "s", colors["D_r"]),
                                      ("rho_Din", r"$D_{in}/\mathrm{RMSE}$", "^", colors["D_in"])):
        ax.plot(rate, [r[key] for r in rows_by_rate], marker + "-", color=color, label=label + " (ours)")
    if paper_points:
        for name, x, y in paper_points:
            if name not in colors:
                raise ValueError(f"paper point for {name!r}: the distance must be one of {sorted(colors)}")
            if x is None:
                ax.axhline(y, color=colors[name], ls=":", lw=1.4)
            else:
                ax.plot([x], [y], "*", ms=12, color=colors[name], mec="k")
        if any(x is not None for _, x, _ in paper_points):
            ax.plot([], [], "*", color="0.5", mec="k", ms=12, label="paper (values in the text)")
        if any(x is None for _, x, _ in paper_points):
            ax.plot([], [], ":", color="0.5", lw=1.4, label="paper, rate not stated")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("rate (bits per 2D sample, real bitstream)")
    ax.set_ylabel(r"Spearman $\rho(D, p(x_1))$")
    ax.set_ylim(-1, 1)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def cells(panels, extent=(-4, 4, -2, 2), source=None):
    """Figs. 11c, 12, 13: quantization cells (boundaries) and code vectors (dots) over the log-density.

    ``panels``: list of ``(title, (xs, ys, labels, codes))`` from ``ch2_study2d.quantization_cells``.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 2.6), squeeze=False)
    for ax, (title, (xs, ys, labels, codes)) in zip(axes[0], panels):
        if source is not None:
            gx, gy = np.meshgrid(xs, ys)
            logp = source.log_prob(torch.from_numpy(np.stack([gx, gy], -1))).numpy()
            ax.imshow(logp, extent=extent, origin="lower", aspect="auto", cmap="Blues", vmin=logp.max() - 8)
        edges = np.zeros(labels.shape, dtype=bool)
        edges[1:, :] |= labels[1:, :] != labels[:-1, :]
        edges[:, 1:] |= labels[:, 1:] != labels[:, :-1]
        edges[:-1, :] |= edges[1:, :].copy()  # two pixels wide, so that no line vanishes when resampled
        ax.imshow(np.ma.masked_where(~edges, edges), extent=extent, origin="lower", aspect="auto", cmap="Greys",
                  vmin=0, vmax=1, interpolation="nearest")
        ax.plot(codes[:, 0], codes[:, 1], "o", ms=3, color="tab:red")
        ax.set_xlim(extent[:2])
        ax.set_ylim(extent[2:])
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def relative_2d(rel, paper_gain=None, ylim: tuple[float, float] | None = (0.0, 3.0), gamma: float = 0.1):
    """Fig. 4 left / Fig. 14: relative performance along the x-axis (fit and raw).

    ``ylim`` (default 0-3) keeps the curves near 1 readable: at the lowest
    rates eq. 12 divides by a rate near 0 and single windows reach ratios in the hundreds; each panel says
    how many values lie outside it and the largest. ``None`` shows everything. ``gamma``: the exponent of
    ``p(x)`` in the weighted model's loss (for the axis label)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for lam, fit, raw in zip(rel["lambdas"], rel["fit"], rel["raw"]):
        axes[0].plot(rel["x"], fit, label=f"λ={lam:g}")
        axes[1].plot(rel["x"], raw, lw=0.6, label=f"λ={lam:g}")
    axes[0].plot(rel["x"], rel["mean_fit"], "k", lw=2, label="mean over rates")
    if paper_gain is not None:
        axes[0].plot([0], [paper_gain], "*", ms=13, color="k", mfc="gold", label="paper: max mean gain")
    for ax, t in zip(axes, ("(a) degree-20 polynomial fit", "(b) raw values (per window of points)")):
        ax.axhline(1, ls="--", color="0.5")
        ax.set_xlabel("x (points (x, 0))")
        ax.set_ylabel(rf"$P_{{p^{{{gamma:g}}}}} / P$")
        ax.set_title(t, fontsize=9)
    if ylim is not None:
        for ax, key in zip(axes, ("fit", "raw")):
            v = np.asarray(rel[key], dtype=float)
            out = (v < ylim[0]) | (v > ylim[1])
            ax.set_ylim(*ylim)
            if out.any():
                ax.set_title(f"{ax.get_title()}\n{int(out.sum())} of {v.size} values off the axis (all within "
                             f"{v.min():.2g} to {v.max():.3g})", fontsize=9)
    axes[0].legend(fontsize=7, ncol=2, loc="upper left")
    fig.tight_layout()
    return fig


def seed_spread(spread, paper_dr=(0.49, 0.31), paper_gain=None):
    """Fig. 2's ρ(D_r/RMSE, p) and Fig. 4's centre ratio per lambda over several seeds
    (:func:`~perceptual_compression.experiments.ch2_study2d.across_seeds`): one dot per seed, the mean as a line."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    bits = spread["mean"]["bits"]
    for ax, key, ylabel in zip(axes, ("rho_Dr", "centre_ratio"),
                               (r"$\rho_S(D_r/\mathrm{RMSE},\ p(x_1))$", r"$P_{p^{0.1}}/P$ near the centre (x < 1)")):
        for s, seed in enumerate(spread["seeds"]):
            ax.plot(spread["bits"][s], spread[key][s], "o", ms=4, alpha=0.7, label=f"seed {seed}")
        ax.plot(bits, spread["mean"][key], "k-", lw=1.5, label="mean over seeds")
        ax.set_xlabel("bits per sample (coded, mean over seeds)")
        ax.set_ylabel(ylabel)
    axes[0].axhline(0, ls="--", color="0.5")
    axes[0].plot([], [], " ", label=f"paper: {paper_dr[0]} → {paper_dr[1]}")
    for v in paper_dr:
        axes[0].axhline(v, ls=":", color="tab:red")
    axes[1].axhline(1, ls="--", color="0.5")
    if paper_gain is not None:
        axes[1].axhline(paper_gain, ls=":", color="tab:red", label=f"paper: {paper_gain} (mean over rates)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def correlations_over_training(rows, paper_length=None, x: str = "steps", paper_ds=(-0.68, -0.4, -0.18),
                               paper_dr=(0.49, 0.31), paper_din=0.90):
    """Fig. 2's three correlations against training length (log axis): ``x`` = ``"steps"`` (optimizer steps) or
    ``"samples"`` (steps × batch); one colour per lambda, one line per seed and batch size
    (:func:`~perceptual_compression.experiments.ch2_study2d.correlations_by_samples`); the paper's values as
    dotted lines and its training length in the same unit (``paper_length``) as a dashed vertical line."""
    if x not in ("steps", "samples"):
        raise ValueError(f"x={x!r} is not valid; valid values are: steps, samples")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.3), sharex=True)
    lambdas = sorted({r["lambda"] for r in rows})
    colours = dict(zip(lambdas, plt.cm.viridis(np.linspace(0.1, 0.85, max(1, len(lambdas))))))
    markers = "osD^v<>"
    keys = (("rho_Ds", r"$\rho_S(D_s,\ p(x_1))$"), ("rho_Dr", r"$\rho_S(D_r/\mathrm{RMSE},\ p(x_1))$"),
            ("rho_Din", r"$\rho_S(D_{in}/\mathrm{RMSE},\ p(x_1))$"))
    for ax, (key, ylabel) in zip(axes, keys):
        for lam in lambdas:
            runs = sorted({(r["seed"], r["batch"]) for r in rows if r["lambda"] == lam})
            for i, (seed, batch) in enumerate(runs):
                rr = sorted((r for r in rows if r["lambda"] == lam and r["seed"] == seed and r["batch"] == batch),
                            key=lambda r: r[x])
                ax.plot([r[x] for r in rr], [r[key] for r in rr], "-" if batch == max(b for _, b in runs) else "--",
                        marker=markers[i % len(markers)], ms=4, color=colours[lam], lw=1, alpha=0.85,
                        label=f"λ={lam:g}, seed {seed}, batch {batch}")
        ax.axhline(0, color="0.6", lw=0.8)
        if paper_length:
            ax.axvline(paper_length, ls="--", color="tab:red", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("training steps" if x == "steps" else "training samples seen (steps × batch)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(-1, 1)
    for ax, values in ((axes[0], paper_ds), (axes[1], paper_dr)):
        for v in values:
            ax.axhline(v, ls=":", color="tab:red")
    axes[2].axhline(paper_din, ls=":", color="tab:red")
    axes[0].plot([], [], "--", color="tab:red", label="paper's training length")
    axes[0].plot([], [], ":", color="tab:red", label="paper's values")
    axes[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


def ratio_curves_side_by_side(left, right, labels, titles, paper_gain=None, ylabel="ratio, mean over rates"):
    """Two readings of Fig. 4 (left) side by side: in each panel, the mean over rates of the windowed ratio
    (``mean_raw``) of each result in ``left``/``right``, one line per ``labels`` entry, on a log axis."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
    for ax, rels, title in zip(axes, (left, right), titles):
        for rel, label in zip(rels, labels):
            ax.plot(rel["x"], rel["mean_raw"], lw=0.9, label=label)
        ax.axhline(1, ls="--", color="0.5")
        if paper_gain is not None:
            ax.plot([0], [paper_gain], "*", ms=12, color="k", mfc="gold", label=f"paper: {paper_gain}")
        ax.axvspan(0, 1, color="0.9", zorder=0)
        ax.set_yscale("log")
        ax.set_xlabel("x (points (x, 0)); shaded: the centre, x < 1")
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel(ylabel)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def eq13_readings(texts, printeds, labels, paper_gain=None):
    """Fig. 4 (left) both ways round: Sec. 5.1's ``P_L2 / P_L1`` (left) and eq. 13 as printed, ``P_L1 / P_L2``
    (right), one line per bank (``labels``)."""
    return ratio_curves_side_by_side(
        texts, printeds, labels, (r"Sec. 5.1: $P_{L2}/P_{L1}$ (below 1: weighted model better)",
                                  r"eq. 13 as printed: $P_{L1}/P_{L2}$ (below 1: plain model better)"), paper_gain)


def observation5(rates, rows_by_model, reference_name: str, paper_max=None):
    """Fig. 3: Spearman correlation of D_r and D_in with the quality reference, per model rate."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, key, title in zip(axes, ("rho_Dr", "rho_Din"), (r"$D_r$", r"$D_{in}$")):
        for family, marker in (("mse", "o-"), ("ms-ssim", "s-")):
            pts = [(rates[m], r[key]) for m, r in rows_by_model.items() if m.startswith(family + "-")]
            pts.sort()
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker, label=f"factorized-{family.replace('-', '')}")
        rm = rows_by_model.get("RMSE")
        if rm is not None:
            ax.axhline(rm["rho_Dr"], color="k", ls="--", label="RMSE")
        if paper_max is not None and key == "rho_Din":
            ax.axhline(paper_max, color="tab:red", ls=":", label="paper max (TID2013 MOS)")
        ax.set_xlabel("rate (bpp, real bitstream)")
        ax.set_title(title)
    axes[0].set_ylabel(f"Spearman ρ with {reference_name}")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def contrast(res, example: torch.Tensor | None = None, low: float = 0.0, high: float = 2.0, paper=None):
    """Fig. 4 right (and Fig. 16): relative performance of MS-SSIM vs MSE models along the contrast axis."""
    from ..analysis.contrast import contrast_axis

    fig = plt.figure(figsize=(10, 3.4))
    ax = fig.add_subplot(1, 2, 1)
    for i, r in enumerate(res["ratio"]):
        ax.plot(res["alpha"], r, "-", lw=1, label=f"rate pair {i + 1}")
    ax.plot(res["alpha"], res["mean"], "k-", lw=2, label="mean over rates")
    if paper is not None:
        ax.plot([paper[0]], [paper[1]], "*", ms=13, color="k", mfc="gold", label="paper: max mean gain")
    ax.axhline(1, ls="--", color="0.5")
    ax.set_xlabel(r"contrast $\alpha$ (0: grey, 1: original, 2: high)")
    ax.set_ylabel(r"$P_{\mathrm{MS\text{-}SSIM}} / P_{\mathrm{MSE}}$")
    ax.legend(fontsize=8)
    if example is not None:
        for j, a in enumerate((0.1, 0.5, 1.0, 1.5, 2.0)):
            sub = fig.add_subplot(2, 10, 6 + j + (0 if j < 5 else 5))
            sub.imshow(contrast_axis(example[None], a, low=low, high=high)[0].permute(1, 2, 0).cpu().numpy())
            sub.set_title(f"α={a}", fontsize=8)
            sub.axis("off")
    fig.tight_layout()
    return fig


def reconstructions(original: torch.Tensor, recs: dict[str, torch.Tensor], ncols: int = 4):
    """Figs. 5, 18, 19: an image and its decoded versions, titled with their scores."""
    items = [("original", original)] + list(recs.items())
    nrows = int(np.ceil(len(items) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.3 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (title, img) in zip(axes.ravel(), items):
        ax.imshow(img.clamp(0, 1).permute(1, 2, 0).cpu().numpy())
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def small_batch(result):
    """Fig. 20: ratio of test MSE (NLPD-trained / MSE-trained), mean and standard deviation over seeds."""
    r = result.ratio
    m, s = r.mean(0), r.std(0)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(result.steps, m, color="tab:purple", label=f"mean over {r.shape[0]} seeds")
    ax.fill_between(result.steps, m - s, m + s, color="tab:purple", alpha=0.25, label="± 1 std")
    ax.axhline(1, ls="--", color="0.4", label="equal test MSE")
    ax.set_xlabel("training step (batch size 1)")
    ax.set_ylabel(r"$E_{test}\,\mathrm{MSE}(x, \hat x_{NLPD}) / E_{test}\,\mathrm{MSE}(x, \hat x_{MSE})$")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def nlpd_levels(levels: dict, titles: dict[str, str] | None = None):
    """Per-level NLPD differences ``r_k`` (fine to coarse) of each reconstruction, one panel per image set
    (``levels``: ``{set: {reconstruction: [r_1, ..., r_6]}}``, e.g. a committed run's ``"levels"``): which
    scales each code gets right. Log y-axis: the low-pass level is an order of magnitude below the others."""
    sets = [k for k, v in levels.items()  # other entries of a run's record (notes, block-mean fidelity) are skipped
            if isinstance(v, dict) and v and all(isinstance(r, (list, tuple)) for r in v.values())]
    fig, axes = plt.subplots(1, len(sets), figsize=(5.2 * len(sets), 3.4), squeeze=False)
    for ax, key in zip(axes[0], sets):
        for name, r in levels[key].items():
            style = "--" if name == "flat grey" else (":" if "block means" in name else "-")
            ax.plot(np.arange(1, len(r) + 1), r, style, marker="o", label=name)
        ax.set_yscale("log")
        ax.set_xlabel("pyramid level k (1 finest, 6 low-pass)")
        ax.set_title((titles or {}).get(key, key))
    axes[0][0].set_ylabel(r"$r_k$, mean over images")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig
