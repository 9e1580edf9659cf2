"""benchmarks/run_chapter.py: a chapter's code cells run in order without Jupyter, with papermill's parameters."""

import json
import subprocess
import sys

from perceptual_compression.paths import repo_root


def _notebook(path, cells):
    nb = {"cells": [{"cell_type": kind, "id": f"c{i}", "metadata": {"tags": tags}, "source": src}
                    for i, (kind, tags, src) in enumerate(cells)], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


def _run(nb, *args):
    return subprocess.run([sys.executable, str(repo_root() / "benchmarks" / "run_chapter.py"), str(nb), *args],
                          capture_output=True, text=True)


def test_cells_run_in_order_with_parameters_overridden_after_their_cell(tmp_path):
    nb = _notebook(tmp_path / "ch.ipynb", [
        ("code", ["parameters"], "scale = 'small'\nseed = 0\n"),
        ("markdown", [], "# not code"),
        ("code", [], "import os\nimport matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()\n"
                     "display(f'{scale}-{seed}-{type(seed).__name__}'); display(os.path.basename(os.getcwd()))\n"),
    ])
    res = _run(nb, "-p", "scale", "paper", "-p", "seed", "3")
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert "paper-3-int" in lines and tmp_path.name in lines  # literal values, the notebook's folder as cwd
    assert lines[0].startswith("cell c0 (1/2)") and lines[-1].startswith("all 2 code cells ran")


def test_a_failing_cell_names_itself_and_stops_the_run(tmp_path):
    nb = _notebook(tmp_path / "ch.ipynb", [("code", [], "x = 1\n"), ("code", [], "raise ValueError('broken here')\n"),
                                           ("code", [], "display('never')\n")])
    res = _run(nb)
    assert res.returncode == 1
    assert "cell c1 (2/3) FAILED" in res.stdout and "ValueError: broken here" in res.stdout
    assert "never" not in res.stdout
