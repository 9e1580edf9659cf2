"""MS-ILLM coding benchmark: our HiFiC mean-scale hyperprior vs CompressAI's MeanScaleHyperprior, on Kodak.

In ONE run and under identical conditions it compares

* ``msillm``: :func:`perceptual_compression.models.hific.msillm_autoencoder` — HiFiC's encoder and generator
  (ChannelNorm, residual blocks) inside the project's mean-scale hyperprior, at the chosen width
  (``--hific small``: the book's CPU model; ``--hific paper``: the published 181M-parameter model), and
* ``compressai``: ``compressai.models.MeanScaleHyperprior(N, M)`` with the **same bottleneck**: M = the latent
  channels and N = the hyper-latent channels of our model, so both entropy-code exactly as many symbols per
  image (the transforms differ: GDN there, HiFiC here; their parameter counts are printed),

and reports for every Kodak image the model's estimated bits (−Σ log₂ of its eval-mode likelihoods), the
bytes actually written (model strings, and the container with its header: the rate the book reports), and the
wall-clock encode and decode times of :class:`~perceptual_compression.coding.ImageCodec`.

The harness (training both models identically from random initialisation on crops of the embedded
scikit-image photographs — disjoint from Kodak — with rate + λ·255²·MSE, timing, the coded-vs-estimated
accounting and the Markdown/JSON report) is ``benchmarks/coding_benchmark.py``'s; this script only adds the
MS-ILLM model and picks the matching CompressAI model. No pretrained weights exist offline, so rates and PSNR
are those of briefly trained models: the point is coding overhead and speed.

Usage::

    python benchmarks/illm_benchmark.py                      # small width, writes benchmarks/results/illm_benchmark.{md,json}
    python benchmarks/illm_benchmark.py --images 4 --steps 20 --out-dir /tmp/ib    # smoke run
    python benchmarks/illm_benchmark.py --hific paper --device cuda                  # the published model size
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import shlex
import sys
import time
from pathlib import Path

import torch

from perceptual_compression.models.hific import HiFiCConfig, msillm_autoencoder
from perceptual_compression.training import default_device

REPO = Path(__file__).resolve().parents[1]


def _coding_benchmark():
    """``benchmarks/coding_benchmark.py`` as a module (the shared harness)."""
    spec = importlib.util.spec_from_file_location("coding_benchmark", Path(__file__).with_name("coding_benchmark.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hific_config(name: str) -> HiFiCConfig:
    if name == "small":
        return HiFiCConfig.small()
    if name == "paper":
        return HiFiCConfig.paper()
    raise ValueError(f"--hific must be 'small' or 'paper', got {name!r}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--hific", default="small", choices=["small", "paper"], help="width of our model (default small)")
    p.add_argument("--steps", type=int, default=250, help="training steps per model (default 250)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--patch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--lmbda", type=float, default=0.01, help="weight of 255^2 * MSE (CompressAI's convention)")
    p.add_argument("--images", type=int, default=0, help="evaluate on the first K images only (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave torch's default)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when present)")
    p.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = p.parse_args(argv)
    for key in ("steps", "batch_size", "patch_size"):
        if getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} must be a positive integer")
    cfg = hific_config(args.hific)
    args.n, args.m = cfg.hyper_features, cfg.latent_features  # CompressAI's N (hyper-latent) and M (latent)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cb = _coding_benchmark()
    cfg = hific_config(args.hific)
    default_build = cb.build

    def build(name: str, n: int, m: int) -> torch.nn.Module:
        if name == "msillm":
            return msillm_autoencoder(cfg)
        return default_build(name, n, m)

    cb.build = build  # the harness builds models by name
    device = default_device(args.device)
    start = time.perf_counter()
    images = cb.evaluation_images()
    if args.images:
        images = images.subset(args.images)
    titles = {
        "msillm": (f"ours: MS-ILLM architecture (HiFiC {args.hific}: channels {list(cfg.channels)}, "
                   f"{cfg.residual_blocks} res. blocks, latent {cfg.latent_features}, hyper {cfg.hyper_features})"),
        "compressai": f"CompressAI MeanScaleHyperprior(N={args.n}, M={args.m})",
    }
    argv_shown = argv if argv is not None else sys.argv[1:]
    result = {
        "command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, REPO), *argv_shown]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": cb.machine(device),
        "images": len(images),
        "images_label": getattr(images, "label", "images"),
        "pretrained": False,
        "models": {}, "training": {}, "summary": {}, "per_image": {},
    }
    for name in ("msillm", "compressai"):
        model, training = cb.train(name, args, device)
        result["models"][name] = {"title": titles[name], "params": sum(p.numel() for p in model.parameters())}
        result["training"][name] = training
        rows = cb.evaluate(name, model, images, device)
        result["per_image"][name] = rows
        result["summary"][name] = cb.summarize(rows)
    result["total_seconds"] = time.perf_counter() - start
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "illm_benchmark.json").write_text(json.dumps(result, indent=2) + "\n")
    text = cb.markdown(result).replace("# Coding benchmark", "# MS-ILLM coding benchmark", 1)
    (args.out_dir / "illm_benchmark.md").write_text(text)
    print(text)
    return result


if __name__ == "__main__":
    main()
