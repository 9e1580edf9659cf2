"""Synthetic distortions of natural images at graded severities, in the spirit of TID2013.

TID2013 (Ponomarenko et al., 2015) distorts 25 reference images with 24 distortion types at 5 levels and
collects human opinion scores. Where it cannot be had, chapter 2 builds a smaller set of the same shape
from any reference images with the distortion types below (5 levels each, mild to strong) and scores it
with a named perceptual distance instead of humans. The types are TID2013-like: additive Gaussian noise,
Gaussian blur, JPEG compression, contrast reduction, mean (brightness) shift, impulse noise, colour
quantization and spatially correlated (masked) noise.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _gaussian_noise(x: Tensor, level: int, g: torch.Generator) -> Tensor:
    sigma = (0.01, 0.02, 0.04, 0.07, 0.11)[level - 1]
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp(0, 1)


def _blur(x: Tensor, level: int, g: torch.Generator) -> Tensor:
    s = (0.5, 1.0, 1.6, 2.4, 3.5)[level - 1]
    r = int(np.ceil(3 * s))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * s * s))
    k = k / k.sum()
    c = x.shape[0]
    y = F.pad(x.unsqueeze(0), (r, r, r, r), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return y[0].clamp(0, 1)


def _jpeg(x: Tensor, level: int, g: torch.Generator) -> Tensor:
    from PIL import Image

    q = (60, 35, 20, 10, 4)[level - 1]
    arr = (x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=q)
    buf.seek(0)
    out = np.asarray(Image.open(buf).convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(out.copy()).permute(2, 0, 1).float() / 255.0


def _contrast(x: Tensor, level: int, g: torch.Generator) -> Tensor:
    f = (0.85, 0.7, 0.55, 0.4, 0.25)[level - 1]
    m = x.mean()
    return (m + f * (x - m)).clamp(0, 1)


def _mean_shift(x: Tensor, level: int, g: torch.Generator) -> Tensor:
    d = (0.03, 0.06, 0.1, 0.15, 0.22)[level - 1]
    return (x + d).clamp(0, 1)


def _impulse(x: Tensor, level: int, g: torch.Generator) -> Tensor:
    p = (0.002, 0.005, 0.01, 0.02, 0.04)[level - 1]
    u = torch.rand(x.shape[1:], generator=g)
    salt = (u < p / 2).expand_as(x)
    pepper = ((u >= p / 2) & (u < p)).expand_as(x)
    return torch.where(salt, torch.ones_like(x), torch.where(pepper, torch.zeros_like(x), x))


def _quantization(x: Tensor, level: int, g: torch.Generator) -> Tensor:
    n = (32, 16, 10, 6, 4)[level - 1]
    return torch.round(x * (n - 1)) / (n - 1)


def _masked_noise(x: Tensor, level: int, g: torch.Generator) -> Tensor:
    # noise low-passed by a 4x nearest upsampling: spatially correlated, like TID2013's #4/#5
    sigma = (0.01, 0.02, 0.035, 0.055, 0.08)[level - 1]
    c, h, w = x.shape
    small = torch.randn(c, (h + 3) // 4, (w + 3) // 4, generator=g)
    n = F.interpolate(small.unsqueeze(0), scale_factor=4, mode="nearest")[0, :, :h, :w]
    return (x + sigma * n).clamp(0, 1)


DISTORTIONS: dict[str, Callable[[Tensor, int, torch.Generator], Tensor]] = {
    "gaussian-noise": _gaussian_noise,
    "gaussian-blur": _blur,
    "jpeg": _jpeg,
    "contrast": _contrast,
    "mean-shift": _mean_shift,
    "impulse-noise": _impulse,
    "quantization": _quantization,
    "correlated-noise": _masked_noise,
}
LEVELS = (1, 2, 3, 4, 5)


def distort(x: Tensor, kind: str, level: int, *, seed: int = 0) -> Tensor:
    """Distort one image ``(3, H, W)`` in ``[0, 1]`` with ``kind`` at ``level`` 1 (mild) .. 5 (strong)."""
    if kind not in DISTORTIONS:
        raise ValueError(f"kind={kind!r} is not valid; valid values are: {', '.join(DISTORTIONS)}")
    if level not in LEVELS:
        raise ValueError(f"level={level!r} is not valid; valid values are: 1, 2, 3, 4, 5")
    g = torch.Generator().manual_seed(seed)
    return DISTORTIONS[kind](x.float().cpu(), level, g)


@dataclass
class DistortedPair:
    reference: int
    kind: str
    level: int
    image: Tensor


def distorted_set(references: Sequence[Tensor], *, kinds: Sequence[str] | None = None,
                  levels: Sequence[int] = LEVELS, seed: int = 0) -> list[DistortedPair]:
    """Every reference distorted by every ``kind`` at every ``level`` (TID2013's layout)."""
    kinds = list(kinds) if kinds is not None else list(DISTORTIONS)
    out = []
    for i, ref in enumerate(references):
        for j, kind in enumerate(kinds):
            for level in levels:
                out.append(DistortedPair(i, kind, level, distort(ref, kind, level, seed=seed + 1000 * i + 10 * j + level)))
    return out
