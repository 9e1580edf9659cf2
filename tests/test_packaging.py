"""environment.yml (conda) and pyproject.toml (pip) must declare the same dependencies; pip check is clean."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml  # pyyaml comes with jupyter-book/papermill; it is also a dependency of the test extra below

ROOT = Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = set(meta["dependencies"])
    for extra in ("book", "test"):
        reqs |= set(meta["optional-dependencies"][extra])
    return {r.replace(" ", "") for r in reqs}


def _conda_requirements() -> tuple[list[str], set[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_deps = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return conda_deps, {r.replace(" ", "") for r in pip if not r.startswith("-e")}


def test_environment_yml_agrees_with_pyproject():
    conda_deps, pip_reqs = _conda_requirements()
    py = _pyproject_requirements()
    assert pip_reqs == py, (
        f"only in environment.yml: {sorted(pip_reqs - py)}; only in pyproject.toml: {sorted(py - pip_reqs)}"
    )
    assert "python=3.11" in conda_deps and "pip" in conda_deps


def test_environment_installs_the_project_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip


def test_pip_check_is_clean():
    out = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_numpy_below_2_as_compressai_requires():
    import numpy

    assert int(numpy.__version__.split(".")[0]) < 2


def test_package_is_importable_with_descriptive_name():
    import perceptual_compression

    assert Path(perceptual_compression.__file__).parent == ROOT / "lib" / "perceptual_compression"


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```bash\n")[1:]
    return [b.split("```")[0].strip() for b in blocks]


def test_ci_runs_exactly_the_readme_test_command():
    cmds = _readme_commands()
    test_cmd = next(c for c in cmds if "pytest" in c)
    book_cmd = next(c for c in cmds if "jupyter-book build book" in c)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci, f"{test_cmd!r} not found as a line of .ci/run"
    assert "jupyter-book" in book_cmd and "pip install" in book_cmd
    assert any("jupyter-book build -W" in line for line in ci)


def test_book_config_guards():
    cfg = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    assert cfg["only_build_toc_files"] is True
    assert cfg["execute"]["execute_notebooks"] == "cache"
    assert cfg["execute"]["raise_on_error"] is True
    assert cfg["execute"]["timeout"] >= 600
    assert cfg["sphinx"]["config"]["intersphinx_mapping"] == {}
    assert "sphinx.ext.intersphinx" not in cfg["sphinx"].get("extra_extensions", [])


def test_readme_python_example_runs():
    """The README's library example is executed as written (it must stay true)."""
    import os
    import re

    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    out = subprocess.run([sys.executable, "-c", blocks[0]], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    bpp = float(out.stdout.split(" bpp")[0].split()[-1])
    assert 0 < bpp < 24
