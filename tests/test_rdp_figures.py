"""Chapter 1 figures render from the library's numbers (smoke tests with the Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from perceptual_compression.experiments import rdp_figures as figs  # noqa: E402


@pytest.fixture
def grid_df():
    rng = np.random.default_rng(0)
    rows = []
    for d, L, bits in ((2, 2, 2.0), (4, 2, 4.0), (4, 4, 8.0)):
        for lam, dp, pp in ((0, 0.0, 0.0), (5, 0.03, -2.5)):
            rows.append(dict(dim=d, L=L, lam=lam, nominal_bits=bits, coded_bits=bits - 0.1,
                             mse=0.06 - 0.002 * bits + dp, perception=4.5 - 0.1 * bits + pp,
                             deep_feature=150 - bits + 100 * dp, examples=rng.random((10, 28, 28))))
    return pd.DataFrame(rows)


def test_perception_levels(grid_df):
    lv = figs.perception_levels(grid_df, 2)
    assert len(lv) == 2 and lv[0] <= lv[1]
    assert lv[1] == pytest.approx(grid_df.loc[grid_df.lam > 0, "perception"].max())
    assert figs.perception_levels(grid_df, 1) == [lv[1]]


def test_figures_render(grid_df):
    import matplotlib.pyplot as plt

    for fig in (figs.fig3_bernoulli_curves(0.1), figs.fig4_bernoulli_surface(0.1), figs.fig5_theorem2(1.0),
                figs.fig_rd_plane(grid_df, originals=np.zeros((6, 28, 28))),
                figs.fig_rd_plane(grid_df, distortion_col="deep_feature", rate="coded",
                                  P_levels=figs.perception_levels(grid_df, 1)),
                figs.fig7_cross_sections(grid_df)):
        assert len(fig.axes) >= 1
        plt.close(fig)


def test_equi_rate_lines_follow_the_code_when_each_model_has_its_own_coded_rate(grid_df):
    """With rate="coded" the lambda models of one code (dim, L) code at slightly different rates; an equi-rate
    line is still the code's models (not one point per distinct rate), and Figs. 6/8 keep one column per code."""
    import matplotlib.pyplot as plt

    df = grid_df.copy()
    df["coded_bits"] = df["nominal_bits"] - 0.1 + 0.01 * df["lam"]  # each model its own coded rate
    codes, rates = figs._codes_by_rate(df, "coded_bits")
    assert codes == [(2, 2), (4, 2), (4, 4)] and rates == pytest.approx([1.925, 3.925, 7.925])
    fig = figs.fig7_cross_sections(df, rate="coded")
    lines = fig.axes[1].get_lines()  # (b): one perception-distortion line per code, through its 2 lambda models
    assert len(lines) == 3 and all(len(line.get_xdata()) == 2 for line in lines)
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == [f"{r:.3g} bits" for r in rates]
    plt.close(fig)
    fig = figs.fig_rd_plane(df, rate="coded", P_levels=figs.perception_levels(df, 1))
    shown = [a for a in fig.axes[1:] if a.images]  # the decoded digits: every curve has a model at every code
    assert len(shown) == 2 * 3  # Shannon's curve and one equi-perception curve, 3 codes each
    plt.close(fig)


def test_theory_figures_draw_the_closed_forms():
    """Figs. 3 and 5 draw the library's closed forms, each curve with its own parameter (not only 'it renders')."""
    import matplotlib.pyplot as plt

    from perceptual_compression.theory import bernoulli_rdp as brdp
    from perceptual_compression.theory import gaussian_rdp as grdp

    fig = figs.fig3_bernoulli_curves(0.1, Ps=(0.0, 0.04))
    lines = fig.axes[0].get_lines()
    for line, P in zip(lines[:2], (0.0, 0.04)):
        np.testing.assert_allclose(line.get_ydata(), brdp.bernoulli_rdp(line.get_xdata(), P, 0.1))
    np.testing.assert_allclose(lines[-1].get_ydata(), brdp.shannon_rd(lines[-1].get_xdata(), 0.1))
    assert not np.allclose(lines[0].get_ydata(), lines[1].get_ydata())  # P matters at low distortion
    plt.close(fig)
    fig = figs.fig5_theorem2(2.0)
    shannon, perfect, bound = fig.axes[0].get_lines()[:3]
    d = perfect.get_xdata()
    np.testing.assert_allclose(shannon.get_ydata(), grdp.shannon_rd(d, 2.0))
    np.testing.assert_allclose(perfect.get_ydata(), grdp.perfect_quality_rd(d, 2.0))
    np.testing.assert_allclose(bound.get_ydata(), grdp.theorem2_bound(d, 2.0))
    assert np.all(perfect.get_ydata() <= bound.get_ydata() + 1e-12)  # Theorem 2: R(D, 0) <= R(D/2, inf)
    plt.close(fig)
