"""Where the registry looks for assets before downloading them.

1. ``$PERCEPTUAL_COMPRESSION_DATA`` (one directory, or several separated by ``os.pathsep``; relative
   paths are relative to the repository root);
2. the ``dirs`` of ``data/config.toml`` (relative paths are relative to the repository root; ours
   name ``../shared/data``);
3. for weights only, torch.hub's checkpoint directory (``$TORCH_HOME/hub/checkpoints``), where
   torchvision, CompressAI, torch-fidelity and NeuralCompression put the same files;
4. the download cache :func:`perceptual_compression.paths.cache_dir` (``data/cache``).
"""

from __future__ import annotations

import os
from pathlib import Path

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from .. import paths
from .errors import RegistryError

ENV_OFFLINE = "PERCEPTUAL_COMPRESSION_OFFLINE"
ENV_ALLOW_UNVERIFIED = "PERCEPTUAL_COMPRESSION_ALLOW_UNVERIFIED"
ENV_TIMEOUT = "PERCEPTUAL_COMPRESSION_TIMEOUT"
ENV_PROGRESS = "PERCEPTUAL_COMPRESSION_PROGRESS"

_TRUE = ("1", "true", "yes", "on")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def offline() -> bool:
    """``PERCEPTUAL_COMPRESSION_OFFLINE=1`` disables every download."""
    return env_flag(ENV_OFFLINE)


def progress_enabled() -> bool:
    """Progress bars are on unless ``PERCEPTUAL_COMPRESSION_PROGRESS=0``."""
    return os.environ.get(ENV_PROGRESS, "1").strip().lower() not in ("0", "false", "no", "off")


def timeout_seconds() -> float:
    """Socket timeout for downloads (connect and each read): ``$PERCEPTUAL_COMPRESSION_TIMEOUT`` or 15 s."""
    try:
        return float(os.environ.get(ENV_TIMEOUT, "15"))
    except ValueError:
        return 15.0


def config_dirs() -> list[Path]:
    """The ``[local] dirs`` of ``data/config.toml``, resolved against the repository root."""
    cfg = paths.data_dir() / "config.toml"
    if not cfg.is_file():
        return []
    with open(cfg, "rb") as f:
        data = tomllib.load(f)
    dirs = data.get("local", {}).get("dirs", [])
    if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
        raise RegistryError(f"{cfg}: [local] dirs must be a list of strings")
    root = paths.repo_root()
    out = []
    for d in dirs:
        p = Path(d).expanduser()
        out.append(p if p.is_absolute() else (root / p))
    return out


def env_dirs() -> list[Path]:
    """``$PERCEPTUAL_COMPRESSION_DATA`` as directories. Relative entries are taken relative to the
    repository root (like data/config.toml), so ``../shared/data`` also works from notebooks that
    Jupyter Book executes inside ``book/``."""
    env = os.environ.get(paths.ENV_DATA, "")
    out = []
    for part in env.split(os.pathsep):
        if part.strip():
            p = Path(part.strip()).expanduser()
            out.append(p if p.is_absolute() else _normalize(paths.repo_root() / p))
    return out


def local_dirs() -> list[tuple[str, Path]]:
    """``(label, directory)`` pairs searched first, in order (env variable, then config.toml)."""
    candidates = [(f"${paths.ENV_DATA}", d) for d in env_dirs()]
    candidates += [("data/config.toml", _normalize(d)) for d in config_dirs()]
    out: list[tuple[str, Path]] = []
    for label, d in candidates:  # a directory named twice is searched once, under its first label
        if all(d != seen for _, seen in out):
            out.append((label, d))
    return out


def torch_hub_checkpoints() -> Path:
    """torch.hub's checkpoint directory (where torch.hub.load_state_dict_from_url caches weights)."""
    import sys

    hub = sys.modules.get("torch.hub")
    if hub is not None:  # honours torch.hub.set_dir()
        return Path(hub.get_dir()) / "checkpoints"
    # torch.hub.get_dir()'s rule, without importing torch (slow) just to find a directory
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"


def _normalize(p: Path) -> Path:
    try:
        return Path(os.path.normpath(p))
    except Exception:  # pragma: no cover
        return p
