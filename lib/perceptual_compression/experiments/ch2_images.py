"""Chapter 2, the image experiments (Hepburn et al., ICLR 2022, Sec. 4, 5.1, 5.2; appendices D, E).

- :func:`train_factorized`: Ballé et al. (2018) factorized-prior autoencoders trained with ``D = 255^2 MSE``
  or ``D = 1 - MS-SSIM`` in eq. 3 (the paper used pretrained tensorflow-compression models).
- :func:`observation5`: Spearman correlations of the induced distances ``D_r``, ``D_in`` (and RMSE) with a
  quality score over (reference, distorted) pairs (Fig. 3; TID2013's MOS, or a named stand-in).
- :func:`contrast_performance`: rate-normalised performance along the contrast axis (eq. 14, Fig. 4 right),
  and :func:`contrast_factors`: its ratio split into a distortion and a rate factor; :func:`contrast_mean_error`:
  the part of a model's MSE along the axis that is an error of the channel means, and
  :func:`means_restored_factors`: the ratio's factors with those means restored.
- :func:`train_entropy_limited` / :func:`evaluate_codec`: the entropy-limited autoencoders of Sec. 5.2 trained
  on natural patches or on uniform noise (Table 1, Figs. 5, 18, 19); :func:`flat_grey_scores`: the flat grey
  image, Table 1's zero-bit reference level; :func:`mean_restored_psnr`: PSNR with each image's channel
  means restored (how much of a model's error is brightness and colour cast rather than structure);
  :func:`block_mean_scores`: the untrained 16 x 16 block-mean code, a second reference for Table 1, and
  :func:`noise_objective_gains`: how much each training distortion rewards that code on uniform noise.
- :func:`small_batch_run`: batch-size-1 training with NLPD vs MSE (appendix E.1, Fig. 20).

Training images are patches of the training set the chapter is given (the book uses scikit-image's
embedded photographs, so that Kodak stays a test set); evaluation is on Kodak.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..analysis.contrast import contrast_axis
from ..analysis.correlation import spearman
from ..analysis.induced_distances import rmse
from ..analysis.relative_performance import relative_performance
from ..losses.perceptual_rate_distortion import distortion, rate_distortion_loss
from ..models.entropy_limited import EntropyLimitedAutoencoder
from ..models.factorized_prior import factorized_prior, inner, load_zoo_factorized, reconstruct, widths_for_rate
from ..training import Trainer, default_device, seed_everything

Tensor = torch.Tensor


# ------------------------------------------------------------------------------------------ data
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


NOISE_KINDS = ("uniform", "uniform-ranged", "uniform-tiled")  # Sec. 5.2's noise, then two labelled tests of ours
NOISE_TILE = 16  # side of the tiles of "uniform-tiled" (one code vector of the Table 1 autoencoders covers 16²)


def uniform_noise_batch(batch_size: int, size: int, generator: torch.Generator, *, kind: str = "uniform") -> Tensor:
    """Images of i.i.d. ``U(0, 1)`` pixels (``kind="uniform"``: the "training without data" distribution of
    Sec. 5.2).

    Two other kinds are not the paper's; the book trains on them to test why its noise-trained models do not
    transfer to photographs. Pixels stay independent given a range ``[lo, hi]`` (the order statistics of two
    ``U(0, 1)`` draws, so ``(lo + hi) / 2`` has variance 1/24), drawn

    - ``"uniform-ranged"``: once per image channel, so each image is flat noise around its own mean;
    - ``"uniform-tiled"``: once per ``NOISE_TILE``² tile of each image channel, on a grid shifted by a random
      offset per image, so local means vary across the image as a photograph's block means do (with no
      structure inside a tile and none between tiles).

    The paper's noise keeps every 16×16 block mean within about ±0.05 of 0.5."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"kind={kind!r} is not valid; valid values are: " + ", ".join(repr(k) for k in NOISE_KINDS))
    if kind == "uniform":
        return torch.rand(batch_size, 3, size, size, generator=generator)
    if kind == "uniform-ranged":  # the ranges are drawn before the pixels (the committed run's stream)
        ends = torch.rand(batch_size, 3, 2, 1, 1, generator=generator)
    else:
        t = NOISE_TILE
        n = size // t + 2  # tiles per side: enough to cover the image at any offset
        ends = torch.rand(batch_size, 3, 2, n, n, generator=generator)
        offsets = torch.randint(0, t, (batch_size, 2), generator=generator)
        ends = ends.repeat_interleave(t, dim=-2).repeat_interleave(t, dim=-1)
        ends = torch.stack([e[..., oy:oy + size, ox:ox + size] for e, (oy, ox) in zip(ends, offsets.tolist())])
    lo, hi = ends.min(dim=2).values, ends.max(dim=2).values
    return lo + (hi - lo) * torch.rand(batch_size, 3, size, size, generator=generator)


