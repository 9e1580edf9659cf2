"""PIM speed: seconds per training step (IXYZ on 8x8 crops) and per image of the distance, per scale.

Usage: ``python benchmarks/pim_speed.py [--threads N] [--device cpu|cuda] [--size 168]``.

Prints wall time and, on CPU, process CPU time (which is less affected by other processes sharing the
machine: divide it by the number of free cores for an estimate of the wall time on an idle machine).
"""

from __future__ import annotations

import argparse
import time

import torch

from perceptual_compression.losses.ixyz import ixyz_loss
from perceptual_compression.models.pim import PIM, PIMDistance
from perceptual_compression.models.pim_training import PIMConfig
from perceptual_compression.training import default_device


def _timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    w, c = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - w) / repeat, (time.process_time() - c) / repeat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--size", type=int, default=None, help="side of the images for the distance (default: the scale's)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = default_device(args.device)
    print(f"device {device}, torch threads {torch.get_num_threads()}")
    for scale in ("small", "paper"):
        cfg = PIMConfig.for_scale(scale)
        torch.manual_seed(0)
        model = PIM(cfg.arch).to(device)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        x = torch.rand(cfg.batch_size, 3, 64, 64, device=device)
        y = (x + 0.01 * torch.randn_like(x)).clamp(0, 1)

        def step():
            out = ixyz_loss(model, x, y, 0.5, crop=cfg.crop)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()

        w, c = _timed(step, args.repeat)
        print(f"{scale:5s}: training step (batch {cfg.batch_size}): {w:.3f} s wall, {c:.3f} s CPU"
              f" -> {cfg.steps} steps ≈ {w * cfg.steps / 60:.1f} min")
        size = args.size or cfg.calib_size
        imgs = torch.rand(8, 3, size, size)
        metric = PIMDistance(model, kld_samples=cfg.kld_samples)
        metric(imgs, imgs.flip(0))
        w, c = _timed(lambda: metric(imgs, (imgs + 0.05).clamp(0, 1)), args.repeat)
        print(f"{scale:5s}: distance at {size}px (reference cached): {w / 8:.4f} s wall, {c / 8:.4f} s CPU per image")


if __name__ == "__main__":
    main()
