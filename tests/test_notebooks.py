"""Structural checks of the book's notebooks, and that invalid parameters fail at once under papermill."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _toc_files() -> list[str]:
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for ch in part.get("chapters", []):
            files.append(ch["file"])
    return files


def _notebooks() -> list[Path]:
    return sorted(BOOK.glob("*.ipynb"))


CHAPTERS = [p for p in _notebooks() if p.stem.startswith("ch")]


def test_every_toc_entry_exists():
    for f in _toc_files():
        assert (BOOK / f"{f}.md").exists() or (BOOK / f"{f}.ipynb").exists(), f


def test_every_chapter_notebook_is_in_the_toc():
    toc = set(_toc_files())
    for nb in CHAPTERS:
        assert nb.stem in toc, f"{nb.name} is not listed in book/_toc.yml"


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [], f"{path.name}: a code cell has outputs"
            assert cell.get("execution_count") is None, f"{path.name}: a code cell has an execution count"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_exactly_one_parameters_cell_with_scale_and_seed(path):
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    src = "".join(tagged[0]["source"])
    assert "scale" in src and "seed" in src
    # typed and commented: every assignment line has a type annotation and a comment
    for line in src.splitlines():
        s = line.strip()
        if s and not s.startswith("#") and "=" in s:
            assert ":" in s.split("=")[0], f"{path.name}: parameter line without a type annotation: {s!r}"
            assert "#" in s, f"{path.name}: parameter line without a comment: {s!r}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_invalid_scale_fails_at_once(path, tmp_path):
    import papermill
    start = time.time()
    with pytest.raises(papermill.PapermillExecutionError) as e:
        papermill.execute_notebook(
            str(path), str(tmp_path / "out.ipynb"), parameters={"scale": "huge"},
            kernel_name="python3", progress_bar=False, execution_timeout=300, cwd=str(ROOT),
        )
    assert e.value.ename == "ParameterError", e.value.ename
    assert "small" in e.value.evalue and "paper" in e.value.evalue
    assert time.time() - start < 240, "validation must come before any training"