# ------------------------------------------------------------------------------- factorized prior
def train_factorized(cfg, dist: str, lmbda: float, rate_index: int, patches, *, seed: int = 0,
                     device=None, progress: bool | None = None, checkpoint_path=None, init_from=None,
                     steps: int | None = None, keep_every: int = 0):
    """Train one factorized-prior model with ``bpp + lmbda D`` (``D``: ``"mse"`` -> 255^2 MSE, ``"ms-ssim"``).

    ``patches``: a :class:`~perceptual_compression.datasets.PatchDataset` (its ``batch`` gives training
    batches). Widths follow appendix D (``cfg.n_low/m_low`` for the first ``cfg.n_low_rates`` rates).
    ``init_from``: a trained model to start from (fine-tuning; the small scale starts its MS-SSIM models
    from the MSE ones), ``steps``: overrides ``cfg.steps``; ``keep_every``: keep a copy of the checkpoint every
    so many steps (the :class:`~perceptual_compression.training.Trainer`'s, beside ``checkpoint_path``).
    Returns the model in evaluation mode with its entropy tables updated, its ``history``, ``resumed_from``
    (the step this call resumed at from ``checkpoint_path``; None: trained from the start) and ``train_seconds``
    (the run's training time over every invocation that trained it, as the Trainer's), and ``lost_channels``. A model trained with MS-SSIM that
    has lost a colour channel on the last batch (:func:`lost_channels`) comes with a ``RuntimeWarning``.
    """
    device = device or default_device()
    seed_everything(seed)
    n, m = widths_for_rate(rate_index, n_low_rates=cfg.n_low_rates, low=(cfg.n_low, cfg.m_low),
                           high=(cfg.n_high, cfg.m_high))
    model = factorized_prior(n, m).to(device)
    if init_from is not None:
        model.load_state_dict(init_from.state_dict())  # CompressAI resizes the entropy tables; update() redoes them
    main = [p for name, p in model.named_parameters() if not name.endswith("quantiles")]
    aux = [p for name, p in model.named_parameters() if name.endswith("quantiles")]
    opt = torch.optim.Adam(main, lr=cfg.lr)
    aux_opt = torch.optim.Adam(aux, lr=1e-3)

    last = {}

    def step_fn(step: int):
        x = patches.batch(cfg.batch_size).to(device)
        last["x"] = x
        out = model(x)
        rd = rate_distortion_loss(out, x, lmbda, dist)
        opt.zero_grad(set_to_none=True)
        rd["loss"].backward()
        torch.nn.utils.clip_grad_norm_(main, 1.0)
        opt.step()
        a = model.aux_loss()
        aux_opt.zero_grad(set_to_none=True)
        a.backward()
        aux_opt.step()
        return {"loss": rd["loss"], "bpp": rd["bpp"], "distortion": rd["distortion"]}

    trainer = Trainer(modules={"model": model}, optimizers={"opt": opt, "aux": aux_opt},
                      checkpoint_path=checkpoint_path, checkpoint_every=cfg.checkpoint_every if checkpoint_path else 0,
                      progress=progress, desc=f"factorized {dist} λ={lmbda:g}", log_every=cfg.log_every,
                      streams={"patches": patches}, keep_every=keep_every)
    history = trainer.run(step_fn, cfg.steps if steps is None else steps)
    model.eval()
    model.update(force=True)
    model.history = history
    model.resumed_from = trainer.resumed_from  # the step this call resumed at (None: trained from its start)
    model.train_seconds = trainer.train_seconds  # over every invocation that trained it (None: unknown)
    model.lost_channels = []  # the colour channels MS-SSIM training lost (lost_channels, on the last batch)
    if dist == "ms-ssim" and "x" in last:
        lost = model.lost_channels = lost_channels(msssim_channels(model, last["x"]))
        if lost:
            warnings.warn(f"factorized ms-ssim λ={lmbda:g}: colour channel(s) {lost} are reconstructed at a negative "
                          "mean or score MS-SSIM 0 on the last batch: lost to the loss's sign symmetry or its clipping "
                          "(see perceptual_compression.metrics.msssim), from which MS-SSIM training cannot bring them "
                          "back. Fine-tune from an MSE model (FactorizedConfig.msssim_from_mse) or train with another "
                          "seed.", RuntimeWarning, stacklevel=2)
    return model


@torch.no_grad()
def msssim_channels(model, images: Sequence[Tensor] | Tensor, *, levels: int | str = "auto") -> dict:
    """Per colour channel of a model's reconstructions of ``images`` (rounded latents, not clamped, as the
    training loss sees them up to its noise): ``ms_ssim`` (mean), ``dead_share`` (share of the images where
    the channel scores exactly 0: every term clipped, no gradient), ``mean_out`` and ``mean_in`` (the channel
    means of the reconstructions and of the originals), ``dead_channels`` (``dead_share > 0.5``) and
    ``lost_channels`` (:func:`lost_channels`)."""
    from ..metrics import ms_ssim_per_channel

    dev = next(model.parameters()).device
    scores, out_means, in_means = [], [], []
    for x in images:
        x = (x.unsqueeze(0) if x.dim() == 3 else x).to(dev)
        x_hat = model(x)["x_hat"]
        scores.append(ms_ssim_per_channel(x, x_hat, levels=levels).cpu())
        out_means.append(x_hat.mean((2, 3)).cpu())
        in_means.append(x.mean((2, 3)).cpu())
    scores = torch.cat(scores)
    dead = (scores == 0).double().mean(0)
    out = {"ms_ssim": scores.double().mean(0).numpy(), "dead_share": dead.numpy(),
           "mean_out": torch.cat(out_means).double().mean(0).numpy(), "mean_in": torch.cat(in_means).double().mean(0).numpy(),
           "dead_channels": [int(c) for c in torch.nonzero(dead > 0.5).flatten()]}
    return {**out, "lost_channels": lost_channels(out)}


