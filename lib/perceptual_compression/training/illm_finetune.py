r"""Stage 2 of MS-ILLM: adversarial fine-tuning of the decoder (Muckley et al. 2023, Sec. 4.5, supplement A.3).

Starting from the No-GAN model of stage 1 (:mod:`perceptual_compression.training.illm`), the encoder and the
entropy model are frozen and only the decoder :math:`h_\nu` is trained, on the full objective of eq. 3,

.. math::
    \mathcal L_G = \rho(\hat x, x) + \lambda_d\, \mathcal L_{\mathrm{adv}}(\hat x)
    \;(+\,\lambda\, r,\ \text{constant here since the encoder and entropy model are frozen}),

while a discriminator is trained alongside:

* ``"illm"``: the conditional U-Net of :mod:`perceptual_compression.models.illm_discriminator` with the losses of
  eq. 6–7 against the labels of the frozen VQ-VAE labeler; discriminator learning rate 4e-4;
* ``"patchgan"``: HiFiC's conditional PatchGAN with the binary non-saturating loss (MS-PatchGAN); 1e-4;
* ``"none"``: the same fine-tuning without adversarial term (a control: what the extra decoder steps alone do).

Both optimisers are AdamW with betas (0.5, 0.9) and weight decay 0 at the paper scale (the reference's
fine-tuning optimizer; the small scale keeps the pretraining's 5e-5); the generator's learning rate is 1e-4.
λ_d = 0.008 matches HiFiC's PSNR, 0.0005 its FID (Sec. 5.1). The reference fine-tunes for 100k steps with
``data.batch_size=16`` crops of 256² on each of the two GPUs of its configuration (``ngpu: 2``, DDP), each GPU
splitting its 16 between decoder and discriminator: the averaged gradient is that of a batch of 32 split 16/16,
the ``paper`` scale below. Since the encoder and entropy model are frozen, the bitstream of an image is the same
before and after fine-tuning: only the decoded image changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..losses.adversarial import (discriminator_accuracy, illm_discriminator_loss, illm_generator_loss,
                                  ns_discriminator_loss, ns_generator_loss)
from ..losses.distortion import IllmDistortion
from ..models.illm_discriminator import LAYOUTS, NORMS, PAPER_CHANNELS as UNET_PAPER_CHANNELS, ConditionalUNetDiscriminator
from ..models.patchgan import PAPER_CHANNELS as PATCHGAN_PAPER_CHANNELS, PatchGANDiscriminator
from ..models.vqvae_labeler import VQVAELabeler
from ..params import check_choice
from .illm import check_crop_settings, distortion_tag, training_batches
from .loop import Trainer, TrainingHistory

SCALES = ("small", "paper")
DISCRIMINATORS = ("illm", "patchgan", "none")
#: λ_d of the paper: 0.008 matches HiFiC's PSNR, 0.0005 its FID/KID (Sec. 5.1).
LAMBDA_D_PSNR_MATCH = 0.008
LAMBDA_D_FID_MATCH = 0.0005
#: Margins of :func:`lambda_d_trend`: a λ_d sweep's PSNR must change by more than 0.2 dB, and its distribution
#: distance by more than 3% of its value at λ_d = 0, to count as a change. One seed per run gives no measured
#: spread; these are about the spread of the three ILLM decoders of the committed 800-step sweep
#: (benchmarks/results/illm_sweep.json) at the paper's U-Net learning rate, which follow no trend: 0.18 dB of PSNR
#: and 2.6% of sliced Wasserstein distance.
TREND_PSNR_MARGIN_DB = 0.2
TREND_DISTANCE_MARGIN = 0.03
# FinetuneConfig fields that do not change the fine-tuned weights, left out of ``FinetuneConfig.tag``: ``scale`` is a
# label, ``checkpoint_every`` does not change the result, ``data_workers`` only cuts the same batches ahead of time
# and ``notes`` is free text. Every other field, and any field added later, is tagged.
UNTAGGED_FIELDS = ("scale", "checkpoint_every", "data_workers", "notes")


@dataclass(frozen=True)
class FinetuneConfig:
    """Settings of the GAN fine-tuning (A.3). Use :meth:`for_scale`."""

    scale: str
    steps: int
    batch_size: int
    crop_size: int
    generator_lr: float = 1e-4
    illm_discriminator_lr: float = 4e-4
    patchgan_discriminator_lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 5e-5
    #: the reference's fine-tuning (NeuralCompression projects/illm): the batch is split in two, the decoder
    #: trains on the first half and the discriminator sees the second half as real ("mc_sampling", the paper's
    #: "different samples"); the decoder steps before the discriminator, which then scores the reconstructions
    #: made before that step; the ILLM discriminator's loss is weighted by 0.5 (its OASIS loss; the PatchGAN's
    #: binary loss, which the reference does not fine-tune with, is left as HiFiC's)
    mc_sampling: bool = False
    generator_first: bool = False
    illm_d_loss_weight: float = 1.0
    #: the ILLM U-Net's layout (models.illm_discriminator): "reference" (the released one) or "skips" (small)
    unet_layout: str = "reference"
    lambda_d: float = LAMBDA_D_PSNR_MATCH
    lambda_mse: float = 150.0
    grad_clip_norm: float = 1.0
    norm: str = "none"
    unet_channels: tuple[int, ...] = UNET_PAPER_CHANNELS
    context_features: int = 16
    patchgan_channels: tuple[int, ...] = PATCHGAN_PAPER_CHANNELS
    checkpoint_every: int = 10_000
    small_images: str = "upscale"  # training crops as in stage 1 (IllmConfig.small_images, image_order)
    image_order: str = "cycle"
    data_workers: int = 0  # DataLoader processes that cut the training batches ahead (illm.PrefetchedBatches)
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_choice("scale", self.scale, SCALES)
        check_choice("norm", self.norm, NORMS)
        check_crop_settings(self)
        check_choice("unet_layout", self.unet_layout, LAYOUTS)
        if self.steps < 1 or self.batch_size < 1 or self.crop_size % 64:
            raise ValueError("steps and batch_size must be positive, crop_size a multiple of 64")
        if self.lambda_d < 0:
            raise ValueError("lambda_d must be non-negative")
        if self.mc_sampling and self.batch_size < 2:
            raise ValueError("mc_sampling splits the batch in two: batch_size must be at least 2")

    @classmethod
    def for_scale(cls, scale: str = "small", **overrides: Any) -> FinetuneConfig:
        """``"paper"``: A.3 (100k steps of 256² crops, lr 1e-4 / 4e-4 / 1e-4, betas (0.5, 0.9), λ_d 0.008) and
        the reference's fine-tuning command (README: ``optimizer=model_adamw_disc_const``, weight decay 0; the
        batch split between decoder and discriminator, decoder step first, discriminator loss × 0.5; batch 32, the
        command's 16 per GPU on the configuration's two GPUs).

        ``"small"``: the same optimisers, learning rates and losses on a CPU budget: 80 steps of 4 128² patches,
        a U-Net of four levels (8…64 channels, context 4) and a PatchGAN of 16…64 channels; it keeps the batch
        whole (a split batch of 4 leaves 2 images per side), steps the discriminator first, with weight decay
        5e-5, an unweighted discriminator loss and the U-Net layout with skip connections ("skips"), as the
        committed longer runs did. (Learning rates ×4
        were tried: Adam's first steps then move every decoder weight by about 4e-4 and cost the converged
        No-GAN decoder about 1 dB of PSNR on Kodak after two steps, before any adversarial effect.)
        """
        check_choice("scale", scale, SCALES)
        if scale == "paper":
            cfg = cls("paper", steps=100_000, batch_size=32, crop_size=256, weight_decay=0.0, mc_sampling=True,
                      generator_first=True, illm_d_loss_weight=0.5, small_images="torchvision-reflect",
                      image_order="shuffle", data_workers=8)
        else:
            steps = int(overrides.get("steps", 80))  # the notes name the run's length, an overridden one too
            cfg = cls("small", steps=steps, batch_size=4, crop_size=128, unet_channels=(8, 16, 32, 64), unet_layout="skips",
                      context_features=4, patchgan_channels=(16, 32, 64, 64), checkpoint_every=0,
                      notes=(f"small: {steps} steps of 4x128², the paper's learning rates, narrow discriminators",))
        return replace(cfg, **overrides) if overrides else cfg

    def tag(self, distortion: str | None = None) -> str:
        """Short, stable hash of every setting that changes the fine-tuned weights (names checkpoint files), not the
        fields in ``UNTAGGED_FIELDS``; ``distortion``: the label of the distortion (LPIPS or its fallback)."""
        return distortion_tag(self, UNTAGGED_FIELDS, distortion)

    def discriminator_lr(self, kind: str) -> float:
        check_choice("discriminator", kind, DISCRIMINATORS)
        return self.illm_discriminator_lr if kind == "illm" else self.patchgan_discriminator_lr

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_discriminator(kind: str, config: FinetuneConfig, *, latent_features: int,
                        labeler: VQVAELabeler | None = None) -> nn.Module | None:
    """The discriminator of ``kind`` ("illm" needs the labeler: C + 1 classes at its resolution)."""
    check_choice("discriminator", kind, DISCRIMINATORS)
    if kind == "none":
        return None
    if kind == "patchgan":
        return PatchGANDiscriminator(latent_features, channels=config.patchgan_channels)
    if labeler is None:
        raise ValueError("the ILLM discriminator needs a labeler (its codebook size and resolution)")
    return ConditionalUNetDiscriminator(labeler.num_labels, labeler.downsampling, latent_features,
                                        context_features=config.context_features, channels=config.unet_channels,
                                        norm=config.norm, layout=config.unet_layout)


def prepare_for_finetuning(model: nn.Module) -> list[nn.Parameter]:
    """Freeze the encoder and the entropy model (they stay frozen through ``.train()``); return the decoder's parameters."""
    model.freeze_encoder().freeze_bottleneck()
    model.train()
    params = list(model.decoder.parameters())
    for p in params:
        p.requires_grad_(True)
    return params


