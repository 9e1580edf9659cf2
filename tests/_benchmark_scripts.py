"""Import a script of ``benchmarks/`` as a module (for tests of its functions and of its committed records)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from perceptual_compression.paths import repo_root


def load_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module; the folder is on ``sys.path`` while it loads (its ``run_record``
    and sibling-script imports)."""
    path = repo_root() / "benchmarks" / f"{name}.py"
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"_{name}_script", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(path.parent))
    return mod