def lost_channels(channels: dict) -> list[int]:
    """The colour channels MS-SSIM training cannot bring back, from :func:`msssim_channels`' numbers (or a
    record of them): reconstructed at a negative mean (images are in [0, 1]: the sign-flipped mirror solution of
    :mod:`perceptual_compression.metrics.msssim`) or scoring 0 on most images."""
    return sorted({int(c) for c in channels["dead_channels"]} | {c for c, m in enumerate(channels["mean_out"]) if m < 0})


def channel_letters(channels: Sequence[int]) -> str:
    """Colour channel indices as their letters, joined (``[0, 2]`` -> ``"RB"``)."""
    return "".join("RGB"[c] for c in channels)


def lost_channel_report(models: dict) -> str | None:
    """A sentence naming the trained models (``name -> model`` from :func:`train_factorized`) that lost a
    colour channel in training (their ``lost_channels``), for a chapter to show where a warning on stderr would
    not be seen; None when none did."""
    lost = {name: channel_letters(m.lost_channels) for name, m in models.items() if getattr(m, "lost_channels", None)}
    if not lost:
        return None
    return ("Lost colour channel(s): " + "; ".join(f"{name}: {ch}" for name, ch in lost.items()) + ". Each of these "
            "MS-SSIM models reconstructs the channel at a negative mean or scores MS-SSIM 0 on it: a mirror solution "
            "of the loss (SSIM(x, −x) ≈ 1 at the coarsest scale) that MS-SSIM training cannot leave. Its numbers "
            "below are those of a broken model, not of MS-SSIM training. Fine-tune from the MSE models "
            "(FactorizedConfig.msssim_from_mse = True, the small scale's setting) or train with another seed.")


# ---------------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate_codec(model, images: Sequence[Tensor], codec_id: str, *, msssim_levels: int | str = 5) -> dict[str, float]:
    """Code each image for real and score the decoded image.

    Models with a CompressAI entropy model go through :class:`~perceptual_compression.coding.ImageCodec`;
    the entropy-limited models code their center indices with
    :class:`~perceptual_compression.coding.CategoricalCodec` through their own ``compress`` (images must
    then be multiples of the model's stride). Returns the mean real bits per pixel (bytes written, header
    included), the estimated bpp where the model has likelihoods (NaN otherwise), PSNR, MS-SSIM and NLPD.
    """
    from ..coding import ImageCodec

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
        rows.append({"bpp": 8 * nbytes / (h * w), "bpp_estimated": est, **_quality(x, x_hat, msssim_levels)})
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def _quality(x: Tensor, x_hat: Tensor, msssim_levels: int | str) -> dict[str, float]:
    from ..metrics import ms_ssim, nlpd, psnr

    return {"psnr": float(psnr(x, x_hat)), "ms_ssim": float(ms_ssim(x, x_hat, levels=msssim_levels)),
            "nlpd": float(nlpd(x, x_hat))}


@torch.no_grad()
def soft_quantized_psnr(model: EntropyLimitedAutoencoder, images: Sequence[Tensor]) -> float:
    """Mean PSNR when the decoder gets eq. 15's soft values instead of the rounded centers.

    Not a codec (soft values cannot be coded with ``log2 L`` bits): a diagnostic of the train/test gap. A model
    trained with soft values whose latents stay inside the centers' span can score far better here than with
    rounding, which is what it is evaluated with."""
    return _mean_decoded_psnr(model, images, "soft", lambda x, x_hat: x_hat.clamp(0, 1))


def _mean_decoded_psnr(model, images: Sequence[Tensor], quantization: str,
                       post: Callable[[Tensor, Tensor], Tensor]) -> float:
    """Mean PSNR of ``post(x, x_hat)`` over ``images``, ``x_hat`` decoded with ``quantization`` (a flat
    mid-grey image if ``model`` is None)."""
    from ..metrics import psnr

    dev = next(model.parameters()).device if model is not None else torch.device("cpu")
    vals = []
    for x in images:
        x = (x.unsqueeze(0) if x.dim() == 3 else x).to(dev)
        x_hat = torch.full_like(x, 0.5) if model is None else model(x, quantization)["x_hat"]
        vals.append(float(psnr(x, post(x, x_hat))))
    return float(np.mean(vals))


