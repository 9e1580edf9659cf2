"""Figures of Blau & Michaeli (2019) for the book's chapter 1: Fig. 3–5 (theory) and Fig. 6–8 (MNIST).

Each function draws one paper figure from the library's numbers and returns the matplotlib ``Figure``.
"""

from __future__ import annotations

import numpy as np

from ..theory import bernoulli_rdp as brdp
from ..theory import gaussian_rdp as grdp
from .rdp_mnist import constant_distortion_curve, equi_perception_curve, shannon_curve, smoothing_spline

__all__ = ["fig3_bernoulli_curves", "fig4_bernoulli_surface", "fig5_theorem2", "fig_rd_plane",
           "fig7_cross_sections", "perception_levels"]


def fig3_bernoulli_curves(p: float = 0.1, Ps=(0.0, 0.02, 0.04, 0.06, 0.08), D_max: float | None = None):
    """Fig. 3: :math:`R(\\cdot, P)` of ``Bern(p)`` for several ``P``, with Shannon's curve dashed."""
    import matplotlib.pyplot as plt

    D_max = D_max or 2 * p * (1 - p) * 1.05
    D = np.linspace(0, D_max, 600)
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    cmap = plt.get_cmap("viridis")
    for i, P in enumerate(Ps):
        ax.plot(D, brdp.bernoulli_rdp(D, P, p), color=cmap(i / max(1, len(Ps) - 1)), lw=2, label=f"$P={P:g}$")
    ax.plot(D, brdp.shannon_rd(D, p), "k--", lw=1.5, label=r"$R(D,\infty)$ (Shannon)")
    ax.set(xlabel="Distortion $D$ (Hamming)", ylabel="Rate $R$ [bits]", xlim=(0, D_max), ylim=(0, None),
           title=f"Perception-constrained $R(D,P)$, $X\\sim$Bern({p:g})")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def fig4_bernoulli_surface(p: float = 0.1, rates=(0.05, 0.1, 0.2, 0.3), distortions=(0.02, 0.05, 0.08, 0.11)):
    """Fig. 4: (a) the surface :math:`R(D,P)` with equi-rate level sets, (b) perception–distortion cross sections
    (constant rate), (c) rate–perception cross sections (constant distortion)."""
    import matplotlib.pyplot as plt

    D = np.linspace(0, 2 * p * (1 - p), 181)
    P = np.linspace(0, p, 121)
    DD, PP = np.meshgrid(D, P)
    R = brdp.bernoulli_rdp(DD, PP, p)
    fig = plt.figure(figsize=(13, 3.9))
    ax = fig.add_subplot(1, 3, 1, projection="3d")
    ax.plot_surface(DD, PP, R, cmap="viridis", lw=0, alpha=0.75, rstride=4, cstride=4)
    cs = plt.figure().add_subplot().contour(DD, PP, R, levels=list(rates))
    plt.close(cs.axes.figure)
    for i, (lev, segs) in enumerate(zip(cs.levels, cs.allsegs)):
        for seg in segs:
            ax.plot(seg[:, 0], seg[:, 1], np.full(len(seg), lev), color="k", lw=1.6)
    ax.set(xlabel="$D$", ylabel="$P$", zlabel="$R$ [bits]", title="(a) $R(D,P)$ and equi-rate lines")
    ax.view_init(elev=25, azim=-130)
    ax2 = fig.add_subplot(1, 3, 2)
    for i, (lev, segs) in enumerate(zip(cs.levels, cs.allsegs)):
        for j, seg in enumerate(segs):
            ax2.plot(seg[:, 0], seg[:, 1], color=plt.get_cmap("viridis")(i / max(1, len(rates) - 1)), lw=2,
                     label=f"$R={lev:g}$" if j == 0 else None)
    ax2.set(xlabel="Distortion $D$", ylabel="Perception $P$ ($d_{TV}$)", title="(b) perception–distortion",
            xlim=(0, D[-1]), ylim=(0, p))
    ax2.legend(frameon=False, fontsize=8)
    ax3 = fig.add_subplot(1, 3, 3)
    for i, d in enumerate(distortions):
        ax3.plot(P, brdp.bernoulli_rdp(d, P, p), color=plt.get_cmap("plasma")(i / max(1, len(distortions))), lw=2,
                 label=f"$D={d:g}$")
    ax3.set(xlabel="Perception $P$ ($d_{TV}$)", ylabel="Rate $R$ [bits]", title="(c) rate–perception")
    ax3.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def fig5_theorem2(var: float = 1.0, sims=None):
    """Fig. 5: Gaussian source, MSE. Shannon's :math:`R(D,\\infty)` (dashed), the perfect-quality curve
    :math:`R(D,0)` (jointly Gaussian, blue) and Theorem 2's bound :math:`R(D/2,\\infty)` (dotted); ``sims``
    (a list of :class:`~perceptual_compression.theory.gaussian_rdp.PosteriorSamplingResult`) adds the
    posterior-sampling codecs as markers."""
    import matplotlib.pyplot as plt

    D = np.linspace(1e-3, 2.1 * var, 500)
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    ax.plot(D, grdp.shannon_rd(D, var), "k--", lw=1.5, label=r"$R(D,\infty)$ (Shannon)")
    ax.plot(D, grdp.perfect_quality_rd(D, var), color="tab:blue", lw=2, label=r"$R(D,0)$ (perfect quality)")
    ax.plot(D, grdp.theorem2_bound(D, var), "k:", lw=1.5, label=r"$R(\frac{1}{2}D,\infty)$ (Theorem 2 bound)")
    if sims:
        ax.plot([s.mse_shannon for s in sims], [s.rate_shannon for s in sims], "ks", ms=5,
                label="Shannon codec (simulated)")
        ax.plot([s.mse_posterior for s in sims], [s.rate_posterior for s in sims], "o", color="tab:red", ms=5,
                label="posterior sampling (simulated)")
        for s in sims:
            ax.annotate("", (s.mse_posterior, s.rate_shannon), (s.mse_shannon, s.rate_shannon),
                        arrowprops=dict(arrowstyle="->", color="tab:red", lw=0.8))
    ax.set(xlabel=r"Distortion $D$ (MSE, $\sigma^2=%g$)" % var, ylabel="Rate $R$ [bits]", ylim=(0, 3),
           xlim=(0, D[-1]), title="Theorem 2: $R(D,0)\\leq R(D/2,\\infty)$")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def perception_levels(df, n: int = 2) -> list[float]:
    """``n`` perception thresholds for equi-perception curves, from strict to loose: the loosest is the largest
    index among the λ > 0 models (so that its curve passes through every rate that has one), the others are
    lower quantiles of those indices."""
    vals = np.sort(df.loc[df["lam"] > 0, "perception"].to_numpy())
    if len(vals) == 0:
        vals = np.sort(df["perception"].to_numpy())
    qs = np.linspace(0.4, 1.0, n) if n > 1 else np.array([1.0])
    return [float(np.quantile(vals, q)) for q in qs]


