"""Chapter 2, Table 1's untrained reference levels and its uniform-noise claim (Sec. 5.2).

- :func:`flat_grey_scores`: the flat grey image (zero bits); :func:`block_mean_scores`: the 16 x 16 block-mean
  code, coded for real; :func:`reference_coders`: both as functions of an image;
- :func:`noise_objective_gains`: how much each training distortion rewards that code on uniform noise;
  :func:`nlpd_level_profiles` and :func:`block_mean_fidelity`: where in scale a codec's error lies;
- :func:`table1_uniform_claim`: the claim (perceptual models trained on noise beat MSE and grey) judged from PSNR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...losses.perceptual_rate_distortion import distortion
from .evaluation import image_quality
from .noise import uniform_noise_batch

Tensor = torch.Tensor


@torch.no_grad()
def flat_grey_scores(images: Sequence[Tensor], level: float = 0.5, *, msssim_levels: int | str = 5) -> dict[str, float]:
    """PSNR, MS-SSIM and NLPD of a flat image at ``level`` against each image (means), scored like
    :func:`evaluate_codec`: the zero-bit reference level for Table 1 (the paper's MSE model trained on noise
    sits at about this level, 13.17 dB on Kodak)."""
    rows = []
    for x in images:
        x = x.unsqueeze(0) if x.dim() == 3 else x
        rows.append(image_quality(x, torch.full_like(x, level), msssim_levels))
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


@torch.no_grad()
def block_mean_scores(images: Sequence[Tensor], factor: int = 16, bits: int = 8, *,
                      msssim_levels: int | str = 5) -> dict[str, float]:
    """Real bpp, PSNR, MS-SSIM and NLPD of :class:`~perceptual_compression.coding.BlockMeanCodec` (each
    ``factor x factor`` block's mean colour, ``bits`` bits, bilinear reconstruction), coded for real and
    scored like :func:`evaluate_codec` (means over images). No training: at ``factor = 16`` it is the
    low-pass code an autoencoder of Table 1 (16x downsampling, 64 bits per block) can always afford."""
    from ...coding import BlockMeanCodec

    codec = BlockMeanCodec(factor, bits)
    rows = []
    for x in images:
        x = (x.unsqueeze(0) if x.dim() == 3 else x).float().cpu()
        data = codec.compress(x)
        x_hat = codec.decompress(data)
        rows.append({"bpp": codec.bits_per_pixel(data, *x.shape[-2:]), **image_quality(x, x_hat, msssim_levels)})
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


@torch.no_grad()
def noise_objective_gains(size: int = 64, batch: int = 32, factors: Sequence[int] = (16, 8), *, seed: int = 0,
                          distortions: Sequence[str] = ("mse", "ms-ssim", "nlpd"),
                          noise: str = "uniform") -> dict[str, dict[str, float]]:
    """Each training distortion of Sec. 5.2 on i.i.d. ``U(0, 1)`` images (``batch`` of ``size``²; ``noise``:
    another kind of :func:`uniform_noise_batch`) for a flat
    grey reconstruction and for the block means at each factor (unquantized, bilinear, as
    :class:`~perceptual_compression.coding.BlockMeanCodec` decodes them).

    Returns ``{distortion: {"grey": D, "block16": D, ..., "block16_gain": 1 - D_block/D_grey, ...}}``: the
    fraction of the grey-level training loss that a perfect low-pass code removes, i.e. how strongly the
    noise objective pushes a model towards the code that carries a natural image's PSNR."""
    from ...coding import BlockMeanCodec

    bad = [d for d in distortions if d not in ("mse", "ms-ssim", "nlpd")]
    if bad:
        raise ValueError(f"distortions {bad} are not valid; valid values are: 'mse', 'ms-ssim', 'nlpd'")
    x = uniform_noise_batch(batch, size, torch.Generator().manual_seed(seed), kind=noise)
    recs = {"grey": torch.full_like(x, 0.5)}
    for f in factors:
        codec = BlockMeanCodec(int(f))
        means = torch.cat([codec.block_means(xi) for xi in x])
        up = torch.nn.functional.interpolate(means, size=(means.shape[-2] * f, means.shape[-1] * f),
                                             mode="bilinear", align_corners=False)
        recs[f"block{f}"] = up[..., :size, :size]
    out = {}
    for d in distortions:
        row = {k: float(distortion(d, x, r, msssim_levels="auto").mean()) for k, r in recs.items()}
        row |= {f"block{f}_gain": 1.0 - row[f"block{f}"] / row["grey"] for f in factors}
        out[d] = row
    return out


def reference_coders(codes: Sequence[tuple[int, int]] = ((16, 8), (8, 5))) -> dict[str, Callable[[Tensor], Tensor]]:
    """The untrained references of Table 1 as functions ``x -> x_hat`` of one image ``(1, C, H, W)``: the flat
    grey image and, for each ``(factor, bits)``, the block means coded for real by
    :class:`~perceptual_compression.coding.BlockMeanCodec`."""
    from ...coding import BlockMeanCodec

    coders = {"flat grey": lambda x: torch.full_like(x, 0.5)}
    for f, b in codes:
        codec = BlockMeanCodec(int(f), int(b))
        coders[f"{f}×{f} block means, {b} bit"] = lambda x, c=codec: c.decompress(c.compress(x)).to(x.device)
    return coders


@torch.no_grad()
def nlpd_level_profiles(images: Sequence[Tensor] | Tensor,
                        coders: dict[str, Callable[[Tensor], Tensor]]) -> dict[str, list[float]]:
    """Per-level NLPD differences ``r_k`` (six levels, fine to coarse;
    :func:`~perceptual_compression.metrics.nlpd.nlpd_levels`) of each coder's reconstruction, mean over the
    images. ``coders`` map a name to ``x -> x_hat`` for one image ``(1, C, H, W)`` (e.g.
    :func:`reference_coders`, or a model's rounded reconstruction). Shows *where* in scale a codec's NLPD
    comes from: e.g. whether a model trained on noise codes the coarse bands that the block means carry."""
    from ...metrics.nlpd import nlpd_levels

    out = {}
    for name, code in coders.items():
        rows = []
        for x in images:
            x = x.unsqueeze(0) if x.dim() == 3 else x
            rows.append(nlpd_levels(x, code(x).clamp(0, 1)))
        out[name] = [float(v) for v in torch.cat(rows).mean(0)]
    return out


@torch.no_grad()
def block_mean_fidelity(images: Sequence[Tensor] | Tensor, coders: dict[str, Callable[[Tensor], Tensor]],
                        factor: int = 16) -> dict[str, dict[str, float]]:
    """How faithfully each coder reproduces the ``factor`` x ``factor`` block means of the images, the coarse
    structure that :class:`~perceptual_compression.coding.BlockMeanCodec` carries. The block means of the original
    (``a``) and of the reconstruction (``b``) are centred on each image's own mean (so a wrong overall brightness
    does not count) and pooled over blocks, channels and images. Returns per coder the regression ``slope``
    ``<a, b> / <a, a>`` (1: the coarse structure at its true amplitude; near 0: at a small fraction of it),
    ``std_ratio`` ``|b| / |a|`` and the correlation ``corr``."""
    out = {}
    for name, code in coders.items():
        a_all, b_all = [], []
        for x in images:
            x = x.unsqueeze(0) if x.dim() == 3 else x
            a_all.append(_centred_block_means(x, factor))
            b_all.append(_centred_block_means(code(x).clamp(0, 1), factor))
        a, b = torch.cat(a_all).double(), torch.cat(b_all).double()
        out[name] = {"slope": float((a @ b) / (a @ a)), "std_ratio": float(b.norm() / a.norm()),
                     "corr": float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-30))}
    return out


