r"""FID and KID through torch-fidelity, with the HiFiC "FID/256" patch protocol for large images.

Fréchet Inception distance (Heusel et al. 2017) between Gaussian fits of two feature sets:

.. math::
    \mathrm{FID} = \|\mu_1 - \mu_2\|^2 + \operatorname{tr}\big(\Sigma_1 + \Sigma_2 - 2 (\Sigma_1 \Sigma_2)^{1/2}\big)

Kernel Inception distance (Bińkowski et al. 2018): the unbiased MMD² with the cubic polynomial kernel
:math:`k(a, b) = (a^\top b / D + 1)^3`, averaged over random subsets of the features.

Both are computed by torch-fidelity's own functions (``fid_features_to_statistics``,
``fid_statistics_to_metric``, ``kid_features_to_metric``) on features from any extractor:

* default: torch-fidelity's ``FeatureExtractorInceptionV3`` (2048-d pool features), whose weights
  (``weights-inception-2015-12-05-6726825d.pth``) come from the asset registry, id
  ``torch-fidelity-inception-v3``, passed as ``feature_extractor_weights_path`` — never downloaded by
  torch-fidelity. ``InceptionFeatures.available()`` tells whether they resolve.
* ``feature_extractor=``: any ``nn.Module`` mapping float images in [0, 1], ``(N, 3, H, W)``, to ``(N, D)``
  features (tests inject a tiny random CNN, as NeuralCompression's tests do).

FID/256 (Mentzer et al. 2020, HiFiC; NeuralCompression's ``update_patch_fid``): with few high-resolution
images, FID is computed over patches. Each image is cut into the non-overlapping ``patch x patch`` tiles of a
grid anchored at the top-left corner (a partial tile at the right/bottom edge is dropped); when the image
is at least ``1.5 * patch`` (384 px for 256) in **both** height and width, a second grid shifted by
``patch // 2`` (128 px) in both directions adds the tiles of ``x[..., 128:, 128:]``. A 768x512 Kodak image
gives 3x2 + 2x1 = 8 patches. The Inception extractor rounds patches (or whole images) to uint8, as the
protocol does; an injected extractor receives the float patches.

Small sample counts
-------------------
* KID draws ``kid_subsets`` subsets of ``kid_subset_size`` features from each set (torch-fidelity defaults:
  100 subsets of 1000, as NeuralCompression). torch-fidelity refuses sets smaller than the subset size;
  here ``kid_subset_size=None`` (default) uses ``min(1000, n_real, n_fake)`` and reports the size used in
  the result, while an explicit size larger than a set raises a ``ValueError`` that says so.
* FID needs at least 2 samples per set. With fewer samples than feature dimensions the covariances are
  singular and FID is strongly biased upwards (its estimator is biased at any finite N): compare FIDs only
  at equal sample counts, which is what the patch protocol helps with.
KID can be slightly negative: it is an unbiased estimate of a non-negative quantity. The estimator drops the
diagonal kernel terms within each set but not across sets, so even a set compared with itself gives a
small non-zero value; two independent samples of one distribution give zero within the spread over subsets
(``kid_std``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from ._images import check_three_channels, image_list, to_uint8_levels
from ._weights import resolve_weights, weights_available

__all__ = [
    "INCEPTION_ASSET",
    "InceptionFeatures",
    "FidKidResult",
    "fid256_patches",
    "extract_features",
    "fid_from_features",
    "kid_from_features",
    "fid_kid",
]

INCEPTION_ASSET = "torch-fidelity-inception-v3"
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


class InceptionFeatures(nn.Module):
    """torch-fidelity's InceptionV3 pool features (``(N, 2048)``) for float images in [0, 1].

    Images are rounded to uint8 and handed to ``FeatureExtractorInceptionV3``, which resizes them to
    299x299 like the TensorFlow original. Weights come from the registry unless ``weights_path`` is given.
    """

    def __init__(self, weights_path: str | os.PathLike | None = None, feature: str = "2048") -> None:
        super().__init__()
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        path = weights_path if weights_path is not None else resolve_weights(INCEPTION_ASSET)
        self.feature = feature
        self.net = FeatureExtractorInceptionV3(
            "inception-v3-compat", [feature], feature_extractor_weights_path=str(path)
        )
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def available() -> bool:
        """Whether the Inception weights resolve locally (no download is attempted)."""
        return weights_available(INCEPTION_ASSET)

    def forward(self, x: Tensor) -> Tensor:
        x8 = to_uint8_levels(x).to(torch.uint8)
        (features,) = self.net(x8)
        return features


def fid256_patches(images: Tensor | Iterable[Tensor], patch: int = 256) -> Tensor:
    """The FID/256 patches of ``images`` (a batch or a list of differently sized images), ``(P, 3, patch, patch)``.

    Grid 1: tiles at ``(i * patch, j * patch)`` covering ``floor(H / patch) x floor(W / patch)`` tiles.
    Grid 2 (only if ``H >= 1.5 * patch`` and ``W >= 1.5 * patch``): the same tiling of ``x[:, p//2:, p//2:]``.
    Patches of one image are consecutive, grid 1 first, each grid in row-major order.
    An image smaller than ``patch`` in either dimension is a ValueError (it would contribute nothing).
    """
    if patch < 1:
        raise ValueError(f"patch must be positive, got {patch}")
    out = []
    for img in image_list(images):
        h, w = img.shape[-2:]
        if h < patch or w < patch:
            raise ValueError(f"image of size {h}x{w} is smaller than the {patch}x{patch} FID patch")
        grids = [img]
        if h >= 1.5 * patch and w >= 1.5 * patch:
            grids.append(img[:, patch // 2 :, patch // 2 :])
        for g in grids:
            nh, nw = g.shape[-2] // patch, g.shape[-1] // patch
            tiles = g[:, : nh * patch, : nw * patch].unfold(1, patch, patch).unfold(2, patch, patch)
            # (C, nh, nw, p, p) -> (nh * nw, C, p, p), row-major over the grid
            out.append(tiles.permute(1, 2, 0, 3, 4).reshape(nh * nw, img.shape[0], patch, patch))
    return torch.cat(out, dim=0)


def _progress_default() -> bool:
    return os.environ.get("PERCEPTUAL_COMPRESSION_PROGRESS", "1").strip().lower() not in ("0", "false", "no", "off")


@torch.no_grad()
def extract_features(
    images: Tensor | Iterable[Tensor],
    feature_extractor: nn.Module,
    *,
    batch_size: int = 32,
    device: torch.device | str | None = None,
    progress: bool | None = None,
) -> Tensor:
    """Features ``(N, D)`` (float64, CPU) of images in [0, 1]; images of equal size are batched together.

    Runs on ``device`` (default: CUDA when present). ``progress``: a tqdm bar on stderr (default: on unless
    ``PERCEPTUAL_COMPRESSION_PROGRESS=0``).
    """
    from tqdm import tqdm

    from ..training import default_device

    device = torch.device(device) if device is not None else default_device()
    feature_extractor = feature_extractor.to(device).eval()
    imgs = image_list(images)
    show = _progress_default() if progress is None else progress
    bar = tqdm(total=len(imgs), desc="features", unit="img", mininterval=2.0, file=sys.stderr, disable=not show)
    feats = []
    i = 0
    while i < len(imgs):
        j = i + 1
        while j < len(imgs) and j - i < batch_size and imgs[j].shape == imgs[i].shape:
            j += 1
        batch = torch.stack(imgs[i:j]).to(device)
        f = feature_extractor(batch)
        if f.dim() != 2 or f.shape[0] != batch.shape[0]:
            raise ValueError(f"the feature extractor must return (N, D) features, got {tuple(f.shape)}")
        feats.append(f.detach().to("cpu", torch.float64))
        bar.update(j - i)
        i = j
    bar.close()
    return torch.cat(feats, dim=0)


def _check_features(f1: Tensor, f2: Tensor, minimum: int) -> None:
    if f1.dim() != 2 or f2.dim() != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"features must be (N, D) with equal D, got {tuple(f1.shape)} and {tuple(f2.shape)}")
    if min(len(f1), len(f2)) < minimum:
        raise ValueError(f"need at least {minimum} samples per set, got {len(f1)} and {len(f2)}")


def fid_from_features(features_1: Tensor, features_2: Tensor) -> float:
    """FID between two feature sets ``(N1, D)``, ``(N2, D)`` via torch-fidelity's statistics functions."""
    from torch_fidelity.metric_fid import (
        KEY_METRIC_FID,
        fid_features_to_statistics,
        fid_statistics_to_metric,
    )

    _check_features(features_1, features_2, 2)
    s1 = fid_features_to_statistics(features_1.detach().cpu().double())
    s2 = fid_features_to_statistics(features_2.detach().cpu().double())
    return float(fid_statistics_to_metric(s1, s2, verbose=False)[KEY_METRIC_FID])


def kid_from_features(
    features_1: Tensor,
    features_2: Tensor,
    *,
    subsets: int = KID_SUBSETS,
    subset_size: int | None = None,
    seed: int = 0,
) -> tuple[float, float, int]:
    """KID (mean, std over subsets, subset size used) via torch-fidelity's ``kid_features_to_metric``.

    subset_size: ``None`` -> ``min(1000, N1, N2)``; an explicit value larger than a set is a ValueError.
    """
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    _check_features(features_1, features_2, 2)
    n = min(len(features_1), len(features_2))
    if subset_size is None:
        subset_size = min(KID_SUBSET_SIZE, n)
    elif subset_size > n:
        raise ValueError(
            f"KID subset size {subset_size} is larger than the smaller feature set ({len(features_1)} real, "
            f"{len(features_2)} fake); pass kid_subset_size=None to use {n}, or add samples"
        )
    if subset_size < 2:
        raise ValueError(f"KID needs subsets of at least 2 samples, got {subset_size}")
    out = kid_features_to_metric(
        features_1.detach().cpu().double(),
        features_2.detach().cpu().double(),
        kid_subsets=int(subsets),
        kid_subset_size=int(subset_size),
        rng_seed=int(seed),
        verbose=False,
    )
    return float(out[KEY_METRIC_KID_MEAN]), float(out[KEY_METRIC_KID_STD]), int(subset_size)


@dataclass(frozen=True)
class FidKidResult:
    """FID/KID of a fake set against a real set, with what was measured."""

    fid: float
    kid: float | None
    kid_std: float | None
    num_real: int  # samples (patches with the FID/256 protocol) in the real set
    num_fake: int
    kid_subset_size: int | None
    patch_size: int | None  # None: whole images
    feature_extractor: str  # "inception-v3 (torch-fidelity)" or the injected module's class name

    def as_dict(self) -> dict:
        return asdict(self)


def fid_kid(
    real: Tensor | Iterable[Tensor],
    fake: Tensor | Iterable[Tensor],
    *,
    feature_extractor: nn.Module | None = None,
    patch_size: int | None = 256,
    kid: bool = True,
    kid_subsets: int = KID_SUBSETS,
    kid_subset_size: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
    device: torch.device | str | None = None,
    progress: bool | None = None,
) -> FidKidResult:
    """FID (and KID) of ``fake`` against ``real`` image sets (batches or lists of images in [0, 1]).

    patch_size: 256 (default) applies the FID/256 patch protocol to both sets; ``None`` uses whole images.
    feature_extractor: ``None`` -> :class:`InceptionFeatures` (registry weights; raises
        ``AssetUnavailableError`` when they are missing), or any module images -> ``(N, D)``.
    """
    real_list, fake_list = image_list(real, "real"), image_list(fake, "fake")
    check_three_channels(real_list, "real")
    check_three_channels(fake_list, "fake")
    if patch_size is not None:
        real_list = list(fid256_patches(real_list, patch_size).unbind(0))
        fake_list = list(fid256_patches(fake_list, patch_size).unbind(0))
    if feature_extractor is None:
        extractor, name = InceptionFeatures(), "inception-v3 (torch-fidelity)"
    else:
        extractor, name = feature_extractor, type(feature_extractor).__name__
    kw = dict(batch_size=batch_size, device=device, progress=progress)
    f_real = extract_features(real_list, extractor, **kw)
    f_fake = extract_features(fake_list, extractor, **kw)
    fid = fid_from_features(f_real, f_fake)
    kid_mean = kid_std = used = None
    if kid:
        kid_mean, kid_std, used = kid_from_features(
            f_real, f_fake, subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
        )
    return FidKidResult(fid, kid_mean, kid_std, len(f_real), len(f_fake), used, patch_size, name)
