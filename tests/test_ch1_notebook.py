"""Chapter 1's notebook: invalid parameters fail at once with ParameterError naming the valid values."""

from pathlib import Path

import pytest

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
