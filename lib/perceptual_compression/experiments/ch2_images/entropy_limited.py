"""Chapter 2, Sec. 5.2 and Table 1: entropy-limited autoencoders trained on natural patches or on uniform
noise with MSE, MS-SSIM or NLPD alone (the rate is fixed by the centers, eq. 15-16), and two diagnostics of
their decoded images (:func:`soft_quantized_psnr`, :func:`mean_restored_psnr`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ...losses.perceptual_rate_distortion import distortion
from ...models.entropy_limited import EntropyLimitedAutoencoder
from ...training import Trainer, default_device, seed_everything
from .evaluation import restore_channel_means
from .noise import NOISE_KINDS, uniform_noise_batch

Tensor = torch.Tensor


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
    from ...metrics import psnr

    dev = next(model.parameters()).device if model is not None else torch.device("cpu")
    vals = []
    for x in images:
        x = (x.unsqueeze(0) if x.dim() == 3 else x).to(dev)
        x_hat = torch.full_like(x, 0.5) if model is None else model(x, quantization)["x_hat"]
        vals.append(float(psnr(x, post(x, x_hat))))
    return float(np.mean(vals))


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
