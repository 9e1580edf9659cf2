"""Where the project's files live: repository root, ``data/``, cache and results directories.

Every location can be overridden by an environment variable so that the library also works from an
installed copy or inside a CI job:

=============================== ====================================================
``PERCEPTUAL_COMPRESSION_ROOT``    repository root (holds ``data/registry.toml``)
``PERCEPTUAL_COMPRESSION_DATA``    local data directory searched first for assets
``PERCEPTUAL_COMPRESSION_CACHE``   download cache (default ``<root>/data/cache``)
``PERCEPTUAL_COMPRESSION_RESULTS`` results JSON directory (default ``<root>/book/_results``)
=============================== ====================================================
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_ROOT = "PERCEPTUAL_COMPRESSION_ROOT"
ENV_DATA = "PERCEPTUAL_COMPRESSION_DATA"
ENV_CACHE = "PERCEPTUAL_COMPRESSION_CACHE"
ENV_RESULTS = "PERCEPTUAL_COMPRESSION_RESULTS"


def repo_root() -> Path:
    """The repository root: ``$PERCEPTUAL_COMPRESSION_ROOT`` or the checkout this package lives in."""
    env = os.environ.get(ENV_ROOT)
    if env:
        return Path(env).expanduser().resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "data" / "registry.toml").is_file():
            return parent
    raise RuntimeError(
        "Cannot locate the repository root (no data/registry.toml above "
        f"{here}). Install the package in editable mode (pip install -e .) from a checkout, "
        f"or set {ENV_ROOT} to the checkout's path."
    )


def data_dir() -> Path:
    """The repository's ``data/`` directory (registry, reference numbers, default cache)."""
    return repo_root() / "data"


def cache_dir() -> Path:
    """Download cache: ``$PERCEPTUAL_COMPRESSION_CACHE`` or ``data/cache``."""
    env = os.environ.get(ENV_CACHE)
    path = Path(env).expanduser() if env else data_dir() / "cache"
    return path


def results_dir() -> Path:
    """Where chapters write their results JSON: ``$PERCEPTUAL_COMPRESSION_RESULTS`` or ``book/_results``."""
    env = os.environ.get(ENV_RESULTS)
    path = Path(env).expanduser() if env else repo_root() / "book" / "_results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_checkpoint(name: str, data: str = "") -> Path:
    """A chapter run's checkpoint, ``<cache>/runs/<name>[_<data>].pt``: ``data`` (the run's training-data
    setting, e.g. a folder) enters the name with every character but letters and digits made ``_`` (its last 40),
    so that a run resumes only a checkpoint made on the same data."""
    tag = "".join(ch if ch.isalnum() else "_" for ch in data)[-40:]
    return cache_dir() / "runs" / (f"{name}_{tag}.pt" if tag else f"{name}.pt")
