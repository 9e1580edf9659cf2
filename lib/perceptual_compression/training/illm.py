"""MS-ILLM training recipes (Muckley et al. 2023, Sec. 4.5 and supplement A): stage 1, autoencoder pretraining.

Stage 1 trains the whole mean-scale hyperprior (encoder, hyperprior, entropy models, generator) without a
discriminator: the "No-GAN" model. The recipe, with the reference implementation's details
(NeuralCompression ``projects/illm``: ``target_compression_module.py``, ``conf/``):

* loss :math:`\\lambda(\\tilde r)\\, r + \\rho(\\hat x, x)`, rate targeting of A.1/Table 3
  (:mod:`perceptual_compression.losses.rate_targeting`), :math:`\\rho = 150\\,\\mathrm{MSE} + \\mathrm{LPIPS_{Alex}}`
  (:mod:`perceptual_compression.losses.distortion`);
* AdamW, learning rate 3e-4, weight decay 5e-5; linear ramp for 10k steps, then cosine decay over the
  1M steps (:func:`ramp_cosine`, the reference's ``RampCosineLRSchedule``); gradient-norm clipping at 1.0;
* a second AdamW (lr 1e-3, constant) for the entropy bottleneck's quantiles, on CompressAI's auxiliary loss;
* 256² training patches, each either a random crop or a random-resized crop (chosen with probability 1/2),
  then a random horizontal flip; batch 16: the reference's pretraining command runs ``data.batch_size=8`` on each of
  the two GPUs of its configuration (``ngpu: 2``, DDP), whose averaged gradient is that of the mean over 16 images
  (the paper states no batch size).

:class:`IllmConfig` holds these settings: ``IllmConfig.for_scale("paper")`` is the paper's recipe,
``"small"`` the CPU-sized run of the book's default build. :func:`pretrain` runs stage 1 with the
project's :class:`~perceptual_compression.training.Trainer` (progress, NaN stop, checkpoint/resume).

Stage 2 (GAN fine-tuning of the generator with the encoder and bottleneck frozen, A.3) builds on the
model this returns: ``model.freeze_encoder().freeze_bottleneck()`` and the same :class:`IllmDistortion`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..datasets.patches import ORDERS as PATCH_ORDERS
from ..losses.distortion import IllmDistortion
from ..losses.rate_targeting import RateTargetSchedule
from ..models.hific import HiFiCConfig
from ..params import check_choice
from .loop import Trainer, TrainingHistory
from .tags import settings_tag

SCALES = ("small", "paper")
CROP_MODES = ("choice", "crop", "resized")
PATCH_SMALL_MODES = ("upscale", "torchvision-reflect")  # what a plain training crop does with a smaller image
INDEX_SPACE = 1 << 40  # patches and batches are drawn by index, not enumerated

# IllmConfig fields that do not change the trained weights, left out of ``IllmConfig.tag``: ``scale`` is a label
# (every setting it selects is a field of its own), ``checkpoint_every`` does not change the result (a resumed run
# ends where an uninterrupted one ends), ``log_every`` only thins the history, ``data_workers`` only cuts the same
# batches ahead of time (:class:`PrefetchedBatches`), ``refit_quantiles`` acts after training on the weights the
# checkpoint holds (it is saved before :func:`pretrain` builds the entropy tables) and ``notes`` is free text. Every
# other field, and any field added later, is tagged.
UNTAGGED_FIELDS = ("scale", "checkpoint_every", "log_every", "data_workers", "refit_quantiles", "notes")


def distortion_tag(config, untagged: tuple[str, ...], distortion: str | None = None) -> str:
    """:func:`~perceptual_compression.training.tags.settings_tag` of ``config`` with, when given, ``distortion``: the
    label of the loss actually optimised (with LPIPS or its offline fallback, which the config's ``perceptual``
    field alone does not tell)."""
    return settings_tag(config, untagged, None if distortion is None else {"distortion": str(distortion)})


def ramp_cosine(step: int, *, ramp_steps: int, total_steps: int, min_factor: float = 1e-12) -> float:
    """Learning-rate factor of MS-ILLM's pretraining (NeuralCompression ``RampCosineLRSchedule``).

    ``step / ramp_steps`` during the ramp, then ``cos(pi/2 * (step - ramp_steps) / total_steps)``: a quarter
    cosine that starts at 1 after the ramp and approaches 0 at the end of training (about 0.016 at the last
    of 1M steps with a 10k ramp). Never below ``min_factor``. (The project's generic
    :func:`~perceptual_compression.training.schedules.warmup_cosine` is the half-cosine
    ``(1 + cos(pi t)) / 2`` instead; this is the reference's exact schedule.)
    """
    if total_steps <= 0 or ramp_steps < 0:
        raise ValueError("total_steps must be positive and ramp_steps non-negative")
    if step < ramp_steps:
        return max(min(step / ramp_steps, 1.0), min_factor)
    return max(math.cos(math.pi / 2 * (step - ramp_steps) / total_steps), min_factor)


@dataclass(frozen=True)
class IllmConfig:
    """Settings of MS-ILLM stage 1 (pretraining). Use :meth:`for_scale`.

    Stage 2 (part 2 of the chapter) adds its own settings next to these (fine-tuning steps, generator and
    discriminator learning rates, betas, λ_d, labeler size).
    """

    scale: str
    model: HiFiCConfig
    steps: int
    batch_size: int
    crop_size: int
    lr: float = 3e-4
    weight_decay: float = 5e-5
    warmup_steps: int = 10_000
    aux_lr: float = 1e-3
    grad_clip_norm: float = 1.0
    lambda_mse: float = 150.0
    perceptual: str = "lpips-alex"
    crop_mode: str = "choice"
    resized_scale: tuple[float, float] = (0.08, 1.0)  # torchvision RandomResizedCrop's default, as the reference
    flip: bool = True
    checkpoint_every: int = 10_000
    log_every: int = 1
    # after training, fit the hyper-latent prior's tail and median quantiles by bisection on its learned cdf
    # (CompressAI's update_quantiles) before building the coder's tables, rather than use the quantiles the
    # auxiliary loss learned (the reference's update() does the latter)
    refit_quantiles: bool = True
    # training crops: what a plain crop does with an image smaller than the patch, and the order of the images
    # (the reference: RandomCrop(pad_if_needed=True, padding_mode="reflect") and a shuffling DataLoader)
    small_images: str = "upscale"
    image_order: str = "cycle"
    data_workers: int = 0  # DataLoader processes that cut the training batches ahead (PrefetchedBatches)
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_choice("scale", self.scale, SCALES)
        check_choice("crop_mode", self.crop_mode, CROP_MODES)
        check_crop_settings(self)
        if self.steps < 1 or self.batch_size < 1 or self.crop_size < 64 or self.crop_size % 64:
            raise ValueError("steps and batch_size must be positive, crop_size a multiple of 64")

    @classmethod
    def for_scale(cls, scale: str = "small", **overrides: Any) -> IllmConfig:
        """``"paper"``: the published recipe (181M-parameter model, 1M steps of batch 16 at 256², the reference's
        2 GPUs × 8). Its learning-rate ramp is the reference's fixed 10k steps, whatever ``steps`` is.

        ``"small"``: the same recipe on a CPU budget (about 3 min on one CPU thread) — the :meth:`HiFiCConfig.small`
        model, 900 steps of 4 patches of 128², the ramp and the rate-targeting early phase shrunk in proportion (1%
        and 5% of the run, of an overridden ``steps`` too), the paper's peak learning rate 3e-4. Smaller batches and more steps did better than
        batch 8 (the reference's per GPU) for the same compute; 128² rather than 64² patches keep the hyper-latent
        larger than 1×1, without which the rate measured on training patches did not carry over to full images
        (Kodak rates twice the target). Every small run first sits on a plateau (the decoder outputs the mean image,
        about 12 dB) for 100-200 steps; at 3e-4 three seeds left it by step 200 and reached 16.0-17.6 dB training
        PSNR at step 400 on one thread. At 1e-3 one seed of three (one thread) and a two-thread run never left it;
        when 1e-3 did train, it reached a lower Kodak rate at the same PSNR (0.19 against 0.31 bpp at 20.4 dB, seed
        0), so the small model's rate on Kodak, trained on five embedded photographs, is about twice the target at
        3e-4. Keyword ``overrides`` replace any field."""
        check_choice("scale", scale, SCALES)
        if scale == "paper":
            # the reference's ramp is a fixed 10k steps (1% of its 1M): a ``steps`` override keeps it
            cfg = cls(scale="paper", model=HiFiCConfig.paper(), steps=1_000_000, batch_size=16, crop_size=256,
                      warmup_steps=10_000, checkpoint_every=10_000, log_every=100, refit_quantiles=False,
                      small_images="torchvision-reflect", image_order="shuffle", data_workers=8)
            return replace(cfg, **overrides) if overrides else cfg
        # the small scale's ramp is 1% of the run and its notes name the run's length: both follow a ``steps``
        # override (the rate-targeting early phase, 5%, is computed from ``steps`` by :meth:`rate_schedule`)
        steps = int(overrides.get("steps", 900))
        derived = {"warmup_steps": max(1, steps // 100),
                   "notes": (f"small: 1/10-width HiFiC, 2 residual blocks, {steps} steps of 4x128² patches",)}
        cfg = cls(scale="small", model=HiFiCConfig.small(), steps=steps, batch_size=4, crop_size=128,
                  checkpoint_every=0, log_every=1, **derived)
        return replace(cfg, **overrides) if overrides else cfg

    def tag(self, distortion: str | None = None) -> str:
        """Short, stable hash of every setting that changes the trained weights (names checkpoint files).

        Model, steps (the schedules span them), batch, crops, learning rates, warm-up, loss weights and data
        order enter it; the fields in ``UNTAGGED_FIELDS`` do not. ``distortion``: the label of the distortion the
        run optimises (:attr:`IllmDistortion.label`), which says whether LPIPS was used or its offline fallback.
        """
        return distortion_tag(self, UNTAGGED_FIELDS, distortion)

    def rate_schedule(self, rate: float) -> RateTargetSchedule:
        """Table 3's λ schedule for ``rate``, early phase 5% of :attr:`steps` (the paper's 50k of 1M)."""
        return RateTargetSchedule.for_target(rate, total_steps=self.steps)

    def lr_factor(self, step: int) -> float:
        return ramp_cosine(step, ramp_steps=self.warmup_steps, total_steps=self.steps)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d


class TrainingPatches:
    """Batches of MS-ILLM training patches: random crop or random-resized crop (probability 1/2 each), flip.

    Built on two :class:`~perceptual_compression.datasets.PatchDataset` over the same images; patch ``i``
    (the ``i``-th of the run) is a pure function of ``(seed, i)``, so a resumed run sees the same batches as
    an uninterrupted one. ``small`` says what a plain crop does with an image smaller than the patch ("upscale",
    or "torchvision-reflect" as the reference's ``RandomCrop(pad_if_needed=True, padding_mode="reflect")``);
    ``order`` in which order the images are visited ("cycle", or "shuffle": the reference's shuffled epochs).
    """

    def __init__(self, images, size: int, *, mode: str = "choice", flip: bool = True,
                 resized_scale: tuple[float, float] = (0.08, 1.0), seed: int = 0, small: str = "upscale",
                 order: str = "cycle") -> None:
        from ..datasets import PatchDataset

        check_choice("mode", mode, CROP_MODES)
        self.mode = mode
        self.seed = int(seed)
        n = INDEX_SPACE
        # both crops visit the images in one order (order_seed): patch i is cut from the same image either way
        self.crops = PatchDataset(images, size, flip=flip, small=small, length=n, seed=seed, order=order,
                                  order_seed=seed) if mode in ("choice", "crop") else None
        self.resized = PatchDataset(images, size, flip=flip, random_resized=True, scale=resized_scale,
                                    length=n, seed=seed + 1, order=order, order_seed=seed) \
            if mode in ("choice", "resized") else None

    def _use_resized(self, index: int) -> bool:
        if self.mode != "choice":
            return self.mode == "resized"
        return bool(np.random.default_rng([self.seed, 7, index]).random() < 0.5)

    def patch(self, index: int) -> Tensor:
        ds = self.resized if self._use_resized(index) else self.crops
        return ds[index]

    def batch(self, step: int, batch_size: int) -> Tensor:
        """The batch of training step ``step``: patches ``step * batch_size ... + batch_size - 1``."""
        return torch.stack([self.patch(step * batch_size + i) for i in range(batch_size)])


class _StepBatches(torch.utils.data.Dataset):
    def __init__(self, patches: TrainingPatches, batch_size: int) -> None:
        self.patches, self.batch_size = patches, batch_size

    def __len__(self) -> int:
        return INDEX_SPACE

    def __getitem__(self, step: int) -> Tensor:
        return self.patches.batch(int(step), self.batch_size)


class PrefetchedBatches:
    """``batches(step)`` is ``patches.batch(step, batch_size)``, cut ahead of time by ``workers`` DataLoader
    processes (decoding and cropping a large image set such as OpenImages would otherwise hold up the GPU).

    Batches are pure functions of the step, so the result does not depend on the workers: steps asked in
    sequence come from the prefetching stream; a step out of sequence (a resumed run) restarts it there.
    ``workers=0`` cuts each batch when asked. The workers hand batches over in shared memory (``/dev/shm``; two
    batches per worker in flight, about 25 MB each for 16 patches of 256²): in a container with a small
    ``/dev/shm`` give it more room or train with ``workers=0``.
    """

    def __init__(self, patches: TrainingPatches, batch_size: int, *, stop: int, workers: int = 0) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, not {workers}")
        self.patches, self.batch_size, self.stop, self.workers = patches, int(batch_size), int(stop), int(workers)
        self._it, self._next = None, None

    def __call__(self, step: int) -> Tensor:
        if not self.workers:
            return self.patches.batch(step, self.batch_size)
        if self._it is None or step != self._next:
            loader = torch.utils.data.DataLoader(_StepBatches(self.patches, self.batch_size), batch_size=None,
                                                 sampler=range(step, max(step + 1, self.stop)),
                                                 num_workers=self.workers, prefetch_factor=2,
                                                 # its own generator: the workers' seeds are not drawn from
                                                 # torch's global one, which training's noise draws from
                                                 generator=torch.Generator().manual_seed(step))
            self._it = iter(loader)
        self._next = step + 1
        return next(self._it)


def check_crop_settings(config) -> None:
    """Validate a training config's ``small_images`` and ``image_order`` (pretraining, fine-tuning, labeler)."""
    check_choice("small_images", config.small_images, PATCH_SMALL_MODES)
    check_choice("image_order", config.image_order, PATCH_ORDERS)


def training_batches(images, config, *, seed: int, stop: int, **patch_options: Any) -> PrefetchedBatches:
    """The batches of a run: :class:`TrainingPatches` of ``config.crop_size`` cut as ``config.small_images`` and
    ``config.image_order`` say (``patch_options``: its other arguments), ``config.batch_size`` at a time, by
    ``config.data_workers`` processes up to step ``stop``."""
    patches = TrainingPatches(images, config.crop_size, seed=seed, small=config.small_images,
                              order=config.image_order, **patch_options)
    return PrefetchedBatches(patches, config.batch_size, stop=stop, workers=config.data_workers)


@dataclass
class PretrainResult:
    """What :func:`pretrain` returns: the trained model (eval mode, entropy tables updated) and its history."""

    model: nn.Module
    history: TrainingHistory
    schedule: RateTargetSchedule
    distortion: IllmDistortion
    config: IllmConfig
    resumed_from: int | None
    train_seconds: float | None = None  # training time over every invocation that trained it (the Trainer's)


def make_optimizers(model: nn.Module, config: IllmConfig):
    """AdamW on the rate–distortion parameters with the ramp–cosine schedule, and AdamW on the quantiles."""
    main = torch.optim.AdamW(model.main_parameters(), lr=config.lr, weight_decay=config.weight_decay)
    aux = torch.optim.AdamW(model.aux_parameters(), lr=config.aux_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(main, config.lr_factor)
    return main, aux, sched


def pretrain(
    model: nn.Module,
    images,
    *,
    rate: float,
    config: IllmConfig,
    seed: int = 0,
    distortion: IllmDistortion | None = None,
    checkpoint_path: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    until: int | None = None,
) -> PretrainResult:
    """Stage 1 of MS-ILLM: train ``model`` (a :func:`~perceptual_compression.models.hific.msillm_autoencoder`)
    on patches of ``images`` towards the Table 3 target ``rate``.

    Each step: ``loss = ρ(x, x̂) + mean_i λ_i r_i`` with :math:`r_i` the noisy-latent bits per pixel of
    patch ``i`` and :math:`\\lambda_i` chosen from its hard (rounded-latent) rate; clip the gradient norm;
    step AdamW and the schedule; then one step of the quantile optimiser on ``model.aux_loss()``. Logged per
    step: ``loss``, ``distortion_loss``, ``rate_loss``, ``mse``, ``psnr`` (of the float reconstruction),
    ``lpips`` (when used), ``bpp`` (noisy), ``bpp_hard``, ``target``, ``lambda_mean``, ``aux_loss``, ``lr``.
    Resumes from ``checkpoint_path`` when it exists; ``until`` stops after that many steps (the schedules
    still span ``config.steps``), so a run can be done in pieces and continued later. Returns the model in
    eval mode with its entropy tables built (``update(force=True, update_quantiles=config.refit_quantiles)``),
    ready for :class:`~perceptual_compression.coding.ImageCodec`.
    """
    from .device import default_device

    dev = torch.device(device) if device is not None else default_device()
    model.to(dev)
    distortion = distortion if distortion is not None else IllmDistortion(config.lambda_mse, perceptual=config.perceptual)
    distortion.to(dev)
    schedule = config.rate_schedule(rate)
    stop = config.steps if until is None else min(int(until), config.steps)
    batches = training_batches(images, config, seed=seed, stop=stop, mode=config.crop_mode, flip=config.flip,
                               resized_scale=config.resized_scale)
    main_opt, aux_opt, sched = make_optimizers(model, config)
    trainer = Trainer(
        modules={"model": model}, optimizers={"main": main_opt, "aux": aux_opt}, schedulers={"main": sched},
        checkpoint_path=checkpoint_path, checkpoint_every=config.checkpoint_every if checkpoint_path else 0,
        seed=seed, progress=progress, desc=f"No-GAN pretraining ({config.scale}, {rate} bpp)",
        log_every=config.log_every,
    )
    params = model.main_parameters()

    def step_fn(step: int) -> dict[str, Any]:
        x = batches(step).to(dev)
        out = model(x)
        pixels = x.shape[-2] * x.shape[-1]
        bpp, bpp_hard = out["bits"] / pixels, out["bits_quantized"] / pixels
        terms = distortion.terms(x, out["x_hat"])
        dist_loss = terms["total"].mean()
        rate_loss = schedule.rate_loss(step, bpp, bpp_hard)
        loss = dist_loss + rate_loss
        main_opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip_norm:
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip_norm)
        main_opt.step()
        lr = main_opt.param_groups[0]["lr"]
        sched.step()
        aux = model.aux_loss()
        aux_opt.zero_grad(set_to_none=True)
        aux.backward()
        aux_opt.step()
        with torch.no_grad():
            mse = terms["mse"].mean()
            log = {
                "loss": loss.detach(), "distortion_loss": dist_loss.detach(), "rate_loss": rate_loss.detach(),
                "mse": mse, "psnr": -10.0 * torch.log10(mse.clamp_min(1e-10)),
                "bpp": bpp.mean().detach(), "bpp_hard": bpp_hard.mean(), "target": schedule.target_at(step),
                "lambda_mean": schedule.weight(step, bpp_hard).mean(), "aux_loss": aux.detach(), "lr": lr,
            }
            if "lpips" in terms:
                log["lpips"] = terms["lpips"].mean().detach()
        return log

    history = trainer.run(step_fn, stop)
    model.eval()
    # Entropy tables from the trained model. With refit_quantiles (the small scale) the factorized prior's
    # quantiles are first fitted by bisection (CompressAI's update_quantiles), which does not rely on the
    # auxiliary optimiser having converged (it needs far more steps than a short run has); the paper scale keeps
    # the quantiles its auxiliary loss learned over a million steps, as the reference's update() does.
    model.update(force=True, update_quantiles=config.refit_quantiles)
    return PretrainResult(model, history, schedule, distortion, config, trainer.resumed_from, trainer.train_seconds)