@dataclass
class FinetuneResult:
    model: nn.Module
    discriminator: nn.Module | None
    history: TrainingHistory
    kind: str
    lambda_d: float
    config: FinetuneConfig


class AdversarialStep:
    """One fine-tuning step: a discriminator update and a decoder update, in the order ``config.generator_first``
    says (the small scale: discriminator first; the paper scale: decoder first, as the reference); usable on its
    own in tests."""

    def __init__(self, model: nn.Module, kind: str, config: FinetuneConfig, *, distortion: nn.Module,
                 discriminator: nn.Module | None = None, labeler: VQVAELabeler | None = None,
                 lambda_d: float | None = None) -> None:
        check_choice("discriminator", kind, DISCRIMINATORS)
        if kind == "illm" and labeler is None:
            raise ValueError("ILLM fine-tuning needs a trained labeler")
        self.model, self.kind, self.config = model, kind, config
        self.distortion, self.discriminator = distortion, discriminator
        self.labeler = labeler.freeze() if labeler is not None else None
        self.lambda_d = float(config.lambda_d if lambda_d is None else lambda_d)
        self.decoder_params = prepare_for_finetuning(model)
        self.g_opt = torch.optim.AdamW(self.decoder_params, lr=config.generator_lr, betas=config.betas,
                                       weight_decay=config.weight_decay)
        self.d_opt = None
        if discriminator is not None and kind != "none":
            discriminator.train()
            self.d_opt = torch.optim.AdamW(discriminator.parameters(), lr=config.discriminator_lr(kind),
                                           betas=config.betas, weight_decay=config.weight_decay)

    def _d(self, x: Tensor, context: Tensor) -> Tensor:
        return self.discriminator(x, context)

    def _discriminator_step(self, x_real: Tensor, x: Tensor, x_hat: Tensor, context: Tensor,
                            labels: Tensor | None) -> dict[str, Any]:
        """One discriminator update: ``x_real`` (the batch, or its other half) against the reconstructions
        ``x_hat`` of ``x``, each with its own latent context and, for ILLM, the real images' labels."""
        if x_real is x:
            real_context, real_labels = context, labels
        else:
            with torch.no_grad():
                real_context = self.model(x_real)["y_hat"]
            real_labels = self.labeler.labels(x_real) if self.kind == "illm" else None
        real, fake = self._d(x_real, real_context), self._d(x_hat.detach(), context)
        d_loss = (self.config.illm_d_loss_weight * illm_discriminator_loss(real, fake, real_labels)
                  if self.kind == "illm" else ns_discriminator_loss(real, fake))
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        if self.config.grad_clip_norm:
            torch.nn.utils.clip_grad_norm_(self.discriminator.parameters(), self.config.grad_clip_norm)
        self.d_opt.step()
        return {"d_loss": d_loss.detach(), **discriminator_accuracy(real, fake, real_labels)}

    def __call__(self, x: Tensor) -> dict[str, Any]:
        cfg = self.config
        x_real = x
        if cfg.mc_sampling and self.d_opt is not None:  # decoder on one half, the discriminator's reals the other
            half = x.shape[0] // 2
            if half < 1:
                raise ValueError(f"mc_sampling splits the batch in two; a batch of {x.shape[0]} cannot be split")
            x, x_real = x[:half], x[half:2 * half]
        out = self.model(x)
        x_hat, context = out["x_hat"], out["y_hat"].detach()
        log: dict[str, Any] = {}
        labels = self.labeler.labels(x) if self.d_opt is not None and self.kind == "illm" else None
        if self.d_opt is not None and not cfg.generator_first:
            log.update(self._discriminator_step(x_real, x, x_hat, context, labels))
        adv_g = torch.zeros((), device=x.device)
        if self.d_opt is not None:
            self.discriminator.requires_grad_(False)
            fake_g = self._d(x_hat, context)
            self.discriminator.requires_grad_(True)
            adv_g = illm_generator_loss(fake_g, labels) if self.kind == "illm" else ns_generator_loss(fake_g)
        terms = self.distortion.terms(x, x_hat)
        dist = terms["total"].mean()
        g_loss = dist + self.lambda_d * adv_g
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        if cfg.grad_clip_norm:
            torch.nn.utils.clip_grad_norm_(self.decoder_params, cfg.grad_clip_norm)
        self.g_opt.step()
        if self.d_opt is not None and cfg.generator_first:  # on the reconstructions made before the decoder step
            log.update(self._discriminator_step(x_real, x, x_hat, context, labels))
        mse = terms["mse"].mean().detach()
        pixels = x.shape[-2] * x.shape[-1]
        log.update(g_loss=g_loss.detach(), distortion=dist.detach(), adv_g=adv_g.detach(), mse=mse,
                   psnr=-10 * torch.log10(mse.clamp_min(1e-10)), bpp=(out["bits"] / pixels).mean().detach())
        return log


