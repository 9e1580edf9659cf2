"""Pretrained weights for the metrics come from the asset registry, never from lpips, torchvision or
torch-fidelity downloads.

The registry (:mod:`perceptual_compression.assets`) is imported lazily, inside the functions that need
weights, so that the weight-free metrics (PSNR, MS-SSIM, NLPD, SWD) never depend on it.
"""

from __future__ import annotations

from pathlib import Path


def resolve_weights(asset_id: str, *, download: bool | None = None) -> Path:
    """Path of a weight file from the registry; raises ``assets.AssetUnavailableError`` (one line) when missing."""
    from perceptual_compression import assets

    return Path(assets.resolve(asset_id, download=download))


def weights_available(asset_id: str) -> bool:
    """Whether ``asset_id`` resolves locally (local data directory or cache) — never starts a download."""
    from perceptual_compression import assets

    try:
        assets.resolve(asset_id, download=False)
    except assets.AssetUnavailableError:
        return False
    return True
