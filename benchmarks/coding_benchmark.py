"""Coding benchmark: real bitstreams vs estimated rates, and encode/decode time, on Kodak.

Compares, in ONE run and under identical conditions,

* ``ours``: :func:`perceptual_compression.models.mean_scale_hyperprior.minnen2018_mean_scale_hyperprior`
  (N=128, M=192), whose ``compress`` writes one rANS stream per image (ẑ then ŷ, one flush), and
* ``compressai``: CompressAI's own ``compressai.models.MeanScaleHyperprior(128, 192)`` (two rANS streams per
  image, one for ẑ and one for ŷ),

both wrapped in :class:`perceptual_compression.coding.ImageCodec`. With ``--ours msillm-small`` (or
``msillm-paper``) "ours" is instead chapter 4's MS-ILLM / No-GAN codec,
:func:`perceptual_compression.models.hific.msillm_autoencoder` (HiFiC's encoder and generator with ChannelNorm in
the same mean-scale hyperprior), and CompressAI's model gets the same bottleneck: M = its latent channels and
N = its hyper-latent channels, so both code exactly as many symbols per image (results: ``illm_benchmark.*``). For every image it records the model's
estimated bits (``-sum log2`` of the eval-mode likelihoods), the bytes of the model's own ``compress()``
strings, the bytes of our container (header included; what the book calls the rate), and the wall-clock
encode and decode times.

No pretrained weights are available offline, so both models are first trained *the same way*: same seed,
same patches (random crops of the embedded scikit-image photographs, disjoint from Kodak), same optimiser,
steps and lambda. A few hundred steps do not make good codecs, and the output says so: the point is the gap
between coded and estimated bits and the coding speed, not the rate-distortion performance.

Usage (defaults: ~10 minutes on two unloaded CPU cores)::

    python benchmarks/coding_benchmark.py                     # writes benchmarks/results/coding_benchmark.{md,json}
    python benchmarks/coding_benchmark.py --steps 5000 --patch-size 256 --batch-size 8   # better-trained models
    python benchmarks/coding_benchmark.py --images 4 --steps 20 --out-dir /tmp/cb        # a quick smoke run
    python benchmarks/coding_benchmark.py --ours msillm-small --patch-size 128   # chapter 4's codec (illm_benchmark.*)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch
from compressai.models import MeanScaleHyperprior
from compressai.models.base import get_scale_table
from tqdm.auto import tqdm

from perceptual_compression.coding import ImageCodec, header_size, unpack
from perceptual_compression.coding.entropy_bottleneck import channel_indexes
from perceptual_compression.coding.image import pad_to_multiple
from perceptual_compression.coding.rans import ideal_bits
from perceptual_compression.coding.tables import (
    eb_medians,
    gaussian_indexes,
    model_fingerprint,
    table_from_entropy_model,
)
from perceptual_compression.datasets import PatchDataset, embedded_images, natural_images
from perceptual_compression.metrics import psnr
from perceptual_compression.models.mean_scale_hyperprior import minnen2018_mean_scale_hyperprior
from perceptual_compression.training import Trainer, default_device, seed_everything

REPO = Path(__file__).resolve().parents[1]


def evaluation_images():
    """Kodak through the asset registry (or the embedded photographs, labeled, if Kodak is missing)."""
    return natural_images()


#: Choices of ``--ours``: the model compared with CompressAI's MeanScaleHyperprior.
OURS = ("minnen2018", "msillm-small", "msillm-paper")


def hific_config(ours: str):
    """The HiFiC widths of ``--ours msillm-small|msillm-paper`` (chapter 4's MS-ILLM / No-GAN codec)."""
    from perceptual_compression.models.hific import HiFiCConfig

    return {"msillm-small": HiFiCConfig.small, "msillm-paper": HiFiCConfig.paper}[ours]()


def build(name: str, n: int, m: int, ours: str = "minnen2018") -> torch.nn.Module:
    if name == "ours" and ours != "minnen2018":
        from perceptual_compression.models.hific import msillm_autoencoder

        return msillm_autoencoder(hific_config(ours))
    if name == "ours":
        return minnen2018_mean_scale_hyperprior(n, m)
    if name == "compressai":
        return MeanScaleHyperprior(n, m)
    raise ValueError(f"unknown model {name!r}; valid: 'ours', 'compressai'")


def train(name: str, args, device: torch.device) -> tuple[torch.nn.Module, dict]:
    """Train ``name`` from random init: rate + lambda * 255^2 * MSE, CompressAI's convention; aux loss apart."""
    seed_everything(args.seed)
    model = build(name, args.n, args.m, getattr(args, "ours", "minnen2018")).to(device)
    patches = PatchDataset(embedded_images(), size=args.patch_size, flip=True, seed=args.seed)
    aux_names = [k for k, _ in model.named_parameters() if k.endswith(".quantiles")]
    main = [p for k, p in model.named_parameters() if k not in aux_names]
    aux = [p for k, p in model.named_parameters() if k in aux_names]
    opt = torch.optim.Adam(main, lr=args.lr)
    aux_opt = torch.optim.Adam(aux, lr=1e-3)
    model.train()

    def step_fn(step: int) -> dict:
        x = patches.batch(args.batch_size).to(device)
        out = model(x)
        pixels = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = sum(-torch.log2(lik).sum() for lik in out["likelihoods"].values()) / pixels
        mse = torch.mean((out["x_hat"] - x) ** 2)
        loss = bpp + args.lmbda * 255**2 * mse
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main, 1.0)
        opt.step()
        aux_loss = model.aux_loss()
        aux_opt.zero_grad()
        aux_loss.backward()
        aux_opt.step()
        return {"loss": loss, "bpp": bpp, "mse": mse, "aux": aux_loss}

    start = time.perf_counter()
    history = Trainer(modules={"model": model}, optimizers={"opt": opt, "aux": aux_opt}, seed=args.seed,
                      desc=f"training {name}", loss_keys=("loss",)).run(step_fn, args.steps)
    seconds = time.perf_counter() - start
    model.eval()
    # Fit the entropy bottleneck's quantiles by bisection (CompressAI's update_quantiles), then build the tables.
    model.update(scale_table=get_scale_table(levels=args.scale_levels), force=True, update_quantiles=True)
    k = max(1, min(20, args.steps // 5))
    summary = {"seconds": seconds, "final_bpp_train": history.last("bpp", k), "final_mse_train": history.last("mse", k)}
    return model, summary


@torch.no_grad()
def table_bits(model: torch.nn.Module, x: torch.Tensor, stride: int) -> float:
    """Bits an ideal coder would spend with the model's *coding tables* (16-bit CDFs; for ŷ the Gaussian of the
    scale-table entry each scale is mapped to): the estimate's gap to this is table quantization, the rest of
    the gap to the strings is the rANS coder's own overhead. Works for both models (attribute names differ)."""
    ours = hasattr(model, "hyper_synthesis_scale")
    encoder, hyper_analysis = (model.encoder, model.hyper_analysis) if ours else (model.g_a, model.h_a)
    eb, gc = (model.hyper_bottleneck, model.latent_bottleneck) if ours else (model.entropy_bottleneck,
                                                                              model.gaussian_conditional)
    x = x[None] if x.ndim == 3 else x
    x = pad_to_multiple(x, stride)  # as ImageCodec pads
    y = encoder(x.to(_device(model)))
    z = hyper_analysis(y)
    medians = eb_medians(eb).reshape(1, -1, 1, 1)
    z_symbols = torch.round(z - medians)
    z_hat = z_symbols + medians
    if ours:
        means, scales = model.hyper_synthesis_mean(z_hat), model.hyper_synthesis_scale(z_hat)
    else:
        scales, means = model.h_s(z_hat).chunk(2, 1)
    y_symbols = torch.round(y - means)
    bits = ideal_bits(z_symbols.long().cpu().numpy(), channel_indexes(tuple(z.shape)), table_from_entropy_model(eb))
    bits += ideal_bits(y_symbols.long().cpu().numpy(), gaussian_indexes(gc, scales).cpu().numpy(),
                       table_from_entropy_model(gc))
    return bits


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def evaluate(name: str, model: torch.nn.Module, images, device: torch.device) -> list[dict]:
    codec = ImageCodec(model, codec_id=f"coding-benchmark-{name}")
    rows = []
    warm = images[0][:, :64, :64]
    codec.decompress(codec.compress(warm))  # warm-up (allocations, thread pools)
    for i in tqdm(range(len(images)), desc=f"coding {name}"):
        x = images[i]
        pixels = x.shape[-2] * x.shape[-1]
        estimate = codec.estimate_bits(x)
        ideal = table_bits(model, x, codec.stride)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        data = codec.compress(x)
        t1 = time.perf_counter()
        x_hat = codec.decompress(data)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        box = unpack(data, codec.codec_id, fingerprint=model_fingerprint(model))
        strings = sum(len(s) for s in box.streams)
        rows.append({
            "image": images.names[i] if hasattr(images, "names") else str(i),
            "pixels": pixels,
            "estimated_bits": estimate,
            "table_bits": ideal,
            "strings_bytes": strings,
            "streams": len(box.streams),
            "coded_bytes": len(data),
            "header_bytes": header_size(box.fields, [len(s) for s in box.streams]),
            "bpp_estimated": estimate / pixels,
            "bpp_coded": 8 * len(data) / pixels,
            "encode_s": t1 - t0,
            "decode_s": t2 - t1,
            "psnr_db": float(psnr(x[None].to(x_hat.device), x_hat)),
        })
    return rows


def summarize(rows: list[dict]) -> dict:
    est = sum(r["estimated_bits"] for r in rows)
    table = sum(r["table_bits"] for r in rows)
    strings = 8 * sum(r["strings_bytes"] for r in rows)
    coded = 8 * sum(r["coded_bytes"] for r in rows)
    pixels = sum(r["pixels"] for r in rows)
    return {
        "images": len(rows),
        "bpp_estimated": est / pixels,
        "bpp_table": table / pixels,
        "bpp_strings": strings / pixels,
        "bpp_coded": coded / pixels,
        "overhead_table_pct": 100 * (table - est) / est,
        "overhead_strings_pct": 100 * (strings - est) / est,
        "overhead_coded_pct": 100 * (coded - est) / est,
        "overhead_coded_pct_max": max(100 * (8 * r["coded_bytes"] - r["estimated_bits"]) / r["estimated_bits"]
                                      for r in rows),
        "header_bytes_mean": statistics.mean(r["header_bytes"] for r in rows),
        "streams_per_image": statistics.mean(r["streams"] for r in rows),
        "extra_bytes_per_image": (coded - est) / 8 / len(rows),
        "encode_ms_mean": 1000 * statistics.mean(r["encode_s"] for r in rows),
        "encode_ms_median": 1000 * statistics.median(r["encode_s"] for r in rows),
        "decode_ms_mean": 1000 * statistics.mean(r["decode_s"] for r in rows),
        "decode_ms_median": 1000 * statistics.median(r["decode_s"] for r in rows),
        "psnr_db_mean": statistics.mean(r["psnr_db"] for r in rows),
    }


def machine(device: torch.device) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "compressai": __import__("compressai").__version__,
        "platform": platform.platform(),
    }
    try:
        info["load_average_at_start"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    return info


def render_markdown(result: dict) -> str:
    """The summary .md of a run, rendered from its JSON record alone."""
    a = result["args"]
    lines = [
        "# MS-ILLM coding benchmark" if a.get("ours", "minnen2018").startswith("msillm") else "# Coding benchmark",
        "",
        "<!-- results -->",
        f"Images: **{result['images']}**. Models trained from random initialisation for **{a['steps']} steps** "
        f"(batch {a['batch_size']} of {a['patch_size']}×{a['patch_size']} crops of the embedded scikit-image "
        f"photographs, Adam lr {a['lr']}, λ = {a['lmbda']}, seed {a['seed']}), identically for both models; "
        "**not pretrained weights**, so rates and PSNR are those of briefly trained models and are not comparable "
        "with published rate-distortion results. What the table measures is the gap between the bytes written "
        "and the model's estimate, and the speed of coding.",
        "",
        "| model | params | streams/image | est. bpp | table bpp | strings bpp | coded bpp | table vs est. "
        "| strings vs est. | coded vs est. | header B | encode ms | decode ms | PSNR dB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in result["summary"].items():
        lines.append(
            f"| {result['models'][name]['title']} | {result['models'][name]['params'] / 1e6:.2f} M "
            f"| {s['streams_per_image']:.0f} | {s['bpp_estimated']:.4f} | {s['bpp_table']:.4f} "
            f"| {s['bpp_strings']:.4f} | {s['bpp_coded']:.4f} | {s['overhead_table_pct']:+.2f} % "
            f"| {s['overhead_strings_pct']:+.2f} % | {s['overhead_coded_pct']:+.2f} % "
            f"| {s['header_bytes_mean']:.1f} | {s['encode_ms_mean']:.0f} | {s['decode_ms_mean']:.0f} "
            f"| {s['psnr_db_mean']:.2f} |"
        )
    mach = result["machine"]
    lines += [
        "",
        "- *est. bpp*: the model's estimate, −Σ log₂ of its eval-mode likelihoods / pixels.",
        "- *table bpp*: what an ideal coder would spend with the model's coding tables (16-bit CDFs; each "
        f"Gaussian scale mapped to one of the {a['scale_levels']} entries of the scale table): the gap to the "
        "estimate is table quantization, which is largest when the predicted scales are miscalibrated, as in "
        "briefly trained models.",
        "- *strings bpp*: the model's own `compress()` strings (CompressAI's rANS), without any header.",
        "- *coded bpp*: `8 · len(ImageCodec.compress(x)) / pixels`, our container included (the rate the book "
        "reports).",
        "- *vs est.*: (bits − estimated bits) / estimated bits, over all images; the largest per-image coded "
        "overhead was "
        + ", ".join(f"{result['models'][n]['title']} {s['overhead_coded_pct_max']:+.2f} %"
                    for n, s in result["summary"].items()) + ".",
        "- *encode / decode ms*: mean wall-clock time per image of `ImageCodec.compress` / `decompress` "
        "(network + entropy coding + container), after one warm-up.",
        "- Training: " + ", ".join(f"{result['models'][n]['title']} {t['seconds']:.0f} s"
                                   for n, t in result["training"].items()) + ".",
        "",
        f"Command: `{result['command']}`",
        "",
        f"Machine: {mach['cpu']} ({mach['cpu_count']} cores visible, {mach['torch_threads']} torch threads), "
        f"device {mach['device']}; load average at start {mach.get('load_average_at_start')}; "
        f"Python {mach['python']}, torch {mach['torch']}, CompressAI {mach['compressai']}. "
        f"Run {result['date']}, {result['total_seconds'] / 60:.1f} minutes in all "
        f"({result['cpu_seconds'] / 60:.1f} CPU-minutes).",
        f"Evaluation set: {result['images_label']}.",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ours", default="minnen2018", choices=OURS,
                   help="our model: Minnen 2018 GDN transforms (default; N, M from --n/--m), or chapter 4's\n"
                        "MS-ILLM codec at the book's small width or the paper's (N, M = its hyper-latent and latent channels)")
    p.add_argument("--steps", type=int, default=250, help="training steps per model (default 250)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--patch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--lmbda", type=float, default=0.01, help="weight of 255^2 * MSE (CompressAI's convention)")
    p.add_argument("--n", type=int, default=128, help="filters N (default 128)")
    p.add_argument("--m", type=int, default=192, help="latent channels M (default 192)")
    p.add_argument("--scale-levels", type=int, default=64,
                   help="entries of the Gaussian scale table, log-spaced in [0.11, 256] (default 64, CompressAI's)")
    p.add_argument("--images", type=int, default=0, help="evaluate on the first K images only (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave torch's default)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when present)")
    p.add_argument("--out-dir", type=Path, default=REPO / "benchmarks" / "results")
    args = p.parse_args(argv)
    for key in ("steps", "batch_size", "patch_size", "n", "m", "scale_levels"):
        if getattr(args, key) < 1:
            p.error(f"--{key.replace('_', '-')} must be a positive integer")
    if args.ours != "minnen2018":  # CompressAI's model gets our bottleneck: N hyper-latent, M latent channels
        cfg = hific_config(args.ours)
        args.n, args.m = cfg.hyper_features, cfg.latent_features
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = default_device(args.device)
    start = time.perf_counter()
    info = machine(device)
    images = evaluation_images()
    if args.images:
        images = images.subset(args.images)
    titles = {"ours": f"ours: MeanScaleHyperpriorAutoencoder (Minnen 2018 GDN, N={args.n}, M={args.m})",
              "compressai": f"CompressAI MeanScaleHyperprior({args.n}, {args.m})"}
    stem = "coding_benchmark"
    if args.ours != "minnen2018":
        cfg = hific_config(args.ours)
        titles["ours"] = (f"ours: MS-ILLM codec (HiFiC {args.ours.split('-')[1]}: channels {list(cfg.channels)}, "
                          f"{cfg.residual_blocks} res. blocks, latent {cfg.latent_features}, hyper {cfg.hyper_features})")
        stem = "illm_benchmark"
    result = {
        "command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, REPO), *(argv or sys.argv[1:])]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": info,
        "images": len(images),
        "images_label": getattr(images, "label", "images"),
        "pretrained": False,
        "models": {},
        "training": {},
        "summary": {},
        "per_image": {},
    }
    for name in ("ours", "compressai"):
        model, training = train(name, args, device)
        result["models"][name] = {"title": titles[name], "params": sum(p.numel() for p in model.parameters())}
        result["training"][name] = training
        rows = evaluate(name, model, images, device)
        result["per_image"][name] = rows
        result["summary"][name] = summarize(rows)
    result["total_seconds"] = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    text = render_markdown(result)
    (args.out_dir / f"{stem}.md").write_text(text)
    print(text)
    return result


if __name__ == "__main__":
    main()
