"""A ResNet-18 trained on decoded images: the downstream predictor of Dubois et al. (2021), Fig. 6.

The paper measures how much a compressor keeps for downstream tasks by training a predictor on what
the receiver gets. For augmented MNIST and the reconstructing compressors (VC, VIC) the authors train a
ResNet-18 on the *reconstructions* ``x_hat = dec(Q(enc(A(x))))`` of freshly augmented training images and
report its test error on reconstructions of augmented test images (``test/pred/err`` in their results).

- :func:`resnet18_classifier`: torchvision's ``resnet18`` (no pretrained weights) adapted to small 1-channel images
  as the authors do for inputs under 100 pixels: a 3×3 stride-1 first convolution and no max-pool, so a 28×28 (or,
  at the paper scale, 32×32) digit keeps its size into the first stage (the same network as the MNIST encoder,
  :class:`~perceptual_compression.models.invariant_compressor.ResNet18Encoder`, with 10 outputs).
- :class:`ReconPredictorConfig`: the training settings; ``for_scale("paper")`` holds the authors' values
  (cited field by field there), ``for_scale("small")`` a tiny run for a CPU.
- :func:`train_recon_predictor`: AdamW with a step schedule, gradient clipping, a held-out validation
  split and the best-validation-loss weights kept, on batches that are augmented afresh and passed through
  a frozen compressor (``reconstruct``) on the fly; :func:`evaluate_recon_predictor` and
  :func:`recon_predictor_error` score it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

SCALES = ("small", "paper")

Transform = Callable[[torch.Tensor], torch.Tensor]
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def resnet18_classifier(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """torchvision's ResNet-18 (random init) for small images: 3×3/1 stem, no max-pool; logits ``(B, num_classes)``.

    The authors' ``Resnet`` architecture (lossyless/architectures.py) makes exactly this change whenever
    the input side is below 100 pixels; ``config/architecture/resnet18.yaml`` selects ``base: resnet18``.
    """
    from ..models.invariant_compressor import ResNet18Encoder

    return ResNet18Encoder(num_classes, in_channels)


@dataclass(frozen=True)
class ReconPredictorConfig:
    """How the ResNet-18 on reconstructions is trained. Steps are counted in epochs over the training split."""

    scale: str
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    lr_decay: float            # total factor by which the learning rate falls, in ``lr_steps`` equal steps
    lr_steps: int
    grad_clip: float           # max global gradient norm (0: no clipping)
    val_fraction: float        # held out of the training images to pick the best epoch (validation loss)
    max_train: int | None      # use at most this many training images (None: all)
    arch: str = "resnet18"
    num_classes: int = 10

    @classmethod
    def for_scale(cls, scale: str) -> "ReconPredictorConfig":
        if scale not in SCALES:
            raise ValueError(f"scale={scale!r} is not valid; valid values are: " + ", ".join(repr(s) for s in SCALES))
        if scale == "paper":
            # YannDubs/lossyless @ c9862b9:
            # - bin/mnist/augmnist_RD.sh: architecture@predictor=resnet18, featurizer=neural_rec (the predictor
            #   reads reconstructions), data@data_feat=mnist_aug (augmented at train and test time),
            #   trainer.max_epochs=100 (shared by the compressor and the predictor: update_trainer_pred is {});
            # - config/main.yaml: optimizer@optimizer_pred=AdamW_lr3e-4_w1e-5 (AdamW, lr 3e-4, weight decay
            #   1e-5), scheduler@scheduler_pred=unifmultistep100, checkpoint@checkpoint_pred=bestValLoss,
            #   trainer.gradient_clip_val=3;
            # - config/scheduler/unifmultistep100.yaml + lossyless/helpers.py get_lr_scheduler: the lr falls
            #   by 100 in k_steps=3 equal steps, at epochs // 4 * (1, 2, 3);
            # - config/data/base.yaml: batch_size 128; config/data/mnist_aug.yaml: val_size 0.05.
            # Not reproduced: the authors' 16-bit mixed precision (trainer.precision: 16; we train in float32)
            # and their validation images being re-augmented each epoch (ours are augmented once, seeded).
            return cls("paper", epochs=100, batch_size=128, lr=3e-4, weight_decay=1e-5, lr_decay=100.0,
                       lr_steps=3, grad_clip=3.0, val_fraction=0.05, max_train=None)
        # a tiny run that exercises the path, far from converged: a training step of this ResNet-18 costs about
        # 65 ms per 28x28 image on one (shared) CPU core, so 2 epochs of 96 images take about 15 s; the chapter's
        # small scale therefore keeps the linear probe on reconstructions
        return cls("small", epochs=2, batch_size=32, lr=1e-3, weight_decay=1e-5, lr_decay=100.0,
                   lr_steps=3, grad_clip=3.0, val_fraction=0.25, max_train=128)

    def with_(self, **changes) -> "ReconPredictorConfig":
        return replace(self, **changes)

    def lr_factor(self, epoch: int) -> float:
        """The step schedule: ``lr_decay ** (-k / lr_steps)`` after the ``k``-th of the milestones
        ``epochs // (lr_steps + 1) * (1, ..., lr_steps)`` (torch's MultiStepLR as the authors configure it)."""
        width = self.epochs // (self.lr_steps + 1)
        passed = sum(1 for i in range(1, self.lr_steps + 1) if width > 0 and epoch >= width * i)
        return float(self.lr_decay) ** (-passed / self.lr_steps)

    def build(self, in_channels: int = 1) -> nn.Module:
        if self.arch != "resnet18":
            raise ValueError(f"arch={self.arch!r} is not valid; valid values are: 'resnet18'")
        return resnet18_classifier(self.num_classes, in_channels)


