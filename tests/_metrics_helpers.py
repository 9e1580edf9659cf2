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


class FakeAssetUnavailableError(FileNotFoundError):
    """Stand-in for ``assets.AssetUnavailableError`` while the registry is not importable."""


def install_registry(monkeypatch, files: dict):
    """Make ``perceptual_compression.assets.resolve`` return ``files[asset_id]`` (or raise the registry's error).

    Uses the real registry module when it exists (patching its ``resolve``), else a minimal stand-in module
    with the contract's names (``resolve(asset_id, *, download=None)``, ``AssetUnavailableError``).
    Returns the module whose ``AssetUnavailableError`` the code under test raises.
    """
    import sys
    import types

    import perceptual_compression

    try:
        from perceptual_compression import assets
    except ImportError:
        assets = types.ModuleType("perceptual_compression.assets")
        assets.AssetUnavailableError = FakeAssetUnavailableError
        monkeypatch.setitem(sys.modules, "perceptual_compression.assets", assets)
        monkeypatch.setattr(perceptual_compression, "assets", assets, raising=False)

    calls = []

    def resolve(asset_id, *, download=None):
        calls.append((asset_id, download))
        if asset_id in files:
            return files[asset_id]
        raise assets.AssetUnavailableError(
            f"asset {asset_id!r} not found (looked in the test's stand-in registry); provide it in the test"
        )

    monkeypatch.setattr(assets, "resolve", resolve, raising=False)
    assets.calls = calls
    return assets
