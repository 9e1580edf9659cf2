"""Chapter 1's notebook: invalid parameters fail at once with ParameterError naming the valid values; cells run
in-process on the notebook's own source (the results' params, the discrete Theorem 2 verdict)."""

from pathlib import Path

import pytest
from _notebook_cells import cell_source

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "book" / "ch1_rdp.ipynb"


@pytest.mark.parametrize("params,needle", [({"p": 0.7}, "p=0.7 is not valid"),
                                           ({"psi": "pooled"}, "'conv', 'block'")])
def test_invalid_parameters_raise_parameter_error(params, needle, tmp_path):
    """(An invalid ``scale`` is checked for every chapter by test_notebooks.py.)"""
    papermill = pytest.importorskip("papermill")
    with pytest.raises(papermill.PapermillExecutionError) as e:
        papermill.execute_notebook(str(NB), str(tmp_path / "out.ipynb"), parameters=params, kernel_name="python3",
                                   progress_bar=False, execution_timeout=300, cwd=str(ROOT))
    assert e.value.ename == "ParameterError"
    assert needle in e.value.evalue


# ---------------------------------------------------------------- cells run in-process on the notebook's own source
PARAMS_CELL, CHECK_CELL, SETUP_CELL, THEOREM2_DISCRETE_CELL = "7ff108cd", "5ad81c22", "bf84b367", "ef75a46b"


def _cell_source(cell_id: str) -> str:
    return cell_source(NB, cell_id)


def test_the_results_record_every_parameter_psi_included():
    """Every parameter of the parameters cell, psi included (it changes the trained models and cfg.tag()), is in
    the results' params, with the value the run used (here papermill's injection of psi="block" is mimicked)."""
    import matplotlib

    matplotlib.use("Agg")
    ns: dict = {}
    exec(_cell_source(PARAMS_CELL), ns)
    defaults = {k: v for k, v in ns.items() if not k.startswith("__")}
    assert set(defaults) == {"scale", "seed", "p", "solver", "run_dir", "rate_axis", "psi"}
    ns.update(psi="block", run_dir="")
    exec(_cell_source(CHECK_CELL), ns)
    exec(_cell_source(SETUP_CELL), ns)
    assert ns["results"].params == {**defaults, "psi": "block", "run_dir": ""}
    assert ns["results"].to_dict()["params"]["psi"] == "block"


def _theorem2_namespace(grdp):
    import numpy as np
    import pandas as pd

    from perceptual_compression.results import ChapterResults
    from perceptual_compression.theory.rdp_solver import (RDPSolver, mutual_information_bits,
                                                           squared_error_distortion)

    return {"np": np, "pd": pd, "grdp": grdp, "RDPSolver": RDPSolver, "mutual_information_bits": mutual_information_bits,
            "squared_error_distortion": squared_error_distortion, "scale": "small", "solver": "CLARABEL",
            "results": ChapterResults("ch1_rdp", "test", "small")}


def test_theorem2_on_the_grid_checks_eq28_the_posterior_sampler_doubles_the_distortion():
    import warnings

    from perceptual_compression.theory import gaussian_rdp as grdp

    ns = _theorem2_namespace(grdp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(_cell_source(THEOREM2_DISCRETE_CELL), ns)
    disc = ns["disc"]
    assert list(disc.D) == [0.15, 0.3]
    # eq. 28 on the grid: D~ = 2 E|X - E[X|X^]|^2, which for the solver's Shannon channel is 2D (to its tolerance)
    assert (disc.D_posterior <= 2 * disc.D * (1 + 1e-6)).all()
    assert disc.D_posterior.to_numpy() == pytest.approx(2 * disc.D.to_numpy(), rel=1e-4)
    (entry,) = ns["results"].entries
    assert entry.key == "theorem2_discrete" and entry.status == "match"


def test_theorem2_on_the_grid_differs_when_only_eq28_fails():
    """A decoder that samples X~ from p_X independently of X^ keeps the marginal (eq. 27) and has no information
    (eq. 29 holds), but its distortion 2 Var(X) is far above 2D: the entry must say "differs"."""
    import warnings
    from types import SimpleNamespace

    import numpy as np

    from perceptual_compression.theory import gaussian_rdp as grdp

    independent = SimpleNamespace(discretized_gaussian=grdp.discretized_gaussian,
                                  posterior_sampling_channel=lambda pmf, channel: np.tile(pmf, (len(pmf), 1)))
    ns = _theorem2_namespace(independent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(_cell_source(THEOREM2_DISCRETE_CELL), ns)
    disc = ns["disc"]
    pts, pmf = grdp.discretized_gaussian(21, width=4.0)
    var = float((pmf * pts**2).sum() - (pmf * pts).sum() ** 2)
    assert disc.D_posterior.to_numpy() == pytest.approx([2 * var, 2 * var], rel=1e-9)
    assert (disc.max_marginal_error < 1e-9).all() and (disc.I_posterior.abs() < 1e-9).all()  # the rest holds
    assert (disc.R_2D_0 <= disc.R_shannon + 1e-6).all()
    assert ns["results"].entries[0].status == "differs"