def finetune(model: nn.Module, images, *, discriminator: str, config: FinetuneConfig, lambda_d: float | None = None,
             labeler: VQVAELabeler | None = None, distortion: nn.Module | None = None, seed: int = 0,
             checkpoint_path: str | Path | None = None, device: str | torch.device | None = None,
             progress: bool | None = None) -> FinetuneResult:
    """Fine-tune ``model``'s decoder (in place) against ``discriminator`` ("illm", "patchgan" or "none").

    ``model`` is a stage-1 :func:`~perceptual_compression.models.hific.msillm_autoencoder` (copy it first to
    keep the No-GAN model). Logged per step: ``g_loss``, ``distortion``, ``adv_g``, ``mse``, ``psnr``, ``bpp``
    and, with a discriminator, ``d_loss``, ``real_acc``, ``fake_acc``. Returns the model in eval mode with its
    entropy tables rebuilt (unchanged, since the entropy model is frozen), ready for an ImageCodec.
    """
    from .device import default_device
    from .seed import seed_everything

    dev = torch.device(device) if device is not None else default_device()
    seed_everything(seed)
    model.to(dev)
    if labeler is not None:
        labeler.to(dev)
    disc = build_discriminator(discriminator, config, latent_features=model.latent_features, labeler=labeler)
    if disc is not None:
        disc.to(dev)
    # the default distortion after the discriminator: building LPIPS draws random numbers (its layers' initial
    # values, before its weights load), which must not change the discriminator's initial weights
    distortion = (distortion if distortion is not None else IllmDistortion(config.lambda_mse)).to(dev)
    step = AdversarialStep(model, discriminator, config, distortion=distortion, discriminator=disc,
                           labeler=labeler, lambda_d=lambda_d)
    modules = {"model": model, **({"discriminator": disc} if disc is not None else {})}
    optimizers = {"generator": step.g_opt, **({"discriminator": step.d_opt} if step.d_opt is not None else {})}
    trainer = Trainer(modules=modules, optimizers=optimizers, checkpoint_path=checkpoint_path,
                      checkpoint_every=config.checkpoint_every if checkpoint_path else 0, seed=seed,
                      progress=progress, desc=f"{discriminator} fine-tuning (λ_d={step.lambda_d:g})")
    batches = training_batches(images, config, seed=seed + 202, stop=config.steps)
    history = trainer.run(lambda i: step(batches(i).to(dev)), config.steps)
    model.eval()
    model.update(force=True)
    return FinetuneResult(model, disc, history, discriminator, step.lambda_d, config)


