"""Chapter 3 notebook: parameters beyond ``scale`` are validated at once (the shared test covers ``scale``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "book" / "ch3_pim.ipynb"


def test_parameters_cell_declares_the_documented_parameters():
    nb = json.loads(NB.read_text())
    src = "".join(next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))["source"])
    for name in ("scale: str", "seed: int", "steps: int", "calib_images: int", "calib_size: int", "train_data: str"):
        assert name in src


@pytest.mark.parametrize("params, needles", [({"calib_size": 100}, ("multiple of 8", "168")),
                                             ({"train_data": "no/such/frames"}, ("embedded", "kodak"))])
def test_invalid_parameters_fail_at_once_naming_valid_values(params, needles, tmp_path):
    papermill = pytest.importorskip("papermill")
    start = time.time()
    with pytest.raises(papermill.PapermillExecutionError) as e:
        papermill.execute_notebook(str(NB), str(tmp_path / "out.ipynb"), parameters=params,
                                   kernel_name="python3", progress_bar=False, execution_timeout=300, cwd=str(ROOT))
    assert e.value.ename == "ParameterError"
    assert all(n in e.value.evalue for n in needles), e.value.evalue
    assert time.time() - start < 240
