"""Results JSON written by each chapter, read by the book's reproduction-status page.

A chapter builds one :class:`ChapterResults`, adds one :meth:`~ChapterResults.add` per reproduced
quantity (the paper's value beside ours), records which data and fallbacks it used, and calls
:meth:`~ChapterResults.write`. The file lands in :func:`perceptual_compression.paths.results_dir` as
``<chapter>__<scale>.json``; ``book/status.ipynb`` renders every file found there.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .paths import repo_root, results_dir

#: Allowed values of :attr:`ResultEntry.status`.
STATUSES = {
    "match": "our value agrees with the paper's within the stated tolerance",
    "qualitative": "the paper's qualitative claim holds in our run (numbers differ: smaller scale, other data)",
    "differs": "our run disagrees with the paper (see note)",
    "not-run": "not computed here: an asset (data or weights) could not be obtained",
    "info": "a value we report without a paper counterpart",
}


@dataclass
class ResultEntry:
    key: str
    quantity: str
    paper: Any
    ours: Any
    unit: str = ""
    source: str = ""
    status: str = "info"
    note: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status={self.status!r} is not valid; valid values are: {', '.join(STATUSES)}")


def _clean(value: Any) -> Any:
    """Make numbers JSON-safe (NaN/inf become strings, numpy/torch scalars become Python numbers)."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist"):
        return _clean(value.tolist())
    return value


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo_root(), capture_output=True, text=True, timeout=5, check=False,
        )
        return out.stdout.strip() or None
    except Exception:  # noqa: BLE001 - provenance is best effort
        return None


@dataclass
class ChapterResults:
    """Everything a chapter reports to the status page."""

    chapter: str
    title: str
    scale: str
    params: dict[str, Any] = field(default_factory=dict)
    data: list[str] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)
    entries: list[ResultEntry] = field(default_factory=list)

    def add(self, key: str, quantity: str, *, paper: Any, ours: Any, unit: str = "", source: str = "",
            status: str = "info", note: str = "") -> ResultEntry:
        """Record one quantity: the paper's value (``None`` if the paper gives none) beside ours."""
        if any(e.key == key for e in self.entries):
            self.entries = [e for e in self.entries if e.key != key]
        entry = ResultEntry(key, quantity, _clean(paper), _clean(ours), unit, source, status, note)
        self.entries.append(entry)
        return entry

    def use_data(self, label: str) -> None:
        """Record a dataset that the chapter used (e.g. ``"Kodak (24 images, local data directory)"``)."""
        if label not in self.data:
            self.data.append(label)

    def use_fallback(self, label: str) -> None:
        """Record a labeled fallback (e.g. ``"LPIPS trunk weights missing: LPIPS not computed"``)."""
        if label not in self.fallbacks:
            self.fallbacks.append(label)

    def to_dict(self) -> dict[str, Any]:
        import torch  # local: keep importing this module cheap

        return {
            "chapter": self.chapter,
            "title": self.title,
            "scale": self.scale,
            "params": _clean(self.params),
            "data": list(self.data),
            "fallbacks": list(self.fallbacks),
            "entries": [asdict(e) for e in self.entries],
            "provenance": {
                "written": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "git_commit": _git_commit(),
                "python": platform.python_version(),
                "torch": torch.__version__,
                "device": "cuda: " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({os.cpu_count()} cores)",
                "host": platform.node(),
            },
        }

    def path(self, directory: Path | None = None) -> Path:
        return (directory or results_dir()) / f"{self.chapter}__{self.scale}.json"

    def write(self, directory: Path | None = None) -> Path:
        """Write the JSON atomically and return its path."""
        path = self.path(directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(self.to_dict(), indent=2, sort_keys=False)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(payload)
        os.replace(tmp, path)
        return path


def load_all(directory: Path | None = None) -> list[dict[str, Any]]:
    """Read every results JSON in ``directory`` (default: the results directory), sorted by chapter."""
    directory = directory or results_dir()
    out = []
    for p in sorted(Path(directory).glob("*.json")):
        with open(p) as f:
            out.append(json.load(f))
    return sorted(out, key=lambda r: (r.get("chapter", ""), r.get("scale", "")))


def status_table(records: list[dict[str, Any]]):
    """One row per reported quantity, as a pandas DataFrame (used by ``book/status.ipynb``)."""
    import pandas as pd

    rows = []
    for r in records:
        for e in r.get("entries", []):
            rows.append({
                "chapter": r["chapter"],
                "scale": r["scale"],
                "quantity": e["quantity"],
                "paper": e["paper"],
                "book": e["ours"],
                "unit": e.get("unit", ""),
                "status": e.get("status", ""),
                "source": e.get("source", ""),
                "data": "; ".join(r.get("data", [])),
                "note": e.get("note", ""),
            })
    return pd.DataFrame(rows, columns=["chapter", "scale", "quantity", "paper", "book", "unit", "status",
                                       "source", "data", "note"])


def committed_run(name: str) -> dict[str, Any] | None:
    """A longer run committed to ``benchmarks/results/<name>.json`` by one of the scripts in ``benchmarks/``
    (each records its exact ``command``, machine and date), or ``None`` when the file is absent.

    Chapters show these beside the numbers of their own (shorter) build, labeled as committed runs.
    """
    path = repo_root() / "benchmarks" / "results" / f"{name}.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if "command" not in record:
        raise ValueError(f"{path} has no 'command': a committed result must say how it was made")
    record["path"] = str(path.relative_to(repo_root()))
    return record
