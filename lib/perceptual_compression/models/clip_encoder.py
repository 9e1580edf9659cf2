"""CLIP's image encoder (Radford et al. 2021), loaded from OpenAI's ViT-B/32 checkpoint through the asset registry.

Dubois et al. (2021, Sec. 5.3) freeze CLIP ViT-B/32 and train an entropy bottleneck on its 512-dimensional
image features (:mod:`perceptual_compression.compressors.feature_compressor`). This module provides the
features:

- :func:`load_clip_visual` resolves the registry asset ``clip-vit-b32`` (OpenAI's TorchScript archive,
  verified by its SHA-256), reads its state dict, and builds :class:`VisionTransformer` from it — the
  vision tower of CLIP (patch embedding, class token, pre-norm transformer with QuickGELU MLPs,
  final norm on the class token, linear projection), with every size inferred from the weights;
- :func:`clip_preprocess` reproduces CLIP's input pipeline (bicubic resize of the shorter side to 224,
  centre crop, per-channel normalisation; grey images are repeated on three channels);
- :func:`clip_features` encodes a batch of images in chunks.

No weights ship with the book: without the file, :func:`load_clip_visual` raises
:class:`perceptual_compression.assets.AssetUnavailableError` saying how to provide it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
ASSET_ID = "clip-vit-b32"


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``, the GELU approximation CLIP was trained with."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class _Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, 4 * width))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # x: (L, N, D)
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class _Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.Sequential(*[_Block(width, heads) for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    """CLIP's vision tower. ``forward(x)`` takes normalised ``(N, 3, R, R)`` images and returns ``(N, output_dim)``."""

    def __init__(self, *, resolution: int, patch: int, width: int, layers: int, output_dim: int,
                 heads: int | None = None) -> None:
        super().__init__()
        self.resolution = resolution
        heads = heads if heads is not None else width // 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        scale = width ** -0.5
        grid = resolution // patch
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = _Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x).flatten(2).transpose(1, 2)                    # (N, grid^2, width)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x).transpose(0, 1)                              # (L, N, width)
        x = self.transformer(x).transpose(0, 1)
        return self.ln_post(x[:, 0]) @ self.proj

    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor], prefix: str = "visual.") -> "VisionTransformer":
        """Build the tower with the sizes its weights imply, and load them (cast to float32)."""
        sd = {k[len(prefix):]: v.float() for k, v in state.items() if k.startswith(prefix)}
        if "conv1.weight" not in sd:
            raise KeyError(f"no '{prefix}conv1.weight' in the checkpoint: not a CLIP ViT state dict")
        width, patch = sd["conv1.weight"].shape[0], sd["conv1.weight"].shape[-1]
        grid = int(round(math.sqrt(sd["positional_embedding"].shape[0] - 1)))
        layers = len({k.split(".")[2] for k in sd if k.startswith("transformer.resblocks.")})
        model = cls(resolution=grid * patch, patch=patch, width=width, layers=layers,
                    output_dim=sd["proj"].shape[1])
        model.load_state_dict(sd, strict=True)
        return model.eval()


def load_clip_visual(path: str | Path | None = None, *, download: bool | None = None) -> VisionTransformer:
    """CLIP ViT-B/32's vision tower from ``path`` or, by default, from the registry asset ``clip-vit-b32``."""
    if path is None:
        from ..assets import resolve

        path = resolve(ASSET_ID, download=download)
    try:
        archive = torch.jit.load(str(path), map_location="cpu")
        state = archive.state_dict()
    except RuntimeError:  # a plain (non-TorchScript) state dict
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    return VisionTransformer.from_state_dict(state)


def clip_preprocess(images: torch.Tensor, resolution: int = 224) -> torch.Tensor:
    """CLIP's input pipeline on ``(N, C, H, W)`` images in [0, 1]: bicubic resize of the shorter side,
    centre crop to ``resolution``, normalisation; ``C = 1`` is repeated to three channels."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected (N, 1 or 3, H, W) images, got {tuple(images.shape)}")
    x = images.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    h, w = x.shape[-2:]
    s = resolution / min(h, w)
    nh, nw = max(resolution, round(h * s)), max(resolution, round(w * s))
    x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    top, left = (nh - resolution) // 2, (nw - resolution) // 2
    x = x[..., top:top + resolution, left:left + resolution]
    mean = torch.tensor(CLIP_MEAN, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def clip_features(images: torch.Tensor, encoder: VisionTransformer | None = None, *, batch_size: int = 64,
                  download: bool | None = None) -> torch.Tensor:
    """``(N, 512)`` CLIP image features of ``images`` (``(N, C, H, W)`` in [0, 1])."""
    from ..training import default_device

    encoder = encoder if encoder is not None else load_clip_visual(download=download)
    device = default_device()
    encoder = encoder.to(device).eval()
    out = []
    for i in range(0, len(images), batch_size):
        x = clip_preprocess(images[i:i + batch_size], encoder.resolution).to(device)
        out.append(encoder(x).float().cpu())
    return torch.cat(out)
