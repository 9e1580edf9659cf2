import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from perceptual_compression.experiments import ch2_plots as plots  # noqa: E402


def _rel(raw):
    raw = np.asarray(raw, dtype=float)
    x = np.linspace(0.25, 4.75, raw.shape[1])
    return {"x": x, "lambdas": [1.0, 10.0], "raw": raw, "fit": raw.copy(), "mean_raw": raw.mean(0), "mean_fit": raw.mean(0)}


def test_relative_2d_clips_to_the_papers_range_and_says_what_is_off_the_axis():
    raw = np.ones((2, 10))
    raw[0, 3], raw[1, 7] = 250.0, -0.5
    fig = plots.relative_2d(_rel(raw), paper_gain=0.86, gamma=1.0)
    ax_fit, ax_raw = fig.axes
    assert ax_raw.get_ylim() == (0.0, 3.0)
    assert "2 of 20 values off the axis (all within -0.5 to 250)" in ax_raw.get_title()
    assert ax_fit.get_ylabel() == r"$P_{p^{1}} / P$"
    plt.close(fig)
    fig = plots.relative_2d(_rel(np.ones((2, 10))), ylim=(0.0, 3.0))
    assert "off the axis" not in fig.axes[1].get_title() and fig.axes[0].get_ylabel() == r"$P_{p^{0.1}} / P$"
    plt.close(fig)
    fig = plots.relative_2d(_rel(raw), ylim=None)
    assert fig.axes[1].get_ylim()[1] > 250 and "off the axis" not in fig.axes[1].get_title()
    plt.close(fig)


def test_seed_spread_draws_one_series_per_seed_and_the_mean():
    spread = {"seeds": [0, 1, 2], "bits": np.array([[1.0, 3.0], [1.1, 3.1], [0.9, 2.9]]),
              "rho_Dr": np.array([[-0.5, -0.6], [-0.4, -0.7], [-0.6, -0.5]]),
              "centre_ratio": np.array([[2.0, 0.9], [1.5, 1.1], [1.8, 1.0]])}
    spread["mean"] = {k: spread[k].mean(0) for k in ("bits", "rho_Dr", "centre_ratio")}
    fig = plots.seed_spread(spread, paper_gain=0.86)
    left, right = fig.axes
    assert right.get_yscale() == "log"
    for ax, key in ((left, "rho_Dr"), (right, "centre_ratio")):
        mean_line = [ln for ln in ax.get_lines() if ln.get_label() == "mean over seeds"]
        assert len(mean_line) == 1
        np.testing.assert_allclose(mean_line[0].get_ydata(), spread["mean"][key])
        assert sum(ln.get_label().startswith("seed ") for ln in ax.get_lines()) == 3
    plt.close(fig)


def test_eq13_readings_plots_each_bank_both_ways_round():
    from perceptual_compression.experiments import ch2_study2d as s2d

    rels = [_rel([[2.0] * 10, [0.5] * 10]), _rel([[4.0] * 10, [1.0] * 10])]
    printed = [s2d.as_printed_eq13(r, degree=3) for r in rels]
    fig = plots.eq13_readings(rels, printed, ["seed 0", "seed 1"], paper_gain=0.86)
    left, right = fig.axes
    assert left.get_yscale() == right.get_yscale() == "log"
    for ax, rs in ((left, rels), (right, printed)):
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        for rel, label in zip(rs, ["seed 0", "seed 1"]):
            np.testing.assert_allclose(lines[label].get_ydata(), rel["mean_raw"])
    # the mean over rates of 2 and 1/2 is 1.25 one way round and 1.25 the other: neither says "equal"
    np.testing.assert_allclose(left.get_lines()[0].get_ydata(), 1.25)
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), 1.25)
    plt.close(fig)


