"""Reading the chapters' cells in tests: a cell's source by id or by a unique snippet, and the compiled right-hand
side of an assignment or of a ``results.add`` keyword, so that a test evaluates the notebook's own expression."""

from __future__ import annotations

import ast
import json
from pathlib import Path


def cell_source(notebook: Path, cell_id: str) -> str:
    """The source of the cell with id ``cell_id``."""
    nb = json.loads(Path(notebook).read_text())
    return "".join(next(c for c in nb["cells"] if c.get("id") == cell_id)["source"])


def code_cell_with(notebook: Path, needle: str) -> str:
    """The source of the one code cell that contains ``needle`` (asserts there is exactly one)."""
    nb = json.loads(Path(notebook).read_text())
    hits = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code" and needle in "".join(c["source"])]
    assert len(hits) == 1, needle
    return hits[0]


def assignment(source: str, target: str):
    """The compiled right-hand side of ``target = ...`` in ``source``."""
    tree = ast.parse(source)
    assign = next(n for n in ast.walk(tree) if isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == target)
    return compile(ast.Expression(assign.value), "<cell>", "eval")


def results_add_kwarg(source: str, key: str, kwarg: str):
    """The compiled ``kwarg=`` expression of the ``results.add(key, ...)`` call in ``source`` (key: its literal or
    f-string source)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "results.add" and \
                ast.unparse(node.args[0]) in (repr(key), key):
            value = next(k.value for k in node.keywords if k.arg == kwarg)
            return compile(ast.Expression(value), "<cell>", "eval")
    raise AssertionError(f"no results.add({key!r}, ...)")


def markdown_text(notebook: Path) -> str:
    """Every markdown cell of ``notebook``, joined, with each run of whitespace (line breaks included) made one
    space, so that a test can look for a sentence of the prose wherever the lines break."""
    nb = json.loads(Path(notebook).read_text())
    return " ".join(" ".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown").split())