def _codes_by_rate(df, rcol: str) -> tuple[list[tuple[int, int]], list[float]]:
    """The codes ``(dim, L)`` of ``df`` in order of nominal rate, and each one's rate in column ``rcol`` (the
    mean over its λ models: with the coded rate every model has its own, with the nominal rate they share it).
    Grouping by the rate value instead would split a code's λ models when ``rcol`` is the coded rate."""
    keys = df[["dim", "L", "nominal_bits"]].drop_duplicates(["dim", "L"]).sort_values("nominal_bits")
    codes = [(int(d), int(L)) for d, L in zip(keys["dim"], keys["L"])]
    return codes, [float(df.loc[(df["dim"] == d) & (df["L"] == L), rcol].mean()) for d, L in codes]


def _tile(images: np.ndarray) -> np.ndarray:
    """Stack ``(n, 28, 28)`` images as a 2-column grid."""
    images = np.asarray(images)
    if len(images) % 2:
        images = images[:-1]
    return np.concatenate([np.concatenate(list(images[i:i + 2]), axis=1) for i in range(0, len(images), 2)], axis=0)


def fig_rd_plane(df, *, distortion_col: str = "mse", P_levels=None, rate: str = "nominal", title: str = "",
                 xlabel: str = "Distortion (MSE per pixel)", n_digits: int = 6, originals=None):
    """Fig. 6 / Fig. 8: models on the rate–distortion plane coloured by perception index, Shannon's curve
    (λ = 0), equi-perception curves (footnote 8: its points, and a smoothing spline through them from five
    rates on; :func:`~.rdp_mnist.smoothing_spline`), and decoded test digits along each curve (below the
    ``originals``, the same test digits, when given)."""
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    P_levels = list(P_levels) if P_levels is not None else perception_levels(df)
    rcol = {"nominal": "nominal_bits", "coded": "coded_bits"}[rate]
    curves = [("Shannon ($\\lambda=0$)", shannon_curve(df, distortion_col=distortion_col, rate=rate), "k")]
    colors = ["tab:red", "tab:orange", "tab:purple"]
    for i, P in enumerate(P_levels):
        curves.append((f"$P\\leq{P:.3g}$", equi_perception_curve(df, P, distortion_col=distortion_col, rate=rate),
                       colors[i % len(colors)]))
    codes, rates = _codes_by_rate(df, rcol)  # one column per code (dim, L): its λ models share a nominal rate
    rows = ([("original", None, "0.4")] if originals is not None else []) + curves
    fig = plt.figure(figsize=(12, 1.5 + 1.25 * len(rows)))
    gs = GridSpec(len(rows), 2, width_ratios=[1.05, 1.0], figure=fig, wspace=0.15, hspace=0.35)
    ax = fig.add_subplot(gs[:, 0])
    sc = ax.scatter(df[distortion_col], df[rcol], c=df["perception"], cmap="viridis_r", s=36, zorder=3,
                    edgecolor="k", lw=0.3)
    fig.colorbar(sc, ax=ax, label="perception index $d_W$ (lower is better)")
    styles = ["-", "--", ":", "-."]
    for i, (name, cur, col) in enumerate(curves):
        if not len(cur):
            continue
        if i == 0:  # Shannon's curve joins the λ = 0 models
            xs, ys = cur[distortion_col], cur["rate"]
        else:  # footnote 8: a smoothing spline through the equi-perception points (straight below five rates)
            xs, ys = smoothing_spline(cur, distortion_col=distortion_col)
            ax.plot(cur[distortion_col], cur["rate"], "o", color=col, ms=4, zorder=2)
        ax.plot(xs, ys, styles[i % len(styles)], color=col, lw=2 if col == "k" else 1.8,
                label=name, zorder=2, marker="o" if len(cur) == 1 else None)
    ax.set(xlabel=xlabel, ylabel=f"Rate [bits per digit, {rate}]", title=title or "Rate–distortion plane")
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    for r, (name, cur, col) in enumerate(rows):
        sub = gs[r, 1].subgridspec(1, max(1, len(rates)), wspace=0.05)
        for c, ((dim, L), rt) in enumerate(zip(codes, rates)):
            a = fig.add_subplot(sub[0, c])
            a.set_xticks([])
            a.set_yticks([])
            for s in a.spines.values():
                s.set_color(col)
            if cur is None:  # the original digits
                a.imshow(_tile(np.asarray(originals)[:n_digits]), cmap="gray", vmin=0, vmax=1)
                if r == 0:
                    a.set_title(f"{rt:.3g} bits", fontsize=8)
                if c == 0:
                    a.set_ylabel(name, fontsize=8, color=col)
                continue
            row = cur[(cur["dim"] == dim) & (cur["L"] == L)] if len(cur) else cur
            if len(row):
                m = df[(df["dim"] == row.iloc[0]["dim"]) & (df["L"] == row.iloc[0]["L"])
                       & (df["lam"] == row.iloc[0]["lam"])].iloc[0]
                a.imshow(_tile(np.asarray(m["examples"])[:n_digits]), cmap="gray", vmin=0, vmax=1)
            if r == 0:
                a.set_title(f"{rt:.3g} bits", fontsize=8)
            if c == 0:
                a.set_ylabel(name, fontsize=8, color=col)
    return fig