def _centred_block_means(x: Tensor, factor: int) -> Tensor:
    """The ``factor`` x ``factor`` block means of ``x`` (B, C, H, W), each centred on its image and channel's mean
    over the blocks, flattened."""
    m = F.avg_pool2d(x, factor)
    return (m - m.mean((-2, -1), keepdim=True)).flatten()


@torch.no_grad()
def block_mean_spread(images: Sequence[Tensor] | Tensor, factor: int = 16) -> float:
    """The amplitude of the coarse structure that :func:`block_mean_fidelity` compares: the standard deviation
    (root mean square) of the ``factor`` x ``factor`` block means, each centred on its image and channel's mean,
    pooled over blocks, channels and images. For i.i.d. U(0, 1) pixels and ``n`` blocks per image it is
    ``sqrt(1/12) / factor * sqrt(1 - 1/n)`` in expectation (of the variance)."""
    parts = [_centred_block_means(x.unsqueeze(0) if x.dim() == 3 else x, factor) for x in images]
    return float(torch.cat(parts).double().pow(2).mean().sqrt())


GREY_MARGIN_DB = 0.5
"""How much a perceptual model must beat a flat grey image by (PSNR, dB) to count as having learned image
structure from noise: the models start at mid-grey (the decoder's last bias is 0.5), so a model that has not
moved would otherwise pass."""


def table1_uniform_claim(psnr: dict[str, float], *, margin_db: float = GREY_MARGIN_DB) -> dict[str, bool]:
    """The uniform-noise claim of Table 1 (Sec. 5.2), judged from Kodak PSNR per training loss.

    ``psnr`` maps ``"mse"``, ``"ms-ssim"``, ``"nlpd"`` and ``"flat grey"`` (:func:`flat_grey_scores`) to dB.
    The paper's MSE model sits at the grey level (13.17 dB) and its perceptual models 6-8 dB above it, so each
    perceptual model must beat both the MSE model and grey + ``margin_db``; the PSNR order must be
    MSE < MS-SSIM < NLPD. Returns one boolean per condition and ``"holds"`` (all of them).
    """
    missing = [k for k in ("mse", "ms-ssim", "nlpd", "flat grey") if k not in psnr]
    if missing:
        raise ValueError(f"psnr lacks {missing}; it needs 'mse', 'ms-ssim', 'nlpd' and 'flat grey'")
    floor = psnr["flat grey"] + margin_db
    claim = {f"{k}_beats_mse": bool(psnr[k] > psnr["mse"]) for k in ("ms-ssim", "nlpd")}
    claim |= {f"{k}_beats_grey_by_{margin_db:g}_db": bool(psnr[k] > floor) for k in ("ms-ssim", "nlpd")}
    claim["psnr_order_as_paper"] = bool(psnr["mse"] < psnr["ms-ssim"] < psnr["nlpd"])
    claim["holds"] = all(claim.values())
    return claim
