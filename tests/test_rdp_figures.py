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
