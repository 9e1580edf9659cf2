"""models.clip_encoder: the CLIP path through the asset registry, tested with a tiny stand-in checkpoint."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from perceptual_compression.assets import AssetUnavailableError
from perceptual_compression.models import clip_encoder
from perceptual_compression.models.clip_encoder import (
    CLIP_MEAN,
    VisionTransformer,
    clip_features,
    clip_preprocess,
    load_clip_visual,
)


class _Archive(nn.Module):
    """Stands in for OpenAI's TorchScript archive: a module whose state dict has ``visual.*`` keys."""

    def __init__(self, visual: nn.Module) -> None:
        super().__init__()
        self.visual = visual
        self.logit_scale = nn.Parameter(torch.ones([]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual(x)


def _tiny():
    torch.manual_seed(0)
    return VisionTransformer(resolution=64, patch=32, width=64, layers=2, output_dim=16).eval()


def test_architecture_is_rebuilt_from_the_weights(tmp_path):
    tiny = _tiny()
    path = tmp_path / "ViT-tiny.pt"
    torch.jit.trace(_Archive(tiny).eval(), torch.randn(1, 3, 64, 64)).save(str(path))
    loaded = load_clip_visual(path)
    assert (loaded.resolution, len(loaded.transformer.resblocks), loaded.proj.shape) == (64, 2, (64, 16))
    x = torch.randn(3, 3, 64, 64)
    torch.testing.assert_close(loaded(x), tiny(x), rtol=1e-5, atol=1e-5)


def test_registry_resolution_and_features(tmp_path, monkeypatch):
    tiny = _tiny()
    path = tmp_path / "ViT-B-32.pt"
    torch.save(_Archive(tiny).state_dict(), path)          # plain state-dict files load too
    import perceptual_compression.assets as assets

    seen = {}

    def fake_resolve(asset_id, download=None):
        seen["id"] = asset_id
        return path

    monkeypatch.setattr(assets, "resolve", fake_resolve)
    enc = load_clip_visual()
    assert seen["id"] == clip_encoder.ASSET_ID == "clip-vit-b32"
    imgs = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    feats = clip_features(imgs, enc, batch_size=2)
    assert feats.shape == (5, 16) and torch.isfinite(feats).all()
    # batches of 2, 2 and 1 give the loaded encoder's features of the preprocessed images, in order
    with torch.no_grad():
        want = enc(clip_preprocess(imgs, enc.resolution)).float()
    torch.testing.assert_close(feats, want, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # the loaded weights are the saved ones
        pre = clip_preprocess(imgs, enc.resolution)
        torch.testing.assert_close(enc(pre), tiny(pre))


def test_missing_weights_raise_the_registry_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(AssetUnavailableError, match="clip-vit-b32"):
        load_clip_visual(download=False)


def test_preprocess():
    img = torch.ones(2, 3, 40, 60) * torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    out = clip_preprocess(img, 32)
    assert out.shape == (2, 3, 32, 32)
    assert out.abs().max() < 1e-3                          # the mean colour normalises to zero
    grey = clip_preprocess(torch.rand(1, 1, 28, 28), 32)
    torch.testing.assert_close(grey[:, 0] * 0.26862954 + 0.48145466, grey[:, 1] * 0.26130258 + 0.4578275)
    with pytest.raises(ValueError):
        clip_preprocess(torch.rand(2, 28, 28))
