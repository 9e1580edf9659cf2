"""Training PIM with the IXYZ objective: settings per scale and the training loop (appendix A.1–A.2).

No training code for PIM is public; this module is the first PyTorch implementation. ``scale="paper"``
holds the paper's settings: Adam, batch 50, 100 000 steps, learning rate 1e-3 dropping to 1e-4 after
50 000 and to 1e-5 after 80 000 steps, β annealed from 0 to 1 over the first 10 000 steps, 8×8 centre
crops, 64×64 frame pairs, and the reference architecture (3-scale steerable pyramid, CNNs of
64-64-64-3 filters, 5-component marginal mixture, z of dimension 10), initialised as the reference's Keras
layers are by default (Glorot-uniform kernels, zero biases). ``scale="small"`` keeps the
structure but uses narrower CNNs, a single mixture component (the authors' "pim-1" variant, whose
distance needs no sampling), smaller batches and few steps, so that training and calibration fit
in a few minutes on a 2-core CPU. The learning-rate drops keep their *relative* positions (50 % and
80 % of training). The β ramp does not: at the paper's 10 % (30 of 300 steps) the small model
collapses to the trivial solution in which z ignores both frames (every term of eq. 4 goes to 0,
the failure the ramp exists to prevent), so the small scale ramps β over the first half of training,
after which the bound on I(X; Y; Z) becomes positive and keeps growing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from ..datasets.frame_pairs import FramePairConfig, FramePairStream, SegmentSource
from ..losses.ixyz import beta_schedule, ixyz_loss
from ..params import check_choice
from ..training import Trainer, TrainingHistory, default_device, seed_everything
from ..training.schedules import piecewise_constant
from ..training.tags import settings_tag
from .pim import PIM, PIMArchitecture, keras_init_

__all__ = ["SCALES", "INITS", "PIMConfig", "train_pim"]

SCALES = ("small", "paper")
INITS = ("pytorch", "keras")  # initialisation of the convolutions (see ``keras_init_``)

PAPER_STEPS = 100_000
PAPER_LR_BOUNDARIES = (50_000, 80_000)
PAPER_BETA_ANNEAL = 10_000
SMALL_BETA_ANNEAL_FRACTION = 0.5  # see the module docstring

# PIMConfig fields that do not change the trained weights, left out of ``PIMConfig.tag``: ``scale`` is a label (every
# setting it selects is a field of its own), ``calib_size``, ``noise_levels``, ``noise_range`` and ``kld_samples``
# act only after training (calibration and distance), and ``checkpoint_every`` does not change the result (a resumed
# run ends bit for bit where an uninterrupted one ends). Every other field, and any field added later, is tagged.
UNTAGGED_FIELDS = ("scale", "calib_size", "noise_levels", "noise_range", "kld_samples", "checkpoint_every")


@dataclass(frozen=True)
class PIMConfig:
    """Everything that depends on ``scale``: architecture, optimisation, data and calibration settings."""

    scale: str
    arch: PIMArchitecture
    batch_size: int
    steps: int
    learning_rate: float = 1e-3
    lr_boundaries: tuple[int, ...] = PAPER_LR_BOUNDARIES
    lr_factors: tuple[float, ...] = (1.0, 0.1, 0.01)
    beta_anneal_steps: int = PAPER_BETA_ANNEAL
    crop: int = 8
    frames: FramePairConfig = field(default_factory=FramePairConfig)
    calib_size: int = 224          # ImageNet-C's image size (Resize(256) + CenterCrop(224) of a photo)
    calib_images: int = 12         # images held out from training and used for the calibration
    noise_levels: int = 40         # A.3: 40 standard deviations in [0.01, 0.60]
    noise_range: tuple[float, float] = (0.01, 0.60)
    kld_samples: int = 1           # Monte-Carlo samples of the symmetrised KL (nmix > 1)
    checkpoint_every: int = 5_000
    init: str = "pytorch"          # "keras": the reference layers' Glorot-uniform kernels and zero biases

    def __post_init__(self) -> None:
        check_choice("init", self.init, INITS)

    @classmethod
    def for_scale(cls, scale: str, **overrides) -> "PIMConfig":
        """The settings of ``scale`` ("small" or "paper"); keyword overrides replace single fields."""
        scale = check_choice("scale", scale, SCALES)
        fraction = PAPER_BETA_ANNEAL / PAPER_STEPS if scale == "paper" else SMALL_BETA_ANNEAL_FRACTION
        if scale == "paper":
            cfg = cls(scale="paper", arch=PIMArchitecture(), batch_size=50, steps=PAPER_STEPS,
                      frames=FramePairConfig(buffer_size=2_000), calib_size=224, calib_images=12,
                      checkpoint_every=5_000, init="keras")
        else:
            steps = 300
            cfg = cls(scale="small", arch=PIMArchitecture(num_filters=(8, 8, 8, 3), nmix=1),
                      batch_size=16, steps=steps,
                      lr_boundaries=scaled_boundaries(steps), beta_anneal_steps=scaled_anneal(steps, fraction),
                      frames=FramePairConfig(buffer_size=256), calib_size=168, calib_images=6,
                      checkpoint_every=0)
        if "steps" in overrides and "lr_boundaries" not in overrides and "beta_anneal_steps" not in overrides:
            overrides = {**overrides, "lr_boundaries": scaled_boundaries(overrides["steps"]),
                         "beta_anneal_steps": scaled_anneal(overrides["steps"], fraction)}
        return replace(cfg, **overrides) if overrides else cfg

    def tag(self) -> str:
        """Short, stable hash of every setting that changes the trained weights (names checkpoint files).

        Architecture, initialisation, batch size, steps, learning rate and its drops, β ramp, crop, frame-pair
        settings and ``calib_images`` (the images held out from training) enter it; the fields in
        ``UNTAGGED_FIELDS`` do not. A run with other settings therefore never resumes, or returns, another run's
        checkpoint (chapter 1's ``RDPMnistConfig.tag`` does the same).
        """
        return settings_tag(self, UNTAGGED_FIELDS)

    def learning_rate_at(self, step: int) -> float:
        return self.learning_rate * piecewise_constant(step, boundaries=self.lr_boundaries, factors=self.lr_factors)


def scaled_boundaries(steps: int) -> tuple[int, ...]:
    """The paper's learning-rate drops (50 % and 80 % of 100k steps) for a run of ``steps`` steps."""
    return tuple(max(1, round(b * steps / PAPER_STEPS)) for b in PAPER_LR_BOUNDARIES)


def scaled_anneal(steps: int, fraction: float = PAPER_BETA_ANNEAL / PAPER_STEPS) -> int:
    """Length of the β ramp for a run of ``steps`` steps: ``fraction`` of it (the paper's 10 % by default)."""
    return max(1, round(fraction * steps))


def train_pim(config: PIMConfig, source: SegmentSource, *, seed: int = 0, device: torch.device | None = None,
              checkpoint_path: str | Path | None = None, progress: bool | None = None) -> tuple[PIM, TrainingHistory]:
    """Train a PIM on frame pairs from ``source`` with the IXYZ objective; returns (model, history).

    The history logs per step: ``loss`` (−objective), ``beta``, ``lr`` and the objective's parts
    ``i_zxy``, ``i_xz_y``, ``i_yz_x`` and ``ixyz`` (nats per position and subband). With a
    ``checkpoint_path``, checkpoints are written every ``config.checkpoint_every`` steps and a rerun
    resumes where the last one stopped (model, optimiser, schedule, RNG and data-stream states). A checkpoint
    written with other settings (anything in ``config.tag()`` but ``steps``), or one already past ``config.steps``,
    is refused with a ``ValueError`` instead of being resumed or returned; a run with the same settings and more
    steps continues it. Name checkpoints after ``config.tag()``, as the chapter does, to give each setting its file.
    """
    settings = replace(config, steps=0).tag()  # resuming with more steps is fine when nothing else differs
    if checkpoint_path is not None and Path(checkpoint_path).is_file():
        _check_resumable(torch.load(checkpoint_path, map_location="cpu", weights_only=False), config, settings,
                         checkpoint_path)
    device = device or default_device()
    seed_everything(seed)
    model = PIM(config.arch)
    if config.init == "keras":
        keras_init_(model)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: piecewise_constant(s, boundaries=config.lr_boundaries, factors=config.lr_factors))
    stream = FramePairStream(source, config.frames, seed=seed)
    trainer = Trainer(modules={"pim": model}, optimizers={"adam": opt}, schedulers={"lr": sched},
                      checkpoint_path=checkpoint_path, checkpoint_every=config.checkpoint_every, seed=seed,
                      progress=progress, desc=f"PIM ({config.scale}, IXYZ)", streams={"frames": stream},
                      extra_state={"settings_tag": settings})

    def step_fn(step: int) -> dict:
        x, y = stream.batch(config.batch_size)
        beta = beta_schedule(step, config.beta_anneal_steps)
        out = ixyz_loss(model, x.to(device), y.to(device), beta, crop=config.crop)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        lr = opt.param_groups[0]["lr"]
        sched.step()
        return {"loss": out["loss"].detach(), "beta": beta, "lr": lr,
                **{k: out[k] for k in ("i_zxy", "i_xz_y", "i_yz_x", "ixyz")}}

    history = trainer.run(step_fn, config.steps)
    model.eval()
    return model, history


def _check_resumable(state: dict, config: PIMConfig, settings: str, path: str | Path) -> None:
    """Refuse a checkpoint that ``train_pim(config)`` must not resume (see there)."""
    saved = state.get("extra_state", {}).get("settings_tag")
    if saved is not None and saved != settings:
        raise ValueError(f"checkpoint {path} was written with other PIM training settings (settings tag {saved!r}, "
                         f"these settings have {settings!r}); resuming it would mix two runs. Use a checkpoint "
                         "path named after PIMConfig.tag(), or remove the file.")
    if int(state.get("step", 0)) > config.steps:
        raise ValueError(f"checkpoint {path} is at step {int(state['step'])}, past the {config.steps} steps asked for; "
                         "returning it would report a model trained longer. Use a checkpoint path named after "
                         "PIMConfig.tag(), or remove the file.")
