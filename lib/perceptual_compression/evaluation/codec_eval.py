"""Evaluate a learned codec on an image set from real bitstreams: per-image CSV and a summary.

For every image :func:`evaluate_codec` writes the bitstream with an
:class:`~perceptual_compression.coding.ImageCodec` (rate = ``8 * len(bytes) / (H * W)``, container header
included), decodes it, and measures the decoded image against the original. It follows the protocol of
MS-ILLM's evaluation (NeuralCompression ``projects/illm/eval_folder_example.py`` and
``metrics/_update_patch_fid.py``), with the project's metrics:

==================  ===============================================================================
``bpp``             real bits per pixel from the bytes (the reference measures a pickled bitstream)
``estimated_bpp``   the model's own estimate, :math:`-\\sum \\log_2 p` of its eval-mode likelihoods
``psnr``            on 8-bit-rounded images (:func:`~perceptual_compression.metrics.psnr`)
``ms_ssim``         5-scale MS-SSIM on 8-bit-rounded images (``levels="auto"`` for small images)
``nlpd``            normalized Laplacian pyramid distance (weight-free)
``lpips``           LPIPS-Alex when its trunk weights resolve (NaN otherwise, and the summary says why)
``encode_s``        wall time of ``codec.compress`` (analysis, hyperprior, rANS, container)
``decode_s``        wall time of ``codec.decompress``
==================  ===============================================================================

Over the whole set: FID and KID with the FID/256 patch protocol (non-overlapping 256² patches plus the
grid shifted by 128 px, computed on all images' patches) when the Inception weights resolve, and always
the weight-free sliced Wasserstein distance between Laplacian-pyramid patch distributions of originals
and reconstructions. The summary holds the set means (bpp is the mean of per-image bpp, as the reference
reports) and the names of any metric that could not be computed, with the reason.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

#: Per-image CSV columns, in order.
CSV_COLUMNS = ("image", "height", "width", "bytes", "bpp", "estimated_bpp", "psnr", "ms_ssim", "nlpd", "lpips",
               "encode_s", "decode_s")


@dataclass
class CodecEvaluation:
    """Per-image results (a pandas DataFrame with :data:`CSV_COLUMNS`), the set summary, and what was skipped."""

    per_image: Any
    summary: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)
    reconstructions: list[Tensor] | None = None

    def write(self, csv_path: str | Path, summary_path: str | Path | None = None) -> tuple[Path, Path]:
        """Write the per-image CSV and the summary JSON (default: next to the CSV, ``.summary.json``)."""
        csv_path = Path(csv_path)
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        self.per_image.to_csv(csv_path, index=False, float_format="%.6g")
        summary_path = Path(summary_path) if summary_path else csv_path.with_suffix(".summary.json")
        payload = {**self.summary, "skipped": self.skipped}
        summary_path.write_text(json.dumps(_jsonable(payload), indent=1) + "\n")
        return csv_path, summary_path


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
        return _jsonable(v.item())
    return v


def load_image_set(images, *, exclude: tuple[str, ...] = ()):
    """An :class:`~perceptual_compression.datasets.ImageSet` from a set, a folder path, or a registry dataset id.

    ``"kodak"`` uses :func:`~perceptual_compression.datasets.kodak` and ``"embedded"``
    :func:`~perceptual_compression.datasets.embedded_images`; any other string that is not an existing folder
    must be a dataset id of the asset registry, which is resolved (``resolve(id)`` returns the dataset directory)
    and read as an image folder (recursively); else :class:`~perceptual_compression.params.ParameterError` (a
    ``ValueError``) names the choices. Sequences of ``(3, H, W)``
    tensors are accepted as they are. Names in ``exclude`` (e.g. a chapter's evaluation set, ``("kodak",)``) are
    refused with a ``ParameterError``, before anything is read.
    """
    from ..datasets import ImageSet, embedded_images, image_folder, kodak

    if isinstance(images, ImageSet):
        return images
    if isinstance(images, (str, Path)):
        if str(images).strip().lower() in exclude:
            from ..params import ParameterError

            raise ParameterError(f"images {str(images)!r} is kept out of training here (it is used for evaluation "
                                 "or calibration); give an image folder, \"embedded\" or another dataset id")
        p = Path(images).expanduser()
        if p.is_dir():
            return image_folder(p, recursive=True)
        if str(images) == "kodak":
            return kodak()
        if str(images) == "embedded":
            return embedded_images()
        from ..assets import resolve
        from ..assets.registry import registry
        from ..params import ParameterError

        # MNIST's registry entry is IDX files, not an image folder
        datasets = [k for k, a in registry().items() if a.kind == "dataset" and k != "mnist"]
        if str(images) not in datasets:
            raise ParameterError(f"images {str(images)!r} is not an image folder, \"embedded\" (the bundled "
                                 f"photographs) or a dataset id of the asset registry ({', '.join(datasets)})")

        root = resolve(str(images))
        return image_folder(root, name=str(images), recursive=True,
                            label=f"{images} (registry dataset at {root})")
    if isinstance(images, Tensor):
        return list(images.unbind(0)) if images.dim() == 4 else [images]
    return list(images)


def _lpips(fn: nn.Module | None, x: Tensor, x_hat: Tensor) -> float:
    """LPIPS of the decoded float image (as the reference's torchmetrics LPIPS), on the metric's device."""
    if fn is None:
        return float("nan")
    dev = next((p.device for p in fn.parameters()), torch.device("cpu"))
    return float(fn(x.to(dev), x_hat.to(dev)).reshape(-1)[0])


def _names(images) -> list[str]:
    names = getattr(images, "names", None)
    return list(names) if names is not None else [f"image_{i:03d}" for i in range(len(images))]


def fid_kid_or_reason(originals: Sequence[Tensor], recons: Sequence[Tensor], *, fid: nn.Module | str | bool = "auto",
                      patch_size: int = 256) -> tuple[dict[str, Any], str]:
    """FID/KID (FID/256 patches) of ``recons`` against ``originals``, or the reason they were not computed.

    ``fid``: ``"auto"`` uses torch-fidelity's Inception when its weights resolve, a module ``images -> (N, D)``
    is used as the feature extractor (a stand-in in tests), ``False`` skips. Returns ``(summary, reason)``:
    ``summary`` holds ``fid``, ``kid``, ``kid_std``, ``fid_patches``, ``fid_images`` and ``fid_features`` when
    computed (and ``reason`` is ``""``); otherwise ``summary`` is empty and ``reason`` says why.
    """
    from ..metrics import InceptionFeatures, fid_kid

    if fid is False:
        return {}, "not requested"
    fid = "auto" if fid is True else fid
    if not (fid == "auto" or isinstance(fid, nn.Module)):
        raise ValueError(f"fid must be 'auto', False or a feature-extractor module, got {fid!r}")
    big = [k for k, o in enumerate(originals) if min(o.shape[-2:]) >= patch_size]
    extractor = fid if isinstance(fid, nn.Module) else None
    if not big:
        return {}, f"no image is at least {patch_size} px on both sides"
    if extractor is None and not InceptionFeatures.available():
        return {}, ("Inception weights (torch-fidelity-inception-v3) do not resolve; FID/KID not "
                    "computed (the sliced Wasserstein distance is reported instead)")
    try:
        r = fid_kid([originals[k] for k in big], [recons[k] for k in big], feature_extractor=extractor,
                    patch_size=patch_size)
    except ValueError as err:  # e.g. too few patches for a covariance
        return {}, f"FID/KID not computed: {err}"
    return {"fid": r.fid, "kid": r.kid, "kid_std": r.kid_std, "fid_patches": r.num_real,
            "fid_images": len(big), "fid_features": r.feature_extractor}, ""


def evaluate_codec(
    codec,
    images,
    *,
    lpips: nn.Module | str | None = "auto",
    fid: nn.Module | str | bool = "auto",
    swd: bool = True,
    patch_size: int = 256,
    csv_path: str | Path | None = None,
    keep_reconstructions: bool = False,
    progress: bool | None = None,
    desc: str = "evaluating",
    swd_seed: int = 0,
) -> CodecEvaluation:
    """Code every image of ``images`` with ``codec`` and measure rate, distortion and statistical fidelity.

    Parameters
    ----------
    codec:
        An :class:`~perceptual_compression.coding.ImageCodec` around an ``update()``-d model.
    images:
        An ImageSet, a folder, a registry dataset id (e.g. ``"kodak"``, ``"clic2020-test"``) or a list of
        ``(3, H, W)`` tensors in [0, 1].
    lpips:
        ``"auto"``: LPIPS-Alex when its trunk weights resolve; a module ``(x, x_hat) -> (B,)`` to use
        instead (e.g. a stand-in in tests); ``None``: skip.
    fid:
        ``"auto"``: FID/KID with torch-fidelity's Inception when its weights resolve; a feature-extractor
        module ``images -> (N, D)`` to use instead; ``False``: skip.
    swd:
        Compute the weight-free sliced Wasserstein distance (default).
    patch_size:
        FID/256 patch size (images smaller than it are left out of FID/KID, and the summary says how many).
    csv_path:
        Write the per-image CSV there (and the summary JSON next to it).
    """
    import pandas as pd

    from ..metrics import LPIPS, ms_ssim, nlpd, psnr, sliced_wasserstein
    from ..metrics._images import to_uint8_levels
    from ..training.loop import _progress_enabled

    imgs = load_image_set(images)
    names = _names(imgs)
    label = getattr(imgs, "label", f"{len(imgs)} images")
    skipped: dict[str, str] = {}

    lpips_fn: nn.Module | None
    if isinstance(lpips, nn.Module):
        lpips_fn = lpips
    elif lpips == "auto":
        if LPIPS.available("alex"):
            lpips_fn = LPIPS("alex")
        else:
            lpips_fn = None
            skipped["lpips"] = (f"LPIPS-Alex trunk weights ({LPIPS.asset_id('alex')}) do not resolve; "
                                "place torchvision's AlexNet weights in the data directory to compute it")
    elif lpips is None:
        lpips_fn = None
        skipped["lpips"] = "not requested"
    else:
        raise ValueError(f"lpips must be 'auto', None or a module, got {lpips!r}")

    rows, originals, recons = [], [], []
    show = _progress_enabled(progress)
    iterator: Iterable[int] = range(len(imgs))
    if show:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc=desc, file=sys.stderr, mininterval=2.0, leave=False)
    for i in iterator:
        x = imgs[i]
        x = x.unsqueeze(0) if x.dim() == 3 else x
        h, w = x.shape[-2:]
        t0 = time.perf_counter()
        data = codec.compress(x)
        t1 = time.perf_counter()
        x_hat = codec.decompress(data).to("cpu")
        t2 = time.perf_counter()
        est_bits = codec.estimate_bits(x)
        x_hat8 = to_uint8_levels(x_hat) / 255.0  # the decoded image as an 8-bit file holds it
        with torch.no_grad():
            levels = 5 if min(h, w) > 160 else "auto"
            row = {
                "image": names[i], "height": int(h), "width": int(w), "bytes": len(data),
                "bpp": codec.bpp(data, h * w), "estimated_bpp": est_bits / (h * w),
                "psnr": float(psnr(x, x_hat)), "ms_ssim": float(ms_ssim(x, x_hat, levels=levels, quantize=True)),
                "nlpd": float(nlpd(x, x_hat8)) if min(h, w) >= 33 else float("nan"),
                "lpips": _lpips(lpips_fn, x, x_hat),
                "encode_s": t1 - t0, "decode_s": t2 - t1,
            }
        rows.append(row)
        originals.append(x[0].cpu())
        recons.append(x_hat8[0])
    df = pd.DataFrame(rows, columns=list(CSV_COLUMNS))

    summary: dict[str, Any] = {
        "dataset": label, "num_images": len(df), "codec_id": codec.codec_id,
        **{f"mean_{c}": float(df[c].mean()) for c in CSV_COLUMNS[4:]},
        "total_bytes": int(df["bytes"].sum()),
        "estimate_overhead": float(df["bpp"].sum() / df["estimated_bpp"].sum() - 1.0),
    }
    # statistical fidelity over the whole set
    if swd:
        res = sliced_wasserstein(originals, recons, seed=swd_seed)
        summary["swd"] = res.mean
        summary["swd_levels"] = list(res.levels)
    else:
        skipped["swd"] = "not requested"
    fid_summary, fid_skip = fid_kid_or_reason(originals, recons, fid=fid, patch_size=patch_size)
    summary.update(fid_summary)
    if fid_skip:
        skipped["fid"] = fid_skip
    summary["skipped"] = dict(skipped)
    out = CodecEvaluation(df, summary, skipped, recons if keep_reconstructions else None)
    if csv_path is not None:
        out.write(csv_path)
    return out


def summary_table(evaluations: dict[str, CodecEvaluation], columns: Sequence[str] = (
        "mean_bpp", "mean_estimated_bpp", "mean_psnr", "mean_ms_ssim", "mean_nlpd", "mean_lpips", "swd", "fid")):
    """One row per evaluated codec (keys of ``evaluations``) with the chosen summary values."""
    import pandas as pd

    return pd.DataFrame({k: {c: e.summary.get(c, float("nan")) for c in columns} for k, e in evaluations.items()}).T
