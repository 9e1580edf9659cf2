"""Chapter 2: scoring decoded images (Sec. 4 and 5.2; appendix D).

- :func:`evaluate_codec`: code each image for real (bytes written, header included) and score the decoded image
  by PSNR, MS-SSIM and NLPD (:func:`image_quality`);
- :func:`restore_channel_means`: a diagnostic that puts back each image's channel means;
- :func:`center_crops`: the evaluation images the chapter crops from Kodak.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

Tensor = torch.Tensor


def center_crops(images, n: int, size: int | None) -> Tensor | list[Tensor]:
    """The first ``n`` images, centre-cropped to ``size x size`` (a batch), or whole (a list) if ``size`` is None."""
    out = []
    for i in range(min(n, len(images))):
        x = images[i]
        if size is not None:
            _, h, w = x.shape
            if h < size or w < size:
                raise ValueError(f"image {i} ({h}x{w}) is smaller than the {size}x{size} crop")
            t, l = (h - size) // 2, (w - size) // 2
            x = x[:, t:t + size, l:l + size]
        out.append(x)
    return torch.stack(out) if size is not None else out


@torch.no_grad()
def evaluate_codec(model, images: Sequence[Tensor], codec_id: str, *, msssim_levels: int | str = 5) -> dict[str, float]:
    """Code each image for real and score the decoded image.

    Models with a CompressAI entropy model go through :class:`~perceptual_compression.coding.ImageCodec`;
    the entropy-limited models code their center indices with
    :class:`~perceptual_compression.coding.CategoricalCodec` through their own ``compress`` (images must
    then be multiples of the model's stride). Returns the mean real bits per pixel (bytes written, header
    included), the estimated bpp where the model has likelihoods (NaN otherwise), PSNR, MS-SSIM and NLPD.
    """
    from ...coding import ImageCodec

    dev = next(model.parameters()).device
    has_entropy_model = hasattr(model, "entropy_bottleneck")
    codec = ImageCodec(model, codec_id=codec_id) if has_entropy_model else None
    rows = []
    for x in images:
        x = (x.unsqueeze(0) if x.dim() == 3 else x).to(dev)
        h, w = x.shape[-2:]
        if codec is not None:
            data = codec.compress(x)
            x_hat = codec.decompress(data).to(dev)
            nbytes, est = len(data), codec.estimate_bits(x) / (h * w)
        else:
            if h % model.stride or w % model.stride:
                raise ValueError(f"image size {h}x{w} is not a multiple of the model's stride {model.stride}")
            enc = model.compress(x)
            x_hat = model.decompress(enc["strings"], enc["shape"])["x_hat"]
            nbytes, est = sum(len(s) for s in enc["strings"][0]), float("nan")
        rows.append({"bpp": 8 * nbytes / (h * w), "bpp_estimated": est, **image_quality(x, x_hat, msssim_levels)})
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def image_quality(x: Tensor, x_hat: Tensor, msssim_levels: int | str) -> dict[str, float]:
    """PSNR, MS-SSIM (``msssim_levels`` scales) and NLPD of ``x_hat`` against ``x``, as floats: the scores of
    :func:`evaluate_codec` and of Table 1's reference levels."""
    from ...metrics import ms_ssim, nlpd, psnr

    return {"psnr": float(psnr(x, x_hat)), "ms_ssim": float(ms_ssim(x, x_hat, levels=msssim_levels)),
            "nlpd": float(nlpd(x, x_hat))}


def restore_channel_means(x: Tensor, x_hat: Tensor) -> Tensor:
    """``x_hat`` with each image's per-channel mean replaced by that of ``x`` (clamped to [0, 1]).

    Not a codec (it reads three numbers per image from the original): a diagnostic that separates errors of
    overall brightness and colour cast from errors of image structure."""
    dims = (-2, -1)
    return (x_hat - x_hat.mean(dims, keepdim=True) + x.mean(dims, keepdim=True)).clamp(0, 1)
