"""The papers' own numbers, stored as cited data in ``data/reference/<name>.json``.

Each file has the form::

    {
      "citation": "Muckley et al., Improving Statistical Fidelity ..., ICML 2023",
      "bibkey": "muckley2023illm",
      "url": "https://...",
      "values": {
        "<key>": {"value": 0.898, "unit": "", "source": "Table 3", "note": "..."},
        ...
      },
      "tables": {"<name>": {"source": "...", "columns": [...], "rows": [[...], ...]}}
    }

``values`` hold single numbers, ``tables`` whole tables/curves (e.g. published rate–distortion points).
Every value and table names its ``source`` (table, figure, equation or file of the paper / reference code).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from .paths import data_dir


class ReferenceError(KeyError):
    """A reference file or key does not exist."""


@lru_cache(maxsize=None)
def load_reference(name: str) -> dict[str, Any]:
    path = data_dir() / "reference" / f"{name}.json"
    if not path.is_file():
        avail = sorted(p.stem for p in (data_dir() / "reference").glob("*.json"))
        raise ReferenceError(f"no reference file {path}; available: {', '.join(avail)}")
    with open(path) as f:
        ref = json.load(f)
    for k in ("citation", "bibkey"):
        if k not in ref:
            raise ReferenceError(f"{path} lacks the required top-level key {k!r}")
    for key, v in ref.get("values", {}).items():
        if "value" not in v or "source" not in v:
            raise ReferenceError(f"{path}: value {key!r} needs 'value' and 'source'")
    for key, t in ref.get("tables", {}).items():
        if "source" not in t or "columns" not in t or "rows" not in t:
            raise ReferenceError(f"{path}: table {key!r} needs 'source', 'columns' and 'rows'")
    return ref


def paper_value(name: str, key: str) -> Any:
    """A single number from ``data/reference/<name>.json``."""
    ref = load_reference(name)
    try:
        return ref["values"][key]["value"]
    except KeyError as e:
        raise ReferenceError(f"{name}: no value {key!r}; available: {', '.join(sorted(ref.get('values', {})))}") from e


def paper_table(name: str, key: str):
    """A table from ``data/reference/<name>.json`` as a pandas DataFrame (``.attrs['source']`` set)."""
    import pandas as pd

    ref = load_reference(name)
    try:
        t = ref["tables"][key]
    except KeyError as e:
        raise ReferenceError(f"{name}: no table {key!r}; available: {', '.join(sorted(ref.get('tables', {})))}") from e
    df = pd.DataFrame(t["rows"], columns=t["columns"])
    df.attrs["source"] = t["source"]
    df.attrs["citation"] = ref["citation"]
    return df