@torch.no_grad()
def reconstruct(model: nn.Module, images, *, max_images: int | None = None) -> tuple[list[Tensor], list[Tensor]]:
    """Originals and decoded images (model in eval mode: rounded latents, as decoded from the bitstream).

    Images are padded to the model's stride and cropped back as the book's
    :class:`~perceptual_compression.coding.ImageCodec` pads by default (by reflection, as the reference does), so
    that the result is what a receiver decodes from the bitstream. Returns CPU tensors in [0, 1].
    """
    from ..coding.image import pad_to_multiple

    model.eval()
    dev = next(model.decoder.parameters()).device
    originals, recons = [], []
    n = len(images) if max_images is None else min(len(images), max_images)
    s = model.stride
    for i in range(n):
        x = images[i].unsqueeze(0).to(dev)
        h, w = x.shape[-2:]
        xp = pad_to_multiple(x, s)
        x_hat = model(xp)["x_hat"][..., :h, :w].clamp(0, 1)
        originals.append(x[0].cpu())
        recons.append(x_hat[0].cpu())
    return originals, recons


def distortion_and_fidelity(originals: list[Tensor], recons: list[Tensor], *, swd_seed: int = 0,
                            fid: nn.Module | str | bool = False, patch_size: int = 256) -> dict[str, Any]:
    """Mean PSNR and MS-SSIM, the weight-free sliced Wasserstein distance between the two image sets, and
    FID/KID on FID/256 patches when ``fid`` allows it (``"auto"``: with torch-fidelity's Inception weights when
    they resolve; a module: that feature extractor). Without FID, ``fid_skipped`` says why."""
    from ..evaluation.codec_eval import fid_kid_or_reason
    from ..metrics import ms_ssim, psnr, sliced_wasserstein

    p = [float(psnr(a.unsqueeze(0), b.unsqueeze(0))[0]) for a, b in zip(originals, recons)]
    m = [float(ms_ssim(a.unsqueeze(0), b.unsqueeze(0))[0]) for a, b in zip(originals, recons)]
    swd = sliced_wasserstein(originals, recons, seed=swd_seed)
    out: dict[str, Any] = {"psnr": float(np.mean(p)), "ms_ssim": float(np.mean(m)), "swd": swd.mean}
    fid_summary, reason = fid_kid_or_reason(originals, recons, fid=fid, patch_size=patch_size)
    if fid_summary:
        out.update(fid=fid_summary["fid"], kid=fid_summary["kid"])
    else:
        out["fid_skipped"] = reason
    return out


