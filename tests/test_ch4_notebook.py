"""Chapter 4's notebook rejects an invalid rate at once, naming Table 3's eight targets."""

import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("params", [{"rate": 0.13}, {"rate": 0.14, "eval_images": 25}, {"official": "yes"},
                                    {"train_data": "no/such/folder"}])
def test_invalid_parameters_fail_at_once(params, tmp_path):
    import papermill

    start = time.time()
    with pytest.raises(papermill.PapermillExecutionError) as e:
        papermill.execute_notebook(str(ROOT / "book" / "ch4_illm.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters=params, kernel_name="python3", progress_bar=False,
                                   execution_timeout=300, cwd=str(ROOT))
    assert e.value.ename == "ParameterError", e.value.ename
    if "rate" in params and params["rate"] == 0.13:
        for target in ("0.00875", "0.0175", "0.035", "0.07", "0.14", "0.3", "0.45", "0.9"):
            assert target in e.value.evalue
    if "train_data" in params:
        assert "embedded" in e.value.evalue and "kodak" in e.value.evalue
    assert time.time() - start < 240, "validation must come before any training"
