"""Shared helpers for the metrics tests: test images, seeded noise, and one CPU thread.

Small convolutions are about ten times faster with one thread than with two on a busy shared CPU
(thread spin contention), so the metrics tests run single-threaded and restore the setting afterwards.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def astronaut() -> torch.Tensor:
    """scikit-image's bundled astronaut photograph, (3, 512, 512) float in [0, 1] (no download)."""
    import skimage.data

    return torch.from_numpy(skimage.data.astronaut().copy()).permute(2, 0, 1).float() / 255


def photo_crops(size: int, b: int = 1, top: int = 120, left: int = 160, step: int = 40) -> torch.Tensor:
    """``b`` different ``size x size`` crops of the astronaut photograph, ``(b, 3, size, size)``."""
    img = astronaut()
    crops = [img[:, top + step * i : top + step * i + size, left : left + size] for i in range(b)]
    return torch.stack(crops).contiguous()


def add_noise(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def registry_with(tmp_path, monkeypatch, files: dict | None = None, *, offline: bool = True):
    """The project's real registry in a temporary checkout, with no local data and an empty cache.

    ``files`` maps asset ids to weight files made by the test (e.g. random weights in torchvision's
    layout): each is placed at its registry ``local`` path in the data directory, and the entry's checksum
    in the temporary registry copy is replaced by the file's SHA-256, so the real resolver finds and
    verifies it. Every other asset is missing. Returns the ``perceptual_compression.assets`` module.
    """
    import hashlib
    import re
    import shutil
    from pathlib import Path

    from perceptual_compression import assets, paths

    repo = Path(__file__).resolve().parents[1]
    root, data = tmp_path / "repo", tmp_path / "local-data"
    (root / "data").mkdir(parents=True)
    data.mkdir()
    text = (repo / "data" / "registry.toml").read_text()
    for asset_id, path in (files or {}).items():
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        section = re.search(rf"(?ms)^\[{re.escape(asset_id)}\]\n.*?(?=^\[|\Z)", text)
        assert section, f"{asset_id} is not in data/registry.toml"
        body = re.sub(r'(?m)^checksum = ".*"$', f'checksum = "sha256:{digest}"', section.group(0), count=1)
        text = text[: section.start()] + body + text[section.end() :]
        local = re.search(r'(?m)^local = "(.*)"$', body).group(1)
        (data / local).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, data / local)
    (root / "data" / "registry.toml").write_text(text)
    (root / "data" / "config.toml").write_text("[local]\ndirs = []\n")
    monkeypatch.setenv(paths.ENV_ROOT, str(root))
    monkeypatch.setenv(paths.ENV_DATA, str(data))
    monkeypatch.setenv(paths.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    if offline:
        monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    else:
        monkeypatch.delenv("PERCEPTUAL_COMPRESSION_OFFLINE", raising=False)
    return assets