def restore_channel_means(x: Tensor, x_hat: Tensor) -> Tensor:
    """``x_hat`` with each image's per-channel mean replaced by that of ``x`` (clamped to [0, 1]).

    Not a codec (it reads three numbers per image from the original): a diagnostic that separates errors of
    overall brightness and colour cast from errors of image structure."""
    dims = (-2, -1)
    return (x_hat - x_hat.mean(dims, keepdim=True) + x.mean(dims, keepdim=True)).clamp(0, 1)


@torch.no_grad()
def mean_restored_psnr(model: EntropyLimitedAutoencoder | None, images: Sequence[Tensor], *,
                       quantization: str = "hard") -> float:
    """Mean PSNR of the decoded images after :func:`restore_channel_means` (a diagnostic, not a codec).

    ``quantization``: ``"hard"`` (the codec's rounding) or ``"soft"`` (eq. 15's values fed to the decoder).
    ``model=None`` scores a flat image at each image's own per-channel mean: the level a model that carries no
    structure at all would reach here (the flat grey image with its means restored)."""
    if quantization not in ("hard", "soft"):
        raise ValueError(f"quantization={quantization!r} is not valid; valid values are: 'hard', 'soft'")
    return _mean_decoded_psnr(model, images, quantization, restore_channel_means)


@torch.no_grad()
def flat_grey_scores(images: Sequence[Tensor], level: float = 0.5, *, msssim_levels: int | str = 5) -> dict[str, float]:
    """PSNR, MS-SSIM and NLPD of a flat image at ``level`` against each image (means), scored like
    :func:`evaluate_codec`: the zero-bit reference level for Table 1 (the paper's MSE model trained on noise
    sits at about this level, 13.17 dB on Kodak)."""
    rows = []
    for x in images:
        x = x.unsqueeze(0) if x.dim() == 3 else x
        rows.append(_quality(x, torch.full_like(x, level), msssim_levels))
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


@torch.no_grad()
def block_mean_scores(images: Sequence[Tensor], factor: int = 16, bits: int = 8, *,
                      msssim_levels: int | str = 5) -> dict[str, float]:
    """Real bpp, PSNR, MS-SSIM and NLPD of :class:`~perceptual_compression.coding.BlockMeanCodec` (each
    ``factor x factor`` block's mean colour, ``bits`` bits, bilinear reconstruction), coded for real and
    scored like :func:`evaluate_codec` (means over images). No training: at ``factor = 16`` it is the
    low-pass code an autoencoder of Table 1 (16x downsampling, 64 bits per block) can always afford."""
    from ..coding import BlockMeanCodec

    codec = BlockMeanCodec(factor, bits)
    rows = []
    for x in images:
        x = (x.unsqueeze(0) if x.dim() == 3 else x).float().cpu()
        data = codec.compress(x)
        x_hat = codec.decompress(data)
        rows.append({"bpp": codec.bits_per_pixel(data, *x.shape[-2:]), **_quality(x, x_hat, msssim_levels)})
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
    from ..coding import BlockMeanCodec

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
    from ..coding import BlockMeanCodec

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
    from ..metrics.nlpd import nlpd_levels

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
            a = F.avg_pool2d(x, factor)
            b = F.avg_pool2d(code(x).clamp(0, 1), factor)
            a_all.append((a - a.mean((-2, -1), keepdim=True)).flatten())
            b_all.append((b - b.mean((-2, -1), keepdim=True)).flatten())
        a, b = torch.cat(a_all).double(), torch.cat(b_all).double()
        out[name] = {"slope": float((a @ b) / (a @ a)), "std_ratio": float(b.norm() / a.norm()),
                     "corr": float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-30))}
    return out


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


@torch.no_grad()
def observation5(models: dict[str, object], references: Sequence[Tensor], distorted: Sequence[tuple[int, Tensor]],
                 scores: dict[str, Sequence[float]]) -> dict[str, list[dict[str, float]]]:
    """Spearman correlation of ``D_r``, ``D_in`` (and RMSE) with quality scores over (reference, distorted) pairs.

    ``distorted``: ``(reference index, image)``; ``scores``: name -> one score per pair, oriented so that a
    *larger* score means *more* distortion (a distance, or ``-MOS``), so agreement is a positive correlation.
    ``D_r = ||f(x1) - f(x2)||`` with the coded reconstruction, ``D_in = ||e(x1) - e(x2)||`` before rounding.
    The distances are computed once and correlated with every score. Returns name -> rows (one per model,
    the first being RMSE).
    """
    x1 = [references[i] for i, _ in distorted]
    dist = {"RMSE": ([float(rmse(a[None], b[None])) for a, (_, b) in zip(x1, distorted)], None)}
    for name, model in models.items():
        dev = next(model.parameters()).device
        cache: dict[int, tuple[Tensor, Tensor]] = {}
        d_r, d_in = [], []
        for (i, image) in distorted:
            if i not in cache:
                r = references[i][None].to(dev)
                cache[i] = (inner(model, r), reconstruct(model, r))
            y1, f1 = cache[i]
            b = image[None].to(dev)
            d_in.append(float((inner(model, b) - y1).norm()))
            d_r.append(float((reconstruct(model, b) - f1).norm()))
        dist[name] = (d_r, d_in)
    out = {}
    for sname, sc in scores.items():
        sc = np.asarray(sc, dtype=np.float64)
        out[sname] = [{"model": name, "rho_Dr": spearman(d_r, sc),
                       "rho_Din": spearman(d_in, sc) if d_in is not None else float("nan")}
                      for name, (d_r, d_in) in dist.items()]
    return out


