"""Codec evaluation: real bitstreams, per-image CSV columns, summary, FID/256 patches as the evaluation uses them."""

import json

import pandas as pd
import pytest
import torch
from torch import nn

from perceptual_compression.coding import ImageCodec
from perceptual_compression.evaluation.codec_eval import CSV_COLUMNS, evaluate_codec, load_image_set
from perceptual_compression.metrics import LPIPS, fid256_patches
from perceptual_compression.models.hific import HiFiCConfig, msillm_autoencoder
from perceptual_compression.params import ParameterError


class CountingFeatures(nn.Module):
    """Stand-in FID feature extractor that records the patch batches it is shown."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)


class Trunk(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c = nn.Conv2d(3, 4, 3, stride=2, padding=1)

    def forward(self, x):
        return [torch.relu(self.c(x))]


@pytest.fixture(scope="module")
def codec():
    torch.manual_seed(0)
    model = msillm_autoencoder(HiFiCConfig(channels=(4, 6, 8, 12, 16), latent_features=8, hyper_features=6,
                                           residual_blocks=1)).eval()
    model.update(force=True)
    return ImageCodec(model, "test-ch4-eval")


def _images(sizes=((200, 260), (180, 300))):
    g = torch.Generator().manual_seed(2)
    base = torch.rand(3, 1, 1, generator=g) * 0.5 + 0.25
    return [(base + 0.1 * torch.randn(3, h, w, generator=g)).clamp(0, 1) for h, w in sizes]


def test_per_image_csv_and_summary(codec, tmp_path):
    imgs = _images()
    ev = evaluate_codec(codec, imgs, lpips=LPIPS(backbone=Trunk(), lin=False), fid=False,
                        csv_path=tmp_path / "eval.csv", progress=False)
    df = pd.read_csv(tmp_path / "eval.csv")
    assert tuple(df.columns) == CSV_COLUMNS == (
        "image", "height", "width", "bytes", "bpp", "estimated_bpp", "psnr", "ms_ssim", "nlpd", "lpips",
        "encode_s", "decode_s")
    assert list(df["height"]) == [200, 180] and list(df["width"]) == [260, 300]
    # the rate is the real byte count, header included, and it matches coding the image again
    assert list(df["bytes"]) == [len(codec.compress(x)) for x in imgs]
    assert df["bpp"].tolist() == pytest.approx([8 * b / (h * w) for b, h, w in zip(df["bytes"], df["height"],
                                                                                         df["width"])], rel=1e-5)
    assert (df["estimated_bpp"] > 0).all() and (df["lpips"] >= 0).all()
    # the estimated rate of every image, recomputed by hand: reflect-pad (as ImageCodec does) to multiples of the
    # stride (64), eval forward of the hyperprior, -log2 of the y and z likelihoods summed, over the unpadded pixels
    for (h, w), est in zip(((200, 260), (180, 300)), df["estimated_bpp"]):
        x = imgs[0 if h == 200 else 1][None]
        xp = torch.nn.functional.pad(x, (0, -w % 64, 0, -h % 64), mode="reflect")
        with torch.no_grad():
            lik = codec.model(xp)["likelihoods"]
        bits = sum(float(-torch.log2(v.double()).sum()) for v in lik.values())
        assert set(lik) == {"y", "z"} and xp.shape[-2:] == ((256, 320) if h == 200 else (192, 320))
        assert est == pytest.approx(bits / (h * w), rel=1e-5)
    assert df[["psnr", "ms_ssim", "nlpd", "encode_s", "decode_s"]].notna().all().all()
    # the quality columns of the first image (full precision, before the CSV), recomputed from its bitstream
    row = ev.per_image.iloc[0]
    for col in ("bpp", "estimated_bpp", "psnr", "ms_ssim", "nlpd", "lpips"):  # the CSV holds the same values
        assert df[col].tolist() == pytest.approx(ev.per_image[col].tolist(), rel=1e-5)
    import math

    import pytorch_msssim

    from perceptual_compression.metrics import nlpd

    x = imgs[0][None]
    x_hat = codec.decompress(codec.compress(x))
    r8 = lambda t: torch.round(255 * t.clamp(0, 1))  # noqa: E731 - both images as 8-bit files hold them
    mse8 = float((r8(x) - r8(x_hat)).pow(2).mean())
    assert row["psnr"] == pytest.approx(10 * math.log10(255 ** 2 / mse8), rel=1e-6)
    assert row["ms_ssim"] == pytest.approx(float(pytorch_msssim.ms_ssim(r8(x), r8(x_hat), data_range=255)), rel=1e-5)
    assert row["nlpd"] == pytest.approx(float(nlpd(x, r8(x_hat) / 255)), rel=1e-6)
    assert row["lpips"] == pytest.approx(float(LPIPS(backbone=Trunk(), lin=False)(x, x_hat)), rel=1e-6)
    assert row["estimated_bpp"] == pytest.approx(codec.estimate_bits(x) / (200 * 260), rel=1e-6)
    summary = json.loads((tmp_path / "eval.summary.json").read_text())
    assert summary["num_images"] == 2 and summary["mean_bpp"] == pytest.approx(df["bpp"].mean(), rel=1e-5)
    assert summary["swd"] > 0 and summary["skipped"]["fid"] == "not requested"
    assert summary["total_bytes"] == int(df["bytes"].sum())


def test_offline_lpips_and_fid_are_reported_as_skipped(codec, monkeypatch, tmp_path):
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(tmp_path))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_CACHE", str(tmp_path / "cache"))
    ev = evaluate_codec(codec, _images(((300, 260),)), progress=False, swd=False)
    assert ev.per_image["lpips"].isna().all()
    assert "torchvision-alexnet" in ev.skipped["lpips"]
    assert "torch-fidelity-inception-v3" in ev.skipped["fid"]
    assert "fid" not in ev.summary and "swd" not in ev.summary


def test_fid256_patches_as_the_evaluation_uses_them(codec):
    # a 512x768 image (Kodak's size) gives the 3x2 grid plus the 2x1 grid shifted by 128 px: 8 patches
    img = torch.arange(512 * 768, dtype=torch.float32).reshape(1, 512, 768).expand(3, -1, -1) / (512 * 768)
    p = fid256_patches([img])
    assert p.shape == (8, 3, 256, 256)
    assert torch.equal(p[0], img[:, :256, :256]) and torch.equal(p[5], img[:, 256:, 512:])
    assert torch.equal(p[6], img[:, 128:384, 128:384]) and torch.equal(p[7], img[:, 128:384, 384:640])
    # in the evaluation: 384x512 -> 2 + 1 patches, 256x300 -> 1 (too small for the shifted grid), 200x300 -> none
    # (left out of FID); originals and reconstructions alike, cut at the same places
    feats = CountingFeatures()
    imgs = _images(((384, 512), (256, 300), (200, 300)))
    ev = evaluate_codec(codec, imgs, lpips=None, fid=feats, swd=False, progress=False, keep_reconstructions=True)
    assert ev.summary["fid_patches"] == 4 and ev.summary["fid_images"] == 2
    assert ev.summary["fid"] >= 0 and ev.summary["kid"] is not None
    real = torch.cat(feats.seen[: len(feats.seen) // 2])
    fake = torch.cat(feats.seen[len(feats.seen) // 2:])
    assert torch.equal(real, fid256_patches(imgs[:2]))
    assert torch.equal(fake, fid256_patches(ev.reconstructions[:2]))


def test_load_image_set_from_folder_and_registry_id(tmp_path, monkeypatch):
    from PIL import Image

    for i in range(2):
        Image.new("RGB", (70, 40), (10 * i, 20, 30)).save(tmp_path / f"im{i}.png")
    s = load_image_set(tmp_path)
    assert len(s) == 2 and s[0].shape == (3, 40, 70)
    from perceptual_compression.assets import AssetUnavailableError

    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_CACHE", str(tmp_path / "cache"))
    with pytest.raises(AssetUnavailableError):
        load_image_set("clic2020-test")
    assert load_image_set("embedded").name == "embedded"
    with pytest.raises(ValueError, match=r"not an image folder, \"embedded\".*kodak.*clic2020-test"):
        load_image_set(str(tmp_path / "missing"))  # neither a folder nor a dataset id
    with pytest.raises(ValueError, match="dataset id"):
        load_image_set("torchvision-alexnet")  # a registry id, but weights
    with pytest.raises(ParameterError, match="kept out of training"):
        load_image_set("Kodak", exclude=("kodak",))  # refused by name, before anything is read