def finetune_run_name(kind: str, lambda_d: float, *, config: FinetuneConfig, distortion: str, base: str,
                      labeler: str | None = None) -> str:
    """The name of one fine-tuning run's checkpoint: the discriminator ``kind`` and ``lambda_d`` (exactly; ignored,
    as by :func:`finetune`, for ``"none"``), ``config.tag(distortion)``, ``base`` (what identifies the stage-1 model
    it starts from, e.g. its own name) and, for ``"illm"``, ``labeler`` (what identifies the labeler). A run with
    other settings, another starting model or another labeler never resumes this one."""
    check_choice("discriminator", kind, DISCRIMINATORS)
    lam = "0" if kind == "none" else repr(float(lambda_d))
    parts = [f"{kind}-{lam}", config.tag(distortion), base] + ([labeler or "nolabeler"] if kind == "illm" else [])
    return "_".join(parts)


def lambda_sweep(model: nn.Module, train_images, eval_images, *, runs: list[tuple[str, float]], config: FinetuneConfig,
                 labeler: VQVAELabeler | None, distortion: nn.Module, max_images: int | None = None, seed: int = 0,
                 fid: nn.Module | str | bool = "auto", progress: bool | None = None,
                 checkpoint_path: Callable[[str, float], str | Path | None] | None = None,
                 ) -> tuple[Any, dict[tuple[str, float], nn.Module]]:
    """Fine-tune a copy of ``model`` for every ``(discriminator, lambda_d)`` of ``runs`` and evaluate each.

    Returns a DataFrame (one row per run plus the starting No-GAN model: ``discriminator``, ``lambda_d``,
    ``psnr``, ``ms_ssim``, ``swd``, ``mse`` (``10^(-psnr/10)``, the MSE at the mean PSNR: the geometric mean of the
    images' MSEs, not their arithmetic mean), ``fid``/``kid`` when computed (``fid`` as in
    :func:`distortion_and_fidelity`; otherwise ``df.attrs["fid_skipped"]`` says why), the final
    ``d_loss``/``fake_acc`` where there is a discriminator, and ``seconds``) and the fine-tuned models keyed by ``(discriminator, lambda_d)``. The same ``seed`` is
    used for every run, so the runs differ only by the discriminator and λ_d. ``"none"`` runs ignore λ_d.
    ``checkpoint_path(discriminator, lambda_d)``, when given, names each run's checkpoint (see
    :func:`finetune_run_name`): a run then checkpoints every ``config.checkpoint_every`` steps and resumes.
    """
    import copy
    import time

    import pandas as pd

    originals, recons = reconstruct(model, eval_images, max_images=max_images)
    first = distortion_and_fidelity(originals, recons, fid=fid)
    fid_skipped = first.pop("fid_skipped", "")
    if fid_skipped:
        fid = False  # the same reason holds for every run: do not try again
    rows = [{"discriminator": "No-GAN (part 1)", "lambda_d": 0.0, **first, "seconds": 0.0}]
    models: dict[tuple[str, float], nn.Module] = {}
    for kind, lam in runs:
        t0 = time.perf_counter()
        res = finetune(copy.deepcopy(model), train_images, discriminator=kind, config=config, lambda_d=lam,
                       labeler=labeler, distortion=distortion, seed=seed, progress=progress,
                       checkpoint_path=checkpoint_path(kind, lam) if checkpoint_path is not None else None)
        seconds = time.perf_counter() - t0
        _, rec = reconstruct(res.model, eval_images, max_images=max_images)
        row = {"discriminator": kind, "lambda_d": lam if kind != "none" else 0.0,
               **distortion_and_fidelity(originals, rec, fid=fid), "seconds": seconds}
        row.pop("fid_skipped", None)
        h = res.history
        if "d_loss" in h.to_frame():
            row.update(d_loss=h.last("d_loss", 10), fake_acc=h.last("fake_acc", 10), real_acc=h.last("real_acc", 10))
        rows.append(row)
        models[(kind, lam)] = res.model
    df = pd.DataFrame(rows)
    df["mse"] = 10 ** (-df["psnr"] / 10)  # the MSE at the mean PSNR (the images' geometric-mean MSE)
    df.attrs["fid_skipped"] = fid_skipped
    return df, models