@torch.no_grad()
def contrast_performance(model_pairs: Sequence[tuple[object, object]], images: Sequence[Tensor], alphas: Sequence[float], *,
                         low: float = 0.0, high: float = 2.0, codec_prefix: str = "ch2-contrast") -> dict[str, np.ndarray]:
    """Relative performance ``P_perceptual / P_mse`` with ``P = MSE / bpp`` along the contrast axis (Fig. 4 right).

    ``model_pairs``: ``(perceptual model, MSE model)`` trained for similar rates; ``images``: ``(3, H, W)``
    tensors (a batch or a list). For every ``alpha`` each image ``x(alpha)`` (eq. 14) is coded for real by
    both models; ``P`` uses the mean squared error of the decoded image and the real bits per pixel (eq. 12).

    Returns ``alpha``, ``ratio`` (per pair, mean over images) and its mean over pairs, ``mean`` ("average
    across rates"). Beside them, the two factors of the ratio, each a geometric mean over images per pair
    and ``alpha``: ``distortion_ratio`` (MSE of the perceptual model / MSE of the MSE model) and
    ``rate_ratio`` (bpp / bpp); per image the ratio is exactly ``distortion_ratio / rate_ratio``, so their
    quotient is the geometric mean of the per-image ratios (at most ``ratio``, equal for one image). And the
    raw values, mean over images: ``bpp_perceptual``, ``bpp_mse``, ``mse_perceptual``, ``mse_mse``.
    """
    from ..coding import ImageCodec

    # values[k, a, i, j]: pair k, alpha a, image i; j = (D perceptual, R perceptual, D mse, R mse)
    values = np.zeros((len(model_pairs), len(alphas), len(images), 4))
    for k, (perc, mse_model) in enumerate(model_pairs):
        codecs = [ImageCodec(perc, f"{codec_prefix}-perceptual-{k}"), ImageCodec(mse_model, f"{codec_prefix}-mse-{k}")]
        for ia, a in enumerate(alphas):
            for ii, x in enumerate(images):
                xa = contrast_axis(x[None], float(a), low=low, high=high)
                for ic, codec in enumerate(codecs):
                    data = codec.compress(xa)
                    x_hat = codec.decompress(data).to(xa.device)
                    values[k, ia, ii, 2 * ic] = ((xa - x_hat) ** 2).mean().item()
                    values[k, ia, ii, 2 * ic + 1] = 8 * len(data) / (xa.shape[-1] * xa.shape[-2])
    d_p, r_p, d_m, r_m = (values[..., j] for j in range(4))
    per_image = relative_performance(d_p, r_p, d_m, r_m)
    r = per_image.mean(-1)
    tiny = np.finfo(np.float64).tiny  # a lossless decode (D = 0) gives a geometric mean of 0, not a NaN
    return {"alpha": np.asarray(alphas, dtype=np.float64), "ratio": r, "mean": r.mean(0),
            "distortion_ratio": np.exp(np.log(np.maximum(d_p, tiny) / np.maximum(d_m, tiny)).mean(-1)),
            "rate_ratio": np.exp(np.log(r_p / r_m).mean(-1)),
            "bpp_perceptual": r_p.mean(-1), "bpp_mse": r_m.mean(-1), "mse_perceptual": d_p.mean(-1), "mse_mse": d_m.mean(-1)}


def contrast_summary(res: dict, *, low_below: float = 0.5, high_above: float = 1.5) -> dict[str, float]:
    """The numbers the chapter reads from :func:`contrast_performance`: the minimum of the mean ratio (``min``)
    and its contrast (``alpha``), and the mean ratio below ``low_below`` (``low_mean``, the likely low-contrast
    images) and above ``high_above`` (``high_mean``). The paper's claim is ``low_mean < high_mean``."""
    a, mean = np.asarray(res["alpha"], dtype=np.float64), np.asarray(res["mean"], dtype=np.float64)
    i = int(np.argmin(mean))
    return {"min": float(mean[i]), "alpha": float(a[i]), "low_mean": float(mean[a < low_below].mean()),
            "high_mean": float(mean[a > high_above].mean())}


