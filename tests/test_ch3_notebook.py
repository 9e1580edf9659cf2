"""Chapter 3 notebook: parameters beyond ``scale`` are validated at once (the shared test covers ``scale``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from _notebook_cells import assignment, code_cell_with

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




def test_paper_checkpoint_name_holds_the_training_settings_tag(tmp_path, monkeypatch):
    """The paper run's checkpoint is named after PIMConfig.tag(): other steps or init never reuse it."""
    from types import SimpleNamespace

    from perceptual_compression import paths
    from perceptual_compression.models.pim_training import PIMConfig

    monkeypatch.setenv(paths.ENV_CACHE, str(tmp_path))
    expr = assignment(code_cell_with(NB, "run_checkpoint("), "checkpoint")

    def name(scale, train_data="", images="kodak", **overrides):
        env = {"paths": paths, "seed": 0, "scale": scale, "train_data": train_data,
               "config": PIMConfig.for_scale(scale, **overrides), "images": SimpleNamespace(name=images)}
        out = eval(expr, env)
        return None if out is None else out.name

    paper = PIMConfig.for_scale("paper")
    assert name("small") is None                                    # the small build writes no checkpoint
    assert name("paper") == f"ch3_pim_paper_v2_0_{paper.tag()}_stills_kodak.pt"
    others = {name("paper", steps=60_000), name("paper", init="pytorch"), name("paper", images="embedded"),
              name("paper", train_data="/data/frames")}
    assert len(others) == 4 and name("paper") not in others
    assert name("paper", steps=60_000) == f"ch3_pim_paper_v2_0_{PIMConfig.for_scale('paper', steps=60_000).tag()}_stills_kodak.pt"