def lambda_d_trend(df, kind: str, fidelity: str = "swd", label: str | None = None, *,
                   psnr_margin: float = TREND_PSNR_MARGIN_DB, distance_margin: float = TREND_DISTANCE_MARGIN,
                   ) -> dict[str, Any]:
    """Fig. A2's direction in a λ_d sweep table (rows as :func:`lambda_sweep` returns them), with a margin.

    Takes the run without adversarial term (``"none"``, λ_d = 0) and the runs of ``kind``, sorted by λ_d, and
    compares the largest λ_d with λ_d = 0: the change of PSNR in dB and the relative change of the ``fidelity``
    distance. A change counts only beyond its margin (``psnr_margin`` dB, ``distance_margin`` × the distance at
    λ_d = 0; by default :data:`TREND_PSNR_MARGIN_DB` and :data:`TREND_DISTANCE_MARGIN`, about the spread of decoders
    that follow no trend). ``verdict``: "holds" if both fall beyond their margins; "contradicted" if either rises
    beyond its margin; "inconclusive" otherwise (a change within its margin); "not-run" with fewer than two rows.
    ``status`` is the results page's word for it: "qualitative", "differs", "info" (inconclusive; the page has no
    word for it) or "not-run". Also returns ``rows``; ``falls`` (``{"psnr_falls": ..., "<fidelity>_falls": ...}``:
    the raw directions, margin aside; empty with fewer than two rows); ``changes`` (``psnr_db``, ``<fidelity>_rel``);
    ``summary``: the values, changes and verdict (``label`` names the distance, default ``fidelity``).
    """
    rows = df[df["discriminator"].isin(["none", kind])].sort_values("lambda_d")
    name = label or fidelity
    summary = f"PSNR {rows['psnr'].round(2).tolist()}, {name} {rows[fidelity].round(4).tolist()} at λ_d {rows['lambda_d'].tolist()}"
    if len(rows) < 2:
        return {"rows": rows, "falls": {}, "changes": {}, "verdict": "not-run", "status": "not-run",
                "summary": summary}
    d_psnr = float(rows["psnr"].iloc[-1] - rows["psnr"].iloc[0])
    d_dist = float((rows[fidelity].iloc[-1] - rows[fidelity].iloc[0]) / rows[fidelity].iloc[0])
    falls = {"psnr_falls": d_psnr < 0, f"{fidelity}_falls": d_dist < 0}
    if d_psnr < -psnr_margin and d_dist < -distance_margin:
        verdict = "holds"
    elif d_psnr > psnr_margin or d_dist > distance_margin:
        verdict = "contradicted"
    else:
        verdict = "inconclusive"
    status = {"holds": "qualitative", "contradicted": "differs", "inconclusive": "info"}[verdict]
    summary += (f"; largest λ_d vs 0: PSNR {d_psnr:+.2f} dB, {name} {100 * d_dist:+.1f}% (margins {psnr_margin:g} dB, "
                f"{100 * distance_margin:g}%): {verdict}")
    return {"rows": rows, "falls": falls, "changes": {"psnr_db": d_psnr, f"{fidelity}_rel": d_dist},
            "verdict": verdict, "status": status, "summary": summary}
