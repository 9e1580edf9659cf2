r"""Training the VQ-VAE labeler of MS-ILLM (Muckley et al. 2023, supplement A.2, eq. 10) — a documented command.

The paper trains the labeler :math:`u` like a VQ-VAE (van den Oord et al. 2017), without a rate term:

.. math::
    \mathcal L(\gamma, \zeta, \psi) = \mathbb E_x\big[\rho(\hat x, x)\big] + l_{\mathrm{embedding}}(x)
        + \beta\, l_{\mathrm{commitment}}(x), \qquad \rho = 1.0\cdot\mathrm{MSE} + \mathrm{LPIPS_{VGG}}  \qquad (10)

with the learning-rate schedule of the autoencoder pretraining (linear ramp over 10k steps, then the quarter
cosine over 1M steps; AdamW 3e-4, weight decay 5e-5), 256² patches, and no rate targeting. The paper stresses
that the LPIPS term is essential ("we did not observe any good results without [it]"). Offline, without the
VGG trunk weights, :func:`labeler_distortion` falls back to MSE alone and says so; the labels are then those
of an MSE-trained VQ-VAE.

The recipe was not released (NeuralCompression issue #238); here it is a command::

    python -m perceptual_compression.training.labeler --scale small --out labeler.pt
    python -m perceptual_compression.training.labeler --scale paper --images /path/to/openimages --out labeler.pt

which trains on an image folder, registry dataset or (default) the bundled photographs, with checkpoint/resume
(``--checkpoint``), and saves ``{"config": ..., "state_dict": ...}`` loadable with :func:`load_labeler`.
The batch size and β = 0.25 (van den Oord et al.'s value) are not stated in the paper: they are ours.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..models.vqvae_labeler import LabelerConfig, VQVAELabeler, codebook_usage
from ..params import check_choice
from .illm import check_crop_settings, distortion_tag, ramp_cosine, training_batches
from .loop import Trainer, TrainingHistory

SCALES = ("small", "paper")
# LabelerTrainingConfig fields that do not change the trained labeler, left out of its ``tag``: ``scale`` is a label
# (every setting it selects is a field of its own), ``checkpoint_every`` does not change the result and
# ``data_workers`` only cuts the same batches ahead of time. Every other field, and any field added later, is tagged.
UNTAGGED_FIELDS = ("scale", "checkpoint_every", "data_workers")


@dataclass(frozen=True)
class LabelerTrainingConfig:
    """Eq. 10 training settings; :meth:`for_scale` ("paper": A.2's recipe; "small": a CPU run)."""

    scale: str
    labeler: LabelerConfig
    steps: int
    batch_size: int
    crop_size: int
    lr: float = 3e-4
    weight_decay: float = 5e-5
    warmup_steps: int = 10_000
    lambda_mse: float = 1.0
    perceptual: str = "lpips-vgg"
    grad_clip_norm: float = 1.0
    checkpoint_every: int = 10_000
    small_images: str = "upscale"  # training crops as MS-ILLM's (IllmConfig.small_images, image_order, data_workers)
    image_order: str = "cycle"
    data_workers: int = 0

    def __post_init__(self) -> None:
        check_choice("scale", self.scale, SCALES)
        check_choice("perceptual", self.perceptual, ("lpips-vgg", "none"))
        check_crop_settings(self)
        d = self.labeler.downsampling
        if self.steps < 1 or self.batch_size < 1 or self.crop_size % max(d, 64):
            raise ValueError(f"steps, batch_size >= 1 and crop_size a multiple of {max(d, 64)}")

    @classmethod
    def for_scale(cls, scale: str = "small", *, spatial: int = 32, codebook_size: int = 1024,
                  **overrides: Any) -> LabelerTrainingConfig:
        """``"paper"``: A.2 (the released labeler size, 1M steps of 8 256² patches, AdamW 3e-4, ramp + cosine).

        ``"small"``: :meth:`LabelerConfig.small`, 80 steps of 4 64² patches, the same learning rate with a
        10-step ramp. Measured on four 256² Kodak crops (MSE only, seeds 0 and 1): label perplexity 10–30 of 1024
        after 80 steps, 20–170 after 400 and 35–230 after 1,500 steps. Before the labeler worked in [-1, 1]
        with element-mean VQ terms it was about 3 at every length: the commitment term, summed over the code's
        elements, pulled the vectors onto a few codes. Learning rates of 1e-3 or 2e-3 collapse it the same way.
        """
        check_choice("scale", scale, SCALES)
        if scale == "paper":
            cfg = cls("paper", LabelerConfig.paper(spatial=spatial, codebook_size=codebook_size), steps=1_000_000,
                      batch_size=8, crop_size=256, small_images="torchvision-reflect", image_order="shuffle",
                      data_workers=8)
        else:
            cfg = cls("small", LabelerConfig.small(spatial=spatial, codebook_size=codebook_size), steps=80,
                      batch_size=4, crop_size=64, warmup_steps=10, checkpoint_every=0)
        return replace(cfg, **overrides) if overrides else cfg

    def lr_factor(self, step: int) -> float:
        return ramp_cosine(step, ramp_steps=self.warmup_steps, total_steps=self.steps)

    def tag(self, distortion: str | None = None) -> str:
        """Short, stable hash of every setting that changes the trained labeler (names checkpoint files): the
        labeler's architecture and codebook, steps, batch, crops, learning rate, ramp and loss weights, not the
        fields in ``UNTAGGED_FIELDS``. ``distortion``: :attr:`LabelerDistortion.label`, which says whether LPIPS-VGG
        was used or its offline fallback (see :func:`~perceptual_compression.training.illm.distortion_tag`)."""
        return distortion_tag(self, UNTAGGED_FIELDS, distortion)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labeler"] = self.labeler.to_dict()
        return d


class LabelerDistortion(nn.Module):
    """:math:`\\rho = \\lambda_{MSE}\\,\\mathrm{MSE} + \\mathrm{LPIPS_{VGG}}` (A.2), or MSE only with a recorded reason."""

    def __init__(self, lambda_mse: float = 1.0, *, perceptual: str = "lpips-vgg", lpips: nn.Module | None = None) -> None:
        super().__init__()
        self.lambda_mse = float(lambda_mse)
        self.lpips = lpips
        self.fallback_reason: str | None = None
        if perceptual == "lpips-vgg" and lpips is None:
            from ..assets import AssetUnavailableError
            from ..metrics import LPIPS
            try:
                self.lpips = LPIPS("vgg")
            except AssetUnavailableError as err:
                self.fallback_reason = (f"LPIPS-VGG trunk weights unavailable ({err}); the labeler is trained "
                                        f"with {self.lambda_mse:g}·MSE only (eq. 10 without its LPIPS term)")
        if self.lpips is not None:
            self.lpips.requires_grad_(False)

    @property
    def label(self) -> str:
        return f"{self.lambda_mse:g}·MSE" + (" + LPIPS-VGG" if self.lpips is not None else " (fallback: no LPIPS-VGG)")

    def forward(self, x: Tensor, x_hat: Tensor) -> Tensor:
        loss = self.lambda_mse * (x_hat - x).pow(2).mean()
        if self.lpips is not None:
            loss = loss + self.lpips(x, x_hat.clamp(0, 1)).mean()
        return loss


def labeler_loss(out: dict[str, Tensor], x: Tensor, distortion: nn.Module, beta: float) -> dict[str, Tensor]:
    """Eq. 10 for one batch: ``{"loss", "distortion", "embedding", "commitment"}``."""
    dist = distortion(x, out["x_hat"])
    loss = dist + out["embedding_loss"] + beta * out["commitment_loss"]
    return {"loss": loss, "distortion": dist, "embedding": out["embedding_loss"], "commitment": out["commitment_loss"]}


@dataclass
class LabelerResult:
    labeler: VQVAELabeler
    history: TrainingHistory
    distortion: LabelerDistortion
    config: LabelerTrainingConfig


def train_labeler(images, config: LabelerTrainingConfig, *, seed: int = 0, labeler: VQVAELabeler | None = None,
                  distortion: LabelerDistortion | None = None, checkpoint_path: str | Path | None = None,
                  device: str | torch.device | None = None, progress: bool | None = None) -> LabelerResult:
    """Train a labeler with eq. 10 on random crops / random-resized crops (flipped) of ``images``.

    Logged per step: ``loss``, ``distortion``, ``embedding``, ``commitment``, ``psnr`` (float reconstruction),
    ``perplexity`` and ``used`` (codebook usage in the batch), ``lr``. Returns the labeler frozen (eval mode).
    """
    from .device import default_device
    from .seed import seed_everything

    dev = torch.device(device) if device is not None else default_device()
    seed_everything(seed)
    labeler = (labeler or VQVAELabeler(config.labeler)).to(dev)
    distortion = (distortion or LabelerDistortion(config.lambda_mse, perceptual=config.perceptual)).to(dev)
    batches = training_batches(images, config, seed=seed + 101, stop=config.steps)
    opt = torch.optim.AdamW(labeler.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, config.lr_factor)
    trainer = Trainer(modules={"labeler": labeler}, optimizers={"main": opt}, schedulers={"main": sched},
                      checkpoint_path=checkpoint_path,
                      checkpoint_every=config.checkpoint_every if checkpoint_path else 0, seed=seed,
                      progress=progress, desc=f"VQ-VAE labeler ({config.scale})")
    labeler.train()

    def step_fn(step: int) -> dict[str, Any]:
        x = batches(step).to(dev)
        out = labeler(x)
        terms = labeler_loss(out, x, distortion, config.labeler.beta)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        if config.grad_clip_norm:
            torch.nn.utils.clip_grad_norm_(labeler.parameters(), config.grad_clip_norm)
        opt.step()
        lr = opt.param_groups[0]["lr"]
        sched.step()
        with torch.no_grad():
            mse = (out["x_hat"] - x).pow(2).mean()
            usage = codebook_usage(out["indices"], config.labeler.codebook_size)
        return {**{k: v.detach() for k, v in terms.items()}, "psnr": -10 * torch.log10(mse.clamp_min(1e-10)),
                "perplexity": usage["perplexity"], "used": usage["used"], "lr": lr}

    history = trainer.run(step_fn, config.steps)
    return LabelerResult(labeler.freeze(), history, distortion, config)


def save_labeler(labeler: VQVAELabeler, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": labeler.config.to_dict(), "state_dict": labeler.state_dict()}, path)
    return path


def load_labeler(path: str | Path, device: str | torch.device = "cpu") -> VQVAELabeler:
    """A labeler saved by :func:`save_labeler` (or the command), frozen."""
    blob = torch.load(Path(path), map_location=device, weights_only=True)
    cfg = dict(blob["config"])
    cfg["channel_mult"] = tuple(cfg["channel_mult"])
    cfg.setdefault("downsample_padding", "symmetric")  # saved before the field existed: padded symmetrically
    labeler = VQVAELabeler(LabelerConfig(**cfg))
    labeler.load_state_dict(blob["state_dict"])
    return labeler.to(device).freeze()


def main(argv: list[str] | None = None) -> Path:
    """Command line: train a labeler (eq. 10) and save it. ``--help`` lists the options."""
    p = argparse.ArgumentParser(prog="python -m perceptual_compression.training.labeler",
                                description="Train MS-ILLM's VQ-VAE labeler (Muckley et al. 2023, A.2, eq. 10).")
    p.add_argument("--scale", choices=SCALES, default="small")
    p.add_argument("--spatial", type=int, choices=(16, 32), default=32, help="labels per side of a 256² image")
    p.add_argument("--codebook", type=int, default=1024, help="codebook size C (Table 2: 256 or 1024)")
    p.add_argument("--steps", type=int, default=0, help="training steps; 0 = the scale's default")
    p.add_argument("--batch-size", type=int, default=0, help="0 = the scale's default")
    p.add_argument("--images", default="embedded",
                   help='"embedded" (bundled photographs), a registry dataset id, or an image folder')
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default=None, help="checkpoint file for resuming")
    p.add_argument("--out", required=True, help="where to save the trained labeler (.pt)")
    a = p.parse_args(argv)
    overrides: dict[str, Any] = {}
    if a.steps:
        overrides["steps"] = a.steps
    if a.batch_size:
        overrides["batch_size"] = a.batch_size
    cfg = LabelerTrainingConfig.for_scale(a.scale, spatial=a.spatial, codebook_size=a.codebook, **overrides)
    from ..evaluation.codec_eval import load_image_set

    images = load_image_set(a.images)
    result = train_labeler(images, cfg, seed=a.seed, checkpoint_path=a.checkpoint)
    if result.distortion.fallback_reason:
        print("note:", result.distortion.fallback_reason)
    h = result.history
    print(f"{cfg.steps} steps; last PSNR {h.last('psnr'):.2f} dB, codebook perplexity {h.last('perplexity'):.1f}")
    return save_labeler(result.labeler, a.out)


if __name__ == "__main__":
    main()
