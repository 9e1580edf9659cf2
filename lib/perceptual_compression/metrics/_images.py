"""Shared input handling for the metrics: shapes, ranges and the uint8 rounding convention."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor


def as_batch(x: Tensor, name: str = "x") -> Tensor:
    """``(C, H, W)`` -> ``(1, C, H, W)``; ``(B, C, H, W)`` unchanged; anything else is a ValueError."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 3:
        return x.unsqueeze(0)
    if x.dim() == 4:
        return x
    raise ValueError(f"{name} must have shape (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")


def as_pair(x: Tensor, x_hat: Tensor) -> tuple[Tensor, Tensor]:
    """Batch both images and check that their shapes agree (metrics take ``(x, x_hat)`` in that order)."""
    x, x_hat = as_batch(x, "x"), as_batch(x_hat, "x_hat")
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    if not x.is_floating_point():
        x = x.float()
    if not x_hat.is_floating_point():
        x_hat = x_hat.float()
    return x, x_hat


def to_uint8_levels(x: Tensor) -> Tensor:
    """Quantise an image in [0, 1] to the 256 levels of an 8-bit file: ``floor(255 * clamp(x, 0, 1) + 0.5)``.

    Returns a float tensor with integer values in [0, 255] (round half up, as PIL and NeuralCompression's
    evaluation do when they write/compare 8-bit images). Not differentiable: an evaluation step.
    """
    return torch.floor(x.detach().clamp(0.0, 1.0) * 255.0 + 0.5)


def image_list(images: Tensor | Iterable[Tensor], name: str = "images") -> list[Tensor]:
    """A batch ``(N, C, H, W)`` or any iterable of ``(C, H, W)`` / ``(B, C, H, W)`` tensors -> list of ``(C, H, W)``.

    Images in a list may have different sizes (e.g. Kodak's portrait and landscape photographs).
    """
    if isinstance(images, Tensor):
        batch = as_batch(images, name)
        return list(batch.unbind(0))
    out: list[Tensor] = []
    for item in images:
        out.extend(as_batch(item, name).unbind(0))
    if not out:
        raise ValueError(f"{name} is empty")
    return out


def check_three_channels(images: Sequence[Tensor], name: str) -> None:
    for img in images:
        if img.shape[0] != 3:
            raise ValueError(f"{name} must be RGB images with 3 channels, got shape {tuple(img.shape)}")
