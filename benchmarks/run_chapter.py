"""Run a chapter's code cells in order in one plain Python process, without Jupyter.

For a machine that has the library's dependencies but not Jupyter (a lent GPU machine: it gets the repository
and wheels, not the book's toolchain). Cells run as a kernel would run them, in one namespace, with
``display`` printing its argument and matplotlib's non-interactive backend. The cell tagged ``parameters``
runs first and ``-p NAME VALUE`` then overrides its values, as papermill injects them. Each cell's time is
printed; a failing cell prints its id and traceback and ends the run with exit status 1.

Usage::

    python benchmarks/run_chapter.py book/ch2_likelihood.ipynb              # from the repository's root
    python benchmarks/run_chapter.py book/ch2_likelihood.ipynb -p scale small -p seed 1
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
import traceback
from pathlib import Path


def parameter_value(text: str):
    """A ``-p`` value as papermill's ``-p`` reads it: a Python literal where it is one, else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def run_cells(path: Path, parameters: dict, *, out=sys.stdout) -> int:
    """Execute the notebook's code cells; 0 when every cell ran, 1 at the first failing cell."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    nb = json.loads(Path(path).read_text())
    ns = {"__name__": "__main__", "display": lambda *objs, **kw: [print(o, file=out) for o in objs]}
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    t_all = time.perf_counter()
    for i, cell in enumerate(cells):
        cid = cell.get("id", str(i))
        src = "".join(cell["source"])
        t = time.perf_counter()
        try:
            exec(compile(src, f"{path}:cell {cid}", "exec"), ns)
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                ns.update(parameters)
        except Exception:  # noqa: BLE001 - report the cell, then stop as a kernel run would
            print(f"cell {cid} ({i + 1}/{len(cells)}) FAILED:", file=out)
            traceback.print_exc(file=out)
            return 1
        print(f"cell {cid} ({i + 1}/{len(cells)}) {time.perf_counter() - t:.1f} s", file=out, flush=True)
    print(f"all {len(cells)} code cells ran in {time.perf_counter() - t_all:.1f} s", file=out)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebook", type=Path)
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"), help="a parameter")
    args = ap.parse_args(argv)
    path = args.notebook.resolve()
    os.chdir(path.parent)  # a chapter runs from the book's folder, as the book builds it
    return run_cells(path, {k: parameter_value(v) for k, v in args.p})


if __name__ == "__main__":
    sys.exit(main())
