"""The shared data directory of our machines and CI (``../shared/data`` beside the repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


def needs_shared(asset_id: str) -> Path:
    """``SHARED / asset_id``; the test is skipped where that directory is absent (CI always has it)."""
    path = SHARED / asset_id
    if not path.is_dir():
        pytest.skip(f"shared data directory not present ({path}); CI always has it")
    return path