def zoo_models(qualities: Sequence[int], *, device=None, download: bool | None = None) -> dict[str, object]:
    """CompressAI's pretrained factorized-prior models for ``qualities``, named ``"mse-q<k>"`` and
    ``"ms-ssim-q<k>"`` (:func:`~perceptual_compression.models.factorized_prior.load_zoo_factorized`): the
    PyTorch counterparts of the pretrained tensorflow-compression models the paper measures (appendix D).
    Raises :class:`~perceptual_compression.assets.AssetUnavailableError` at the first file that cannot be had."""
    return {f"{metric}-q{q}": load_zoo_factorized(q, metric, device=device, download=download)
            for q in qualities for metric in ("mse", "ms-ssim")}


def zoo_pairs(models: dict[str, object], qualities: Sequence[int]) -> list[tuple[object, object]]:
    """``(MS-SSIM model, MSE model)`` per quality from :func:`zoo_models` (the order of
    :func:`contrast_performance`)."""
    return [(models[f"ms-ssim-q{q}"], models[f"mse-q{q}"]) for q in qualities]


def contrast_factors(res: dict, at: Sequence[float] = (0.02, 0.1, 0.5, 1.0, 2.0)) -> list[dict]:
    """Rows (pair, quantity, one column per contrast) that split :func:`contrast_performance`'s ratio into its
    distortion and rate factors at the grid points nearest to ``at``, beside each model's mean bpp.

    ``res`` may hold lists (a JSON record) or arrays. Columns are named ``"α = <value on the grid>"``; a grid
    point nearest to two of ``at`` appears once."""
    alpha = np.asarray(res["alpha"], dtype=np.float64)
    cols = sorted({int(np.argmin(np.abs(alpha - a))) for a in at})
    quantities = {"ratio P_MS-SSIM / P_MSE": "ratio", "D factor (MSE / MSE)": "distortion_ratio",
                  "R factor (bpp / bpp)": "rate_ratio", "bpp, MS-SSIM model": "bpp_perceptual", "bpp, MSE model": "bpp_mse"}
    rows = []
    for k in range(len(res["ratio"])):
        for label, key in quantities.items():
            v = np.asarray(res[key], dtype=np.float64)[k]
            rows.append({"pair": k, "quantity": label, **{f"α = {alpha[j]:g}": float(v[j]) for j in cols}})
    return rows


@torch.no_grad()
def contrast_mean_error(model, images: Sequence[Tensor], alphas: Sequence[float], *, low: float = 0.0,
                        high: float = 2.0, codec_id: str = "ch2-contrast-mean-error") -> dict[str, np.ndarray]:
    """How much of a model's MSE along the contrast axis is an error of the per-channel mean (a diagnostic).

    Each ``x(alpha)`` (eq. 14) is coded for real; returns per ``alpha`` (means over images) ``mse``, as in
    :func:`contrast_performance`, ``mse_means_restored``, the MSE after :func:`restore_channel_means` (never
    larger), and ``mean_share = 1 - mse_means_restored / mse``: the part of the error that is overall brightness
    and colour cast rather than structure."""
    from ..coding import ImageCodec

    codec = ImageCodec(model, codec_id)
    mse = np.zeros((len(alphas), len(images)))
    restored = np.zeros_like(mse)
    for ia, a in enumerate(alphas):
        for ii, x in enumerate(images):
            xa = contrast_axis(x[None], float(a), low=low, high=high)
            x_hat = codec.decompress(codec.compress(xa)).to(xa.device)
            mse[ia, ii] = ((xa - x_hat) ** 2).mean().item()
            restored[ia, ii] = ((xa - restore_channel_means(xa, x_hat)) ** 2).mean().item()
    m, r = mse.mean(-1), restored.mean(-1)
    return {"alpha": np.asarray(alphas, dtype=np.float64), "mse": m, "mse_means_restored": r, "mean_share": 1.0 - r / m}


def means_restored_factors(contrast: dict, mean_error: dict, rates: Sequence[int]) -> list[dict]:
    """Rows (pair, alpha) that join a :func:`contrast_performance` record (``contrast``) and the
    :func:`contrast_mean_error` results of the same models (``mean_error``: ``alpha`` and ``models``, keyed
    ``"ms-ssim-q<r+1>"`` / ``"mse-q<r+1>"`` for ``r`` in ``rates``): each model's share of the channel means in its
    MSE, the distortion factor with the means restored, and that factor over the rate factor at the nearest
    contrast of ``contrast``, an approximate ratio with the means restored (a diagnostic, not a codec)."""
    grid = np.asarray(contrast["alpha"], dtype=np.float64)
    rows = []
    for k, r in enumerate(rates):
        ms, mse = mean_error["models"][f"ms-ssim-q{r + 1}"], mean_error["models"][f"mse-q{r + 1}"]
        for j, a in enumerate(mean_error["alpha"]):
            r_f = contrast["rate_ratio"][k][int(np.argmin(np.abs(grid - a)))]
            d_rest = ms["mse_means_restored"][j] / mse["mse_means_restored"][j]
            rows.append({"pair": f"q{r + 1}", "α": a, "means' share of MSE, MS-SSIM model": ms["mean_share"][j],
                         "means' share of MSE, MSE model": mse["mean_share"][j],
                         "D factor, means restored": d_rest, "≈ ratio, means restored (D / R factor)": d_rest / r_f})
    return rows


