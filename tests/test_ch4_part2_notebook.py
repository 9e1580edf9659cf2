"""Chapter 4, part 2: invalid fine-tuning parameters fail at once, naming the valid values."""

import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("params, names", [
    ({"discriminator": "gan"}, ("illm", "patchgan", "none")),
    ({"labeler_codebook": 512}, ("256", "1024")),
])
def test_invalid_part2_parameters_fail_at_once(params, names, tmp_path):
    import papermill

    start = time.time()
    with pytest.raises(papermill.PapermillExecutionError) as e:
        papermill.execute_notebook(str(ROOT / "book" / "ch4_illm.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters=params, kernel_name="python3", progress_bar=False,
                                   execution_timeout=300, cwd=str(ROOT))
    assert e.value.ename == "ParameterError", e.value.ename
    for name in names:
        assert name in e.value.evalue
    assert time.time() - start < 240, "validation must come before any training"


def test_part2_parameters_cell_declares_the_fine_tuning_parameters():
    import nbformat

    nb = nbformat.read(ROOT / "book" / "ch4_illm.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("discriminator", "lambda_d", "labeler_spatial", "labeler_codebook", "finetune_steps", "sweep",
                 "ablations"):
        assert f"\n{name}: " in tagged[0].source
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
