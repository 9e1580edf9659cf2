"""Image-quality and distribution metrics used throughout the book, one module per metric.

Conventions: images are float tensors in [0, 1], ``(B, 3, H, W)`` or ``(3, H, W)``; full-reference
metrics take ``(x, x_hat)`` in that order and return one value per image, shape ``(B,)``.

- :func:`psnr`            — PSNR on 8-bit-rounded images (``+inf`` for identical images).
- :func:`ms_ssim`         — MS-SSIM (pytorch-msssim, 5 scales, data range 1); per channel: :func:`ms_ssim_per_channel`.
- :func:`nlpd`            — normalized Laplacian pyramid distance (plenoptic's NLP model).
- :class:`LPIPS`          — LPIPS (lpips package; trunk weights from the asset registry).
- :func:`fid_kid`         — FID and KID (torch-fidelity), with the FID/256 patch protocol
  (:func:`fid256_patches`); features from registry Inception weights or an injected extractor.
- :func:`sliced_wasserstein` — weight-free SWD between Laplacian-pyramid patch distributions.
"""

from .fid import (
    FidKidResult,
    InceptionFeatures,
    extract_features,
    fid256_patches,
    fid_from_features,
    fid_kid,
    kid_from_features,
)
from .lpips import LPIPS
from .msssim import ms_ssim, ms_ssim_per_channel
from .nlpd import nlpd
from .psnr import psnr
from .swd import SWDResult, sliced_wasserstein

__all__ = [
    "psnr",
    "ms_ssim",
    "ms_ssim_per_channel",
    "nlpd",
    "LPIPS",
    "fid_kid",
    "FidKidResult",
    "fid256_patches",
    "fid_from_features",
    "kid_from_features",
    "extract_features",
    "InceptionFeatures",
    "sliced_wasserstein",
    "SWDResult",
]