def fine_tuning_rows(record: dict, at: Sequence[float] = (0.02, 0.1, 0.5, 2.0)) -> list[dict]:
    """Rows (pair, steps) of a ``benchmarks/ch2_factorized_longer.py`` record (MS-SSIM models fine-tuned
    longer, or trained from scratch with ``--start scratch``): each kept MS-SSIM model's Kodak
    scores, its Fig. 4 (right) ratio against the MSE model at the contrasts nearest to ``at`` and its minimum
    over the record's contrasts, the distortion and rate factors and the means' share of its MSE at
    ``alpha = 0.1`` (and the means' share at 0.02)."""
    alpha = np.asarray(record["alpha"], dtype=np.float64)
    cols = [int(np.argmin(np.abs(alpha - a))) for a in at]
    j01 = int(np.argmin(np.abs(alpha - 0.1)))
    rows = []
    for pair, p in record["pairs"].items():
        for k in p["kept"]:
            ratio = np.asarray(k["ratio"], dtype=np.float64)
            i_min = int(np.argmin(ratio))
            rows.append({"pair": pair, "steps": k["step"], "Kodak bpp": k["kodak"]["bpp"], "Kodak PSNR": k["kodak"]["psnr"],
                         "Kodak MS-SSIM": k["kodak"]["ms_ssim"], **{f"ratio α = {alpha[j]:g}": ratio[j] for j in cols},
                         "min ratio": ratio[i_min], "α of min": alpha[i_min], "D factor α = 0.1": k["distortion_ratio"][j01],
                         "R factor α = 0.1": k["rate_ratio"][j01], "means' share α = 0.02": k["mean_share"][0],
                         "means' share α = 0.1": k["mean_share"][1],
                         **({"lost channels": lost_channel_names(k)} if "channels" in k else {})})
    return rows


def lost_channel_names(kept: dict) -> str:
    """The colour channels (``"R"``, ``"G"``, ``"B"``) of a kept row's :func:`msssim_channels` numbers that
    :func:`lost_channels` names, joined (``""``: none)."""
    return channel_letters(lost_channels(kept["channels"]))


def healthy_pairs(record: dict) -> list[str]:
    """The pairs of a ``benchmarks/ch2_factorized_longer.py`` record whose MS-SSIM model lost no colour channel
    (:func:`lost_channels`) at any kept step (all of them where the record predates that check)."""
    return [name for name, p in record["pairs"].items()
            if not any("channels" in k and lost_channels(k["channels"]) for k in p["kept"])]


def fine_tuning_mean_ratio(record: dict, pairs: Sequence[str] | None = None) -> dict[int, np.ndarray]:
    """Per kept step of a ``benchmarks/ch2_factorized_longer.py`` record, the ratio averaged over its pairs
    (``pairs``: those named only; default all) ("average across rates", as in Fig. 4 right) at each of the
    record's contrasts."""
    if pairs is not None and (not pairs or set(pairs) - set(record["pairs"])):
        raise ValueError(f"pairs must be a non-empty subset of {sorted(record['pairs'])}, got {pairs!r}")
    pairs = [p for name, p in record["pairs"].items() if pairs is None or name in pairs]
    steps = [k["step"] for k in pairs[0]["kept"]]
    if any([k["step"] for k in p["kept"]] != steps for p in pairs):
        raise ValueError("the pairs of the record were kept at different steps")
    return {s: np.mean([np.asarray(p["kept"][i]["ratio"], dtype=np.float64) for p in pairs], axis=0)
            for i, s in enumerate(steps)}


def kept_minima(record: dict, pairs: Sequence[str] | None = None) -> list[dict]:
    """Per kept step of a ``benchmarks/ch2_factorized_longer.py`` record, in step order: the minimum over the
    contrasts of the ratio averaged over the pairs (``pairs``: those named only; :func:`fine_tuning_mean_ratio`),
    the contrast where it falls, and the mean ratio at low (``alpha <= 0.1``) and high (``alpha >= 1.5``)
    contrast."""
    alpha = np.asarray(record["alpha"], dtype=np.float64)
    if not (alpha <= 0.1 + 1e-12).any() or not (alpha >= 1.5 - 1e-12).any():
        raise ValueError("the record's contrasts must include some at or below 0.1 and some at or above 1.5")
    return [{"steps": step, **contrast_summary({"alpha": alpha, "mean": ratio}, low_below=0.1 + 1e-12,
                                               high_above=1.5 - 1e-12)}
            for step, ratio in sorted(fine_tuning_mean_ratio(record, pairs).items())]


