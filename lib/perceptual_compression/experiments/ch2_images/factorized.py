"""Chapter 2: Ballé et al. (2018) factorized-prior autoencoders trained with ``D = 255^2 MSE`` or
``D = 1 - MS-SSIM`` in eq. 3 (Sec. 4; appendix D; the paper used pretrained tensorflow-compression models),
and the check that MS-SSIM training kept every colour channel (:func:`msssim_channels`, :func:`lost_channels`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch

from ...losses.perceptual_rate_distortion import rate_distortion_loss
from ...models.factorized_prior import factorized_prior, widths_for_rate
from ...training import Trainer, default_device, seed_everything

Tensor = torch.Tensor


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
    from ...metrics import ms_ssim_per_channel

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