def fig7_cross_sections(df, *, distortion_col: str = "mse", D_levels=None, rate: str = "nominal"):
    """Fig. 7: (a) the MNIST points in (D, P, R) with equi-rate lines, (b) perception–distortion cross sections
    per rate, (c) rate–perception cross sections at constant distortion."""
    import matplotlib.pyplot as plt

    rcol = {"nominal": "nominal_bits", "coded": "coded_bits"}[rate]
    codes, rates = _codes_by_rate(df, rcol)
    cmap = plt.get_cmap("viridis")
    fig = plt.figure(figsize=(13, 3.9))
    ax = fig.add_subplot(1, 3, 1, projection="3d")
    ax2 = fig.add_subplot(1, 3, 2)
    for i, ((dim, L), rt) in enumerate(zip(codes, rates)):  # an equi-rate line: the λ models of one code
        g = df[(df["dim"] == dim) & (df["L"] == L)].sort_values("lam")
        col = cmap(i / max(1, len(rates) - 1))
        ax.plot(g[distortion_col], g["perception"], g[rcol], "o-", color=col, ms=3)
        ax2.plot(g[distortion_col], g["perception"], "o-", color=col, label=f"{rt:.3g} bits")
    ax.set(xlabel="$D$", ylabel="$P$", zlabel="$R$", title="(a) equi-rate lines")
    ax.view_init(elev=22, azim=-125)
    ax2.set(xlabel="Distortion (MSE per pixel)" if distortion_col == "mse" else "Distortion",
            ylabel="Perception index $d_W$", title="(b) perception–distortion")
    ax2.legend(frameon=False, fontsize=8)
    ax3 = fig.add_subplot(1, 3, 3)
    if D_levels is None:
        lo, hi = df[distortion_col].quantile([0.4, 0.9])
        D_levels = list(np.linspace(lo, hi, 3))
    for i, d in enumerate(D_levels):
        cur = constant_distortion_curve(df, d, distortion_col=distortion_col, rate=rate)
        ax3.plot(cur["perception"], cur["rate"], "o-", color=plt.get_cmap("plasma")(i / max(1, len(D_levels))),
                 label=f"$D\\leq{d:.3g}$")
    ax3.set(xlabel="Perception index $d_W$", ylabel="Rate [bits per digit]", title="(c) rate–perception")
    ax3.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