def test_nlpd_levels_plots_one_line_per_reconstruction_and_panel():
    levels = {"noise": {"flat grey": [2.0, 1.5, 1.0, 0.6, 0.4, 0.02], "16×16 block means, 8 bit": [2.0, 1.5, 1.0, 0.5, 0.2, 0.005]},
              "test": {"flat grey": [0.9, 0.8, 0.9, 1.0, 1.2, 0.4]}, "noise_images": "32 images",
              "block_means": {"noise": {"flat grey": {"slope": 0.0}}}}
    fig = plots.nlpd_levels(levels, {"noise": "uniform noise"})
    assert len(fig.axes) == 2  # neither the description string nor the block-mean fidelity is a panel
    left, right = fig.axes
    assert left.get_title() == "uniform noise" and right.get_title() == "test" and left.get_yscale() == "log"
    lines = {ln.get_label(): ln for ln in left.get_lines()}
    np.testing.assert_allclose(lines["16×16 block means, 8 bit"].get_ydata(), [2.0, 1.5, 1.0, 0.5, 0.2, 0.005])
    np.testing.assert_allclose(lines["flat grey"].get_xdata(), np.arange(1, 7))
    assert len(right.get_lines()) == 1
    plt.close(fig)


def test_fig2_stars_stated_rates_and_draws_unstated_ones_as_lines():
    import pytest
    from matplotlib.colors import to_rgba

    rows = [{"bits_per_sample": b, "rho_Ds": -0.5, "rho_Dr": 0.1, "rho_Din": 0.4} for b in (1.0, 2.0, 4.0)]
    fig = plots.fig2(rows, [("D_s", None, -0.68), ("D_r", 2.03, 0.49), ("D_in", None, 0.90)])
    ax = fig.axes[0]
    stars = [ln for ln in ax.lines if ln.get_marker() == "*" and len(ln.get_xdata())]
    assert [(float(s.get_xdata()[0]), float(s.get_ydata()[0])) for s in stars] == [(2.03, 0.49)]
    assert to_rgba(stars[0].get_color()) == to_rgba("tab:orange")  # coloured by its distance, not its position
    dotted = [ln for ln in ax.lines if ln.get_linestyle() == ":" and len(ln.get_ydata())]
    assert sorted(float(ln.get_ydata()[0]) for ln in dotted) == [-0.68, 0.90]
    assert {to_rgba(ln.get_color()) for ln in dotted} == {to_rgba("tab:blue"), to_rgba("tab:green")}
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "paper, rate not stated" in labels and "paper (values in the text)" in labels
    plt.close(fig)
    with pytest.raises(ValueError, match="D_in"):
        plots.fig2(rows, [("D_x", 1.0, 0.0)])


def test_correlations_over_training_draws_one_line_per_lambda_and_seed():
    rows = [{"seed": s, "lambda": lam, "batch": b, "steps": n, "samples": n * b, "rho_Ds": -0.5,
             "rho_Dr": -0.4 + 0.1 * k, "rho_Din": 0.2}
            for s in (0, 1) for lam in (6.0, 60.0) for b in (1024, 4096) for k, n in enumerate((100, 1000, 10000))]
    fig = plots.correlations_over_training(rows, paper_length=500_000)
    assert len(fig.axes) == 3 and all(ax.get_xscale() == "log" for ax in fig.axes)
    series = [ln for ln in fig.axes[1].get_lines() if ln.get_label().startswith("λ=")]
    assert len(series) == 8  # two lambdas × two seeds × two batch sizes
    np.testing.assert_allclose(series[0].get_xdata(), [100, 1000, 10000])
    np.testing.assert_allclose(series[0].get_ydata(), [-0.4, -0.3, -0.2])
    assert fig.axes[1].get_xlabel() == "training steps"
    plt.close(fig)
    fig = plots.correlations_over_training(rows, x="samples")
    series = [ln for ln in fig.axes[1].get_lines() if ln.get_label() == "λ=6, seed 0, batch 4096"]
    np.testing.assert_allclose(series[0].get_xdata(), [409_600, 4_096_000, 40_960_000])
    assert series[0].get_linestyle() == "-"
    with pytest.raises(ValueError, match="valid values are: steps, samples"):
        plots.correlations_over_training(rows, x="epochs")
    dotted = [ln.get_ydata()[0] for ln in fig.axes[1].get_lines() if ln.get_linestyle() == ":"]
    assert sorted(dotted) == [0.31, 0.49]  # the paper's two stated values
    plt.close(fig)
