"""Chapter 4, part 2: how fast does the small ILLM U-Net learn the labeler's task on its own?

The committed λ_d sweep (``benchmarks/illm_sweep.py``) shows the small U-Net, at the paper's discriminator
learning rate (4e-4), separating real patches from reconstructions but never learning the labels of the real
ones (its accuracy on real positions stays 0: the fake class outranks every label there). This probe trains the U-Net *alone* (no generator updates) on the
loss of eq. 6 — real 128² patches against the labels of the sweep's labeler, the frozen No-GAN model's
reconstructions against class 0 — and prints, every 50 steps, the cross-entropy of the real patches over the
label classes only (the fake class left out), to compare with the labels' marginal entropy (the best a
discriminator that ignores the image can do). It reuses the sweep's cached No-GAN model and labeler (run the
sweep first, or they are trained here).

Usage::

    python benchmarks/illm_unet_probe.py --lr 4e-4      # the paper's learning rate
    python benchmarks/illm_unet_probe.py --lr 2e-3      # the rate of the committed illm_sweep_dlr run
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F

from perceptual_compression.datasets import embedded_images
from perceptual_compression.losses.adversarial import illm_discriminator_loss
from perceptual_compression.losses.distortion import IllmDistortion
from perceptual_compression.models.hific import msillm_autoencoder
from perceptual_compression.paths import cache_dir
from perceptual_compression.training import seed_everything
from perceptual_compression.training.illm import IllmConfig, TrainingPatches, pretrain
from perceptual_compression.training.illm_finetune import FinetuneConfig, build_discriminator
from perceptual_compression.training.labeler import LabelerDistortion, LabelerTrainingConfig, train_labeler
from illm_sweep import labeler_checkpoint, nogan_checkpoint  # benchmarks/illm_sweep.py: the caches it shares


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--rate", type=float, default=0.14)
    ap.add_argument("--labeler-steps", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cache = cache_dir() / "benchmarks" / "illm_sweep"  # shared with illm_sweep.py
    cache.mkdir(parents=True, exist_ok=True)
    images = embedded_images()
    config = IllmConfig.for_scale("small")
    seed_everything(0)
    rho = IllmDistortion(config.lambda_mse, perceptual=config.perceptual)
    model = pretrain(msillm_autoencoder(config.model), images, rate=args.rate, config=config, seed=0, distortion=rho,
                     checkpoint_path=nogan_checkpoint(cache, args.rate, 0, config, rho), device="cpu").model.eval()
    lab_cfg = LabelerTrainingConfig.for_scale("small", spatial=32, codebook_size=1024, steps=args.labeler_steps)
    lab_rho = LabelerDistortion(lab_cfg.lambda_mse, perceptual=lab_cfg.perceptual)
    labeler = train_labeler(images, lab_cfg, seed=0, device="cpu", progress=False, distortion=lab_rho,
                            checkpoint_path=labeler_checkpoint(cache, lab_cfg, lab_rho, 0)).labeler.freeze()
    ft = FinetuneConfig.for_scale("small")
    disc = build_discriminator("illm", ft, latent_features=model.latent_features, labeler=labeler)
    opt = torch.optim.AdamW(disc.parameters(), lr=args.lr, betas=ft.betas, weight_decay=ft.weight_decay)
    patches = TrainingPatches(images, ft.crop_size, seed=202)  # the fine-tuning's patch stream

    counts = torch.zeros(labeler.num_labels)
    t0 = time.perf_counter()
    print(f"U-Net {ft.unet_channels}, lr {args.lr:g}, {args.steps} steps of {ft.batch_size} {ft.crop_size}² patches")
    for i in range(args.steps):
        x = patches.batch(i, ft.batch_size)
        with torch.no_grad():
            out = model(x)
            labels = labeler.labels(x)
        counts += torch.bincount(labels.flatten(), minlength=labeler.num_labels).float()
        real, fake = disc(x, out["y_hat"]), disc(out["x_hat"], out["y_hat"])
        loss = illm_discriminator_loss(real, fake, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(disc.parameters(), ft.grad_clip_norm)
        opt.step()
        if i % 50 == 0 or i == args.steps - 1:
            label_ce = F.cross_entropy(real.detach()[:, 1:], labels).item()
            print(f"step {i:4d}  eq. 6 loss {loss.item():.3f}  real-label CE (labels only) {label_ce:.3f} nats  "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
    q = counts[counts > 0] / counts.sum()
    h = float(-(q * q.log()).sum())
    print(f"labels' marginal entropy over the {args.steps} batches: {h:.3f} nats (perplexity {math.exp(h):.0f} "
          f"of {labeler.num_labels}); a chance-level discriminator has {math.log(labeler.num_labels):.3f}")


if __name__ == "__main__":
    main()
