"""Chapter 2, Fig. 4 (right): how much of the factorized models' MSE along the contrast axis is an error of the
channel means (brightness and colour cast) rather than of structure.

A follow-up to ``benchmarks/ch2_factorized.py``: it loads that run's trained models from the cache (the
settings tag of the committed record ``benchmarks/results/ch2_factorized.json``), codes the same Kodak crops
at a few contrasts with
:func:`~perceptual_compression.experiments.ch2_images.contrast_mean_error`, and writes
``benchmarks/results/ch2_factorized_mean_error.{json,md}``. It trains nothing; where the models are not in the
cache it stops and names the command that makes them.

Usage::

    python benchmarks/ch2_factorized.py --threads 1 --jobs 2     # first (trains and caches the models)
    python benchmarks/ch2_factorized_mean_error.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from perceptual_compression.datasets import natural_images
from perceptual_compression.experiments import ch2_images as img
from perceptual_compression.paths import cache_dir
from ch2_factorized import _load as load_model, config_of  # benchmarks/ch2_factorized.py: its models and config
from run_record import RunRecord, add_run_arguments, rendered_from_record  # benchmarks/run_record.py

ROOT = Path(__file__).resolve().parent


def render_markdown(result: dict) -> str:
    alphas = result["alpha"]
    lines = [f"# Chapter 2: {result['what']}", "", "<!-- results -->", "",
             f"The models of `{result['source_record']}` (settings tag {result['settings_tag']}), each coding "
             f"{result['contrast_images']} Kodak centre {result['contrast_size']}² crops along the contrast axis of "
             "eq. 14 (the crops of that run's Fig. 4 right). MSE of the decoded crop, MSE after replacing each "
             "channel's mean by the original's (not a codec: a diagnostic), and the share of the error that is "
             "the channel means (means over the crops):", "",
             "| model | quantity | " + " | ".join(f"α = {a:g}" for a in alphas) + " |",
             "|---|---|" + "---:|" * len(alphas)]
    for name, row in result["models"].items():
        for label, key, fmt in (("MSE", "mse", "{:.5f}"), ("MSE, means restored", "mse_means_restored", "{:.5f}"),
                                ("share of the means", "mean_share", "{:.2f}")):
            lines.append(f"| {name} | {label} | " + " | ".join(fmt.format(v) for v in row[key]) + " |")
    lines += ["", *RunRecord.footer(result)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--record", type=Path, default=ROOT / "results" / "ch2_factorized.json",
                    help="the ch2_factorized.py record whose models are measured")
    ap.add_argument("--alphas", default="0.02,0.1,0.5,1,2", help="contrasts (comma-separated, in [0, 2])")
    add_run_arguments(ap, ROOT / "results" / "ch2_factorized_mean_error", render=True)
    args = ap.parse_args()
    if rendered_from_record(args, render_markdown):
        return
    run = RunRecord(args, "ch2_factorized_mean_error.py")
    run.device = torch.device("cpu")  # it trains nothing and measures on the CPU: that is where it ran
    t0, c0 = time.perf_counter(), time.process_time()
    rec = json.loads(args.record.read_text())
    cfg = config_of(rec)
    alphas = [float(a) for a in args.alphas.split(",")]
    crops = img.center_crops(natural_images(), rec["contrast_images"], rec["contrast_size"])
    cache = cache_dir() / "benchmarks" / "ch2_factorized"
    models = {}
    for r in rec["rates"]:
        for d in ("mse", "ms-ssim"):
            path = cache / f"{rec['settings_tag']}_q{r + 1}_{d}.pt"
            if not path.exists():
                raise SystemExit(f"{path} is not in the cache: this script measures the models of {args.record.name}; "
                                 f"make them first with `{rec['command']}`")
            res = img.contrast_mean_error(load_model(cfg, path), list(crops), alphas, codec_id=f"ch2-fp-mean-{d}-q{r + 1}")
            models[f"{d}-q{r + 1}"] = {k: res[k].tolist() for k in ("mse", "mse_means_restored", "mean_share")}
            print(f"{d}-q{r + 1}", models[f"{d}-q{r + 1}"], flush=True)
    result = {
        "what": "Fig. 4 (right) of Hepburn et al. (2022): the channel means' share of the factorized models' MSE "
                "along the contrast axis",
        "command": run.command, "source_record": f"benchmarks/results/{args.record.name}",
        "settings_tag": rec["settings_tag"], "source_date": rec["date"], "contrast_images": rec["contrast_images"],
        "contrast_size": rec["contrast_size"], "alpha": alphas, "models": models,
        "wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - c0, 1), **run.environment(),
    }
    RunRecord.save(args.out, result, render_markdown(result))


if __name__ == "__main__":
    main()