@dataclass
class ReconPredictor:
    """A trained predictor with its training record."""

    model: nn.Module
    config: ReconPredictorConfig
    best_epoch: int
    val_losses: list[float]
    history: object = None

    @torch.no_grad()
    def logits(self, images: torch.Tensor, *, reconstruct: Transform | None = None,
               batch_size: int = 512) -> torch.Tensor:
        """Eval-mode logits (on the CPU) of ``reconstruct(images)`` (of ``images`` if ``reconstruct`` is None)."""
        self.model.eval()
        dev = next(self.model.parameters()).device
        out = []
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size]
            x = reconstruct(x) if reconstruct is not None else x
            out.append(self.model(x.to(dev).float()).cpu())
        return torch.cat(out)


@torch.no_grad()
def _map_batches(fn: Transform | None, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    if fn is None:
        return x
    return torch.cat([fn(x[i:i + batch_size]).cpu() for i in range(0, len(x), batch_size)])


def train_recon_predictor(images: torch.Tensor, labels: torch.Tensor, config: ReconPredictorConfig, *,
                          reconstruct: Transform | None = None, augment: Augment | None = None, seed: int = 0,
                          progress: bool | None = None, checkpoint_path: str | Path | None = None,
                          desc: str = "ResNet-18 on reconstructions") -> ReconPredictor:
    """Train ``config.build()`` to predict ``labels`` from ``reconstruct(augment(images))``.

    ``images``: ``(N, C, H, W)`` in ``[0, 1]`` (unaugmented when ``augment`` is given). Every training batch is
    augmented afresh (``augment(x, generator)``) and passed through ``reconstruct`` (e.g. a frozen
    compressor's decode∘encode) without gradients, as the authors' predictor sees new augmentations each
    epoch. ``config.val_fraction`` of the images (augmented and reconstructed once, with a fixed seed) is
    held out; the weights of the epoch with the lowest validation cross-entropy are returned.
    """
    from ..training import Trainer, default_device

    y_all = torch.as_tensor(labels).long().cpu()
    x_all = images.detach().cpu()
    if len(x_all) != len(y_all):
        raise ValueError(f"{len(x_all)} images for {len(y_all)} labels")
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(x_all), generator=g)
    if config.max_train is not None:
        perm = perm[:config.max_train]
    n_val = max(1, int(round(config.val_fraction * len(perm)))) if config.val_fraction > 0 else 0
    if len(perm) - n_val < 1:
        raise ValueError(f"{len(perm)} images leave none for training after holding out {n_val} for validation")
    tr, va = perm[n_val:], perm[:n_val]
    x_tr, y_tr = x_all[tr], y_all[tr]

    device = default_device()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = config.build(in_channels=x_all.shape[1]).to(device)

    x_va = y_va = None
    if n_val:
        gv = torch.Generator().manual_seed(seed + 1)
        xv = augment(x_all[va], gv) if augment is not None else x_all[va]
        x_va, y_va = _map_batches(reconstruct, xv), y_all[va]

    per_epoch = math.ceil(len(tr) / config.batch_size)
    steps = config.epochs * per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: config.lr_factor(s // per_epoch))
    selection = {"best_loss": math.inf, "best_epoch": -1, "best_state": None, "val_losses": []}
    gb = torch.Generator()
    order: list[torch.Tensor] = []

    @torch.no_grad()
    def validate() -> float:
        model.eval()
        loss = 0.0
        for i in range(0, len(x_va), 512):
            logits = model(x_va[i:i + 512].to(device))
            loss += float(F.cross_entropy(logits, y_va[i:i + 512].to(device), reduction="sum"))
        model.train()
        return loss / len(x_va)

    def step_fn(step: int) -> dict[str, torch.Tensor]:
        epoch, b = divmod(step, per_epoch)
        if b == 0 or not order:   # per-epoch seeds: the same batches and augmentations after a resume
            gb.manual_seed(seed * 100_003 + epoch + 2)
            order[:] = [torch.randperm(len(tr), generator=gb)]
        idx = order[0][b * config.batch_size:(b + 1) * config.batch_size]
        x = x_tr[idx]
        with torch.no_grad():
            x = augment(x, gb) if augment is not None else x
            x = reconstruct(x) if reconstruct is not None else x
        y = y_tr[idx].to(device)
        logits = model(x.to(device).float())
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        sched.step()
        out = {"loss": loss.detach(), "error": (logits.argmax(1) != y).float().mean().detach()}
        if b == per_epoch - 1:   # end of an epoch: keep the weights with the lowest validation loss
            sel = trainer.extra_state["selection"]   # (replaced by the checkpoint's copy on resume)
            v = validate() if n_val else float(loss)
            sel["val_losses"].append(v)
            if v < sel["best_loss"]:
                sel["best_loss"], sel["best_epoch"] = v, epoch
                sel["best_state"] = {k: t.detach().cpu().clone() for k, t in model.state_dict().items()}
            out["val_loss"] = torch.tensor(v)
        return out

    trainer = Trainer(modules={"model": model}, optimizers={"main": opt}, schedulers={"main": sched},
                      checkpoint_path=checkpoint_path, checkpoint_every=per_epoch if checkpoint_path else 0,
                      seed=seed, progress=progress, desc=desc, log_every=max(1, per_epoch // 4),
                      loss_keys=("loss",), extra_state={"selection": selection})
    history = trainer.run(step_fn, steps)
    sel = trainer.extra_state["selection"]
    if sel["best_state"] is not None:
        model.load_state_dict(sel["best_state"])
    return ReconPredictor(model.eval(), config, int(sel["best_epoch"]), list(sel["val_losses"]), history)


@torch.no_grad()
def evaluate_recon_predictor(predictor: ReconPredictor, images: torch.Tensor, labels: torch.Tensor, *,
                             reconstruct: Transform | None = None) -> dict[str, float]:
    """Test error (fraction) and log-loss (bits) on ``reconstruct(images)``."""
    logits = predictor.logits(images, reconstruct=reconstruct)
    y = torch.as_tensor(labels).long().cpu()
    return {"error": float((logits.argmax(1) != y).float().mean()),
            "log_loss_bits": float(F.cross_entropy(logits, y)) / math.log(2.0)}


def recon_predictor_error(train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor,
                          test_labels: torch.Tensor, config: ReconPredictorConfig, *,
                          reconstruct: Transform | None = None, augment: Augment | None = None, seed: int = 0,
                          progress: bool | None = None, checkpoint_path: str | Path | None = None) -> dict[str, float]:
    """Train on (freshly augmented) reconstructions of the training images, test on reconstructions of the
    test images (given already augmented). Returns ``error``, ``log_loss_bits`` and ``best_epoch``."""
    pred = train_recon_predictor(train_images, train_labels, config, reconstruct=reconstruct, augment=augment,
                                 seed=seed, progress=progress, checkpoint_path=checkpoint_path)
    out = evaluate_recon_predictor(pred, test_images, test_labels, reconstruct=reconstruct)
    out["best_epoch"] = float(pred.best_epoch)
    return out