# ------------------------------------------------------------------------ entropy-limited models
def train_entropy_limited(cfg, dist: str, centers: Sequence[float], data: str, patches=None, *, seed: int = 0,
                          device=None, progress: bool | None = None, checkpoint_path=None,
                          time_limit_s: float | None = None) -> EntropyLimitedAutoencoder:
    """Train an entropy-limited autoencoder minimising ``D`` alone (Sec. 5.2) on ``data``:
    ``"natural"`` (``patches.batch``), ``"uniform"`` (i.i.d. ``U(0, 1)`` pixels, the paper's) or another kind
    of :func:`uniform_noise_batch` (not the paper's). ``D``: ``"mse"``,
    ``"ms-ssim"`` (``1 - MS-SSIM``) or ``"nlpd"``. In training the latents go through the quantizer in mode
    ``cfg.train_quantization``: ``"ste"`` (rounded forward, eq. 15's gradient) or ``"soft"`` (eq. 15 forward).

    ``time_limit_s`` stops training early (the :class:`~perceptual_compression.training.Trainer`'s wall-clock
    budget); the returned model's ``steps_done`` says how many steps ran, ``resumed_from`` the step this call
    resumed at from ``checkpoint_path`` (None: trained from the start) and ``train_seconds`` the training time
    over every invocation that trained it (the Trainer's)."""
    if data not in ("natural", *NOISE_KINDS):
        raise ValueError(f"data={data!r} is not valid; valid values are: "
                         + ", ".join(repr(d) for d in ("natural", *NOISE_KINDS)))
    train_mode = cfg.train_quantization
    if train_mode not in ("ste", "soft"):
        raise ValueError(f"train_quantization={train_mode!r} is not valid; valid values are: 'ste', 'soft'")
    if data == "natural" and patches is None:
        raise ValueError("data='natural' needs patches")
    device = device or default_device()
    seed_everything(seed)
    model = EntropyLimitedAutoencoder(cfg.n, cfg.m, centers, soft_scale=cfg.soft_scale).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(seed)

    def step_fn(step: int):
        if data == "natural":
            x = patches.batch(cfg.batch_size)
        else:
            x = uniform_noise_batch(cfg.batch_size, cfg.patch_size, gen, kind=data)
        x = x.to(device)
        out = model(x, train_mode)
        loss = distortion(dist, x, out["x_hat"]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return {"loss": loss}

    trainer = Trainer(modules={"model": model}, optimizers={"opt": opt}, checkpoint_path=checkpoint_path,
                      checkpoint_every=cfg.checkpoint_every if checkpoint_path else 0, progress=progress,
                      desc=f"entropy-limited {dist} on {data}, L={len(centers)}", log_every=cfg.log_every,
                      time_limit_s=time_limit_s, streams={"patches": patches} if data == "natural" else {"noise": gen})
    model.history = trainer.run(step_fn, cfg.steps)
    model.steps_done = trainer.step
    model.resumed_from, model.train_seconds = trainer.resumed_from, trainer.train_seconds
    model.eval()
    return model


# ------------------------------------------------------------------------ batch size 1 (E.1)
@dataclass
class SmallBatchResult:
    steps: np.ndarray
    test_mse: dict[str, np.ndarray]  # loss -> (seeds, evals)

    @property
    def ratio(self) -> np.ndarray:
        """``E_test MSE(x, x_NLPD) / E_test MSE(x, x_MSE)`` per seed and evaluation (Fig. 20)."""
        return self.test_mse["nlpd"] / self.test_mse["mse"]


def small_batch_run(cfg, patches_factory: Callable[[int], object], test_images: Tensor | Sequence[Tensor], *, device=None,
                    progress: bool | None = None) -> SmallBatchResult:
    """Appendix E.1: the Fig. 17 architecture without quantization trained with batch size 1 on ``D = MSE``
    and on ``D = NLPD``, from the same initialisation and image order per seed; the mean test MSE over
    ``test_images`` is recorded every ``cfg.eval_every`` steps. ``patches_factory(seed)`` returns a patch
    dataset whose stream gives the image order for that seed."""
    device = device or default_device()
    tests = [test_images.to(device)] if isinstance(test_images, Tensor) else [t[None].to(device) for t in test_images]
    results = {"mse": [], "nlpd": []}
    steps = None
    for seed in cfg.seeds:
        for dist in ("mse", "nlpd"):
            seed_everything(seed)
            model = EntropyLimitedAutoencoder(cfg.n, cfg.m, quantize=False).to(device)
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            patches = patches_factory(seed)
            evals, at = [], []

            @torch.no_grad()
            def test_mse() -> float:
                model.eval()
                errs = [((model(t)["x_hat"].clamp(0, 1) - t) ** 2).mean().item() for t in tests]
                model.train()
                return float(np.mean(errs))

            def step_fn(step: int):
                if step % cfg.eval_every == 0:
                    evals.append(test_mse())
                    at.append(step)
                x = patches.batch(1).to(device)
                loss = distortion(dist, x, model(x)["x_hat"]).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return {"loss": loss}

            Trainer(modules={"model": model}, optimizers={"opt": opt}, progress=progress,
                    desc=f"batch-size-1 {dist} seed {seed}").run(step_fn, cfg.steps)
            evals.append(test_mse())
            at.append(cfg.steps)
            results[dist].append(evals)
            steps = np.array(at)
    return SmallBatchResult(steps, {k: np.array(v) for k, v in results.items()})
