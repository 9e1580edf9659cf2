"""Chapter 2, Fig. 4 (right): does longer MS-SSIM fine-tuning, or MS-SSIM training from scratch, move the ratio
towards the paper's?

The committed run of ``benchmarks/ch2_factorized.py`` fine-tunes each MS-SSIM model from its MSE model for
1,500 steps, and its ratio ``P_MS-SSIM / P_MSE`` stays above 1 along the whole contrast axis (minimum 1.32,
paper 0.64), mostly because the MS-SSIM models leave an error of the channel means
(``benchmarks/ch2_factorized_mean_error.py``). The paper's pretrained models trained for about a million steps.
This script continues that fine-tuning further and measures the ratio, its two factors and the means' share
of the error at kept checkpoints, to show which way they move with training.

It trains no MSE model: it loads the committed run's MSE models from the cache (the settings tag of
``benchmarks/results/ch2_factorized.json``), puts the patch stream where that run's MS-SSIM fine-tuning began
(after the MSE model's ``steps`` batches), and fine-tunes with the same code and settings
(:func:`~perceptual_compression.experiments.ch2_images.train_factorized`) for ``--steps`` steps, keeping the
checkpoint every ``--keep-every`` steps; a rerun with a larger ``--steps`` continues from the cached
checkpoint (the learning rate is constant and every stream is restored, so the weights are those of one
uninterrupted run). The checkpoint at the committed run's own length is compared with
the committed MS-SSIM model, parameter by parameter: the two are the same run up to there.

With ``--start scratch`` the MS-SSIM models are trained from scratch rather than fine-tuned (the paper's
MS-SSIM models are separate pretrained models): same code, settings, seed, initial weights and patch stream
as the MSE model they are compared with (its own batches, from the first), so that the distortion is the only
difference between the two models of a pair at equal steps.

Each kept model codes the same Kodak crops as the committed run's Fig. 4 (right) beside the same MSE model
(:func:`~perceptual_compression.experiments.ch2_images.contrast_performance`), and all of Kodak; on the same
crops, :func:`~perceptual_compression.experiments.ch2_images.msssim_channels` records each colour channel's
MS-SSIM and means, which show a channel lost to MS-SSIM's sign symmetry (reconstructed upside down), as
training from scratch can leave one.

Usage::

    python benchmarks/ch2_factorized.py --threads 1 --jobs 2                        # first: the MSE models
    python benchmarks/ch2_factorized_longer.py --threads 1 --jobs 2                 # the committed run
    python benchmarks/ch2_factorized_longer.py --render benchmarks/results/ch2_factorized_longer.json
    python benchmarks/ch2_factorized_longer.py --start scratch --steps 3000 --threads 1 --jobs 2 \
        --out benchmarks/results/ch2_factorized_scratch                        # the committed from-scratch run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from perceptual_compression.datasets import PatchDataset, embedded_images, natural_images
from perceptual_compression.experiments import ch2_images as img
from perceptual_compression.experiments.ch2_config import FactorizedConfig
from perceptual_compression.models.factorized_prior import factorized_prior
from perceptual_compression.paths import cache_dir
from perceptual_compression.training import kept_checkpoint_path
from ch2_factorized import _load as load_model, config_of, patch_seed  # benchmarks/ch2_factorized.py
from run_record import RunRecord, add_run_arguments, rendered_from_record  # benchmarks/run_record.py

ROOT = Path(__file__).resolve().parent
TABLE_ALPHAS = (0.02, 0.1, 0.5, 1.0, 2.0)  # the contrasts of the summary's columns


def stream_after_mse(cfg: FactorizedConfig, rate: int, seed: int) -> PatchDataset:
    """The committed run's patch stream of quality index ``rate`` where its MS-SSIM fine-tuning began: after
    the ``cfg.steps`` batches of the MSE model's training (``ch2_factorized.py``'s ``train_rate``)."""
    patches = PatchDataset(embedded_images(), size=cfg.patch_size, flip=True, seed=patch_seed(seed, rate))
    for _ in range(cfg.steps):
        patches.batch(cfg.batch_size)
    return patches


STARTS = ("mse", "scratch")  # --start: fine-tune the committed MSE model, or train from scratch


def training_stream(cfg: FactorizedConfig, rate: int, seed: int, start: str) -> PatchDataset:
    """The patch stream the MS-SSIM model of ``rate`` trains on: where the committed fine-tuning began
    (``start="mse"``), or the MSE model's own stream from its first batch (``start="scratch"``)."""
    if start not in STARTS:
        raise ValueError(f"start={start!r} is not valid; valid values are: {', '.join(map(repr, STARTS))}")
    if start == "mse":
        return stream_after_mse(cfg, rate, seed)
    return PatchDataset(embedded_images(), size=cfg.patch_size, flip=True, seed=patch_seed(seed, rate))


def fine_tune(cfg: FactorizedConfig, rate: int, seed: int, threads: int | None, mse_path: Path, ckpt: Path,
              steps: int, keep_every: int, start: str = "mse") -> tuple[float, int | None, float | None]:
    """Train the MS-SSIM model of ``rate`` for ``steps`` steps, fine-tuned from the MSE model at ``mse_path``
    (``start="mse"``) or from scratch on the MSE model's own batches (``"scratch"``), keeping the checkpoint
    every ``keep_every`` steps; returns this call's wall time, the step it resumed at from ``ckpt`` (None:
    trained from the start) and the run's training time over every invocation that trained it (None: unknown,
    a checkpoint older than the Trainer's ``train_seconds``) (a worker of ``--jobs``)."""
    if threads:
        torch.set_num_threads(threads)
    stream = training_stream(cfg, rate, seed, start)
    t0 = time.perf_counter()
    model = img.train_factorized(cfg, "ms-ssim", cfg.lambdas_msssim[rate], rate, stream, seed=seed, progress=True,
                                 steps=steps, checkpoint_path=ckpt, keep_every=keep_every,
                                 init_from=load_model(cfg, mse_path) if start == "mse" else None)
    total = None if model.train_seconds is None else round(model.train_seconds, 1)
    return round(time.perf_counter() - t0, 1), model.resumed_from, total


def load_kept(cfg: FactorizedConfig, path: Path):
    """The model of a kept training checkpoint, in evaluation mode with its entropy tables built."""
    model = factorized_prior(cfg.n_low, cfg.m_low)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=False)["modules"]["model"])
    model.eval()
    model.update(force=True)
    return model


def parameter_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """Largest absolute difference between the two models' parameters (0.0: the same weights)."""
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    if pa.keys() != pb.keys() or any(pa[k].shape != pb[k].shape for k in pa):
        raise ValueError("the two models have different parameters")
    return max(float((pa[k] - pb[k]).detach().abs().max()) for k in pa)


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (as the records cite each other), else as given."""
    try:
        return path.resolve().relative_to(ROOT.parent).as_posix()
    except ValueError:
        return str(path)


def render_markdown(result: dict) -> str:
    rows = img.fine_tuning_rows(result, at=TABLE_ALPHAS)
    ratio_cols = [c for c in rows[0] if c.startswith("ratio α")]
    scratch = result.get("start", "mse") == "scratch"
    how = (f"MS-SSIM models trained from scratch for {result['steps']:,} steps (the MSE models' {result['mse_steps']:,}; "
           "same code, settings, seed, initial weights and batches as the MSE model of the pair, so that the "
           "distortion is the only difference between the two" if scratch else
           f"MS-SSIM models fine-tuned for {result['steps']:,} steps instead of {result['committed_steps']:,} "
           "(same code, settings, seed and patch stream")
    lines = [f"# Chapter 2: {result['what']}", "", "<!-- results -->", "",
             f"The MSE models of `{result['source_record']}` (settings tag {result['settings_tag']}) with "
             f"{'' if scratch else 'their '}{how}; checkpoints kept every {result['keep_every']:,} steps). "
             f"Each kept MS-SSIM model codes the committed run's {result['contrast_images']} Kodak centre "
             f"{result['contrast_size']}² crops beside the same MSE model at {len(result['alpha'])} contrasts "
             f"({', '.join(f'{a:g}' for a in result['alpha'])}), and {result['kodak']} whole. "
             "Ratio = P_MS-SSIM / P_MSE with P = MSE / bpp (paper: minimum 0.64 at α = 0.08); D factor = MSE / MSE "
             "and R factor = bpp / bpp (geometric means over the crops); means' share = the share of the MS-SSIM "
             "model's MSE that is an error of the channel means."
             + (" Lost channels: colour channels reconstructed at a negative mean or scoring MS-SSIM 0 on most crops, "
                "which MS-SSIM training cannot bring back (`lost_channels`)." if "channels" in next(iter(result["pairs"].values()))["kept"][0]
                else ""), ""]
    share = ("means' share α = 0.02", "means' share α = 0.1")
    lost_col = "lost channels" in rows[0]  # recorded since the from-scratch run
    for pair, p in result["pairs"].items():
        mk = p["mse_kodak"]
        same = ("" if scratch else f" The step-{result['committed_steps']:,} checkpoint against the committed "
                f"MS-SSIM model: largest parameter difference {p['committed_max_difference']:.3g}.")
        lines += [f"**{pair}**: MSE model on Kodak {mk['bpp']:.3f} bpp, PSNR {mk['psnr']:.2f} dB, MS-SSIM "
                  f"{mk['ms_ssim']:.4f}.{same}", "",
                  "| steps | Kodak bpp | PSNR | MS-SSIM | " + " | ".join(ratio_cols)
                  + " | min ratio (α) | D factor α = 0.1 | R factor α = 0.1 | means' share α = 0.02 / 0.1 |"
                  + (" lost channels |" if lost_col else ""),
                  "|---:|---:|---:|---:|" + "---:|" * len(ratio_cols) + "---:|---:|---:|---:|" + ("---|" if lost_col else "")]
        for r in (r for r in rows if r["pair"] == pair):
            lines.append(f"| {r['steps']:,} | {r['Kodak bpp']:.3f} | {r['Kodak PSNR']:.2f} | {r['Kodak MS-SSIM']:.4f} | "
                         + " | ".join(f"{r[c]:.3f}" for c in ratio_cols)
                         + f" | {r['min ratio']:.3f} ({r['α of min']:g}) | {r['D factor α = 0.1']:.3f} | "
                         f"{r['R factor α = 0.1']:.3f} | {r[share[0]]:.2f} / {r[share[1]]:.2f} |"
                         + (f" {r['lost channels'] or '–'} |" if lost_col else ""))
        lines.append("")
    resumed, total = result.get("resumed_from", {}), result.get("train_s_total", {})
    notes = {r: RunRecord.resumed_note(resumed.get(r), total.get(r)) for r in result["train_s"]}
    train = ", ".join(f"{r} {t / 60:.0f} min" + (f" ({notes[r]})" if notes[r] else "") for r, t in result["train_s"].items())
    lines += [*RunRecord.footer(result, wall_detail=f"training {train}, {result['jobs']} parallel job(s)")]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--record", type=Path, default=ROOT / "results" / "ch2_factorized.json",
                    help="the ch2_factorized.py record whose MSE models are fine-tuned further")
    ap.add_argument("--start", choices=STARTS, default="mse",
                    help="mse: fine-tune the committed MSE models; scratch: train the MS-SSIM models from scratch")
    ap.add_argument("--steps", type=int, default=4500,
                    help="MS-SSIM training steps (the committed fine-tuning: 1500; its MSE models: 3000)")
    ap.add_argument("--keep-every", type=int, default=1500, help="steps between the measured checkpoints")
    ap.add_argument("--alphas", default="0.02,0.05,0.1,0.2,0.3,0.5,0.75,1,1.5,2",
                    help="contrasts (comma-separated, in [0, 2]; on the record's grid to compare with it)")
    ap.add_argument("--jobs", type=int, default=1, help="rates fine-tuned in parallel processes")
    add_run_arguments(ap, ROOT / "results" / "ch2_factorized_longer", render=True)
    args = ap.parse_args()
    if rendered_from_record(args, render_markdown):
        return
    rec = json.loads(args.record.read_text())
    cfg = config_of(rec)
    scratch = args.start == "scratch"
    if args.steps % args.keep_every or (not scratch and args.steps < cfg.msssim_steps):
        raise SystemExit(f"--steps ({args.steps}) must be a multiple of --keep-every ({args.keep_every})"
                         + ("" if scratch else f" and at least the committed run's {cfg.msssim_steps}"))
    if not scratch and cfg.msssim_steps % args.keep_every:
        raise SystemExit(f"--keep-every ({args.keep_every}) must divide the committed run's {cfg.msssim_steps} steps, "
                         "so that its model is among the kept checkpoints")
    run = RunRecord(args, "ch2_factorized_longer.py")
    t0, c0 = time.perf_counter(), time.process_time()
    src = cache_dir() / "benchmarks" / "ch2_factorized"
    cache = cache_dir() / "benchmarks" / "ch2_factorized_longer"
    cache.mkdir(parents=True, exist_ok=True)
    rates, tag, seed = rec["rates"], rec["settings_tag"], rec["seed"]
    paths = {r: {d: src / f"{tag}_q{r + 1}_{d}.pt" for d in ("mse", "ms-ssim")} for r in rates}
    for r in rates:
        for p in paths[r].values():
            if not p.exists():
                raise SystemExit(f"{p} is not in the cache: make the committed run's models first with `{rec['command']}`")
    # one training checkpoint per pair and start, whatever --steps: a rerun with more steps continues the run
    # (constant learning rate, every stream restored: the same weights as one uninterrupted run)
    ckpts = {r: cache / f"{tag}_q{r + 1}_ms-ssim_{args.start}.pt" for r in rates}
    jobs = [(cfg, r, seed, args.threads, paths[r]["mse"], ckpts[r], args.steps, args.keep_every, args.start)
            for r in rates]
    if args.jobs > 1 and len(rates) > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            times = list(pool.map(fine_tune, *zip(*jobs)))
    else:
        times = [fine_tune(*j) for j in jobs]

    alphas = [float(a) for a in args.alphas.split(",")]
    crops = list(img.center_crops(natural_images(), rec["contrast_images"], rec["contrast_size"]))
    kodak_set = natural_images()
    kodak = list(img.center_crops(kodak_set, len(kodak_set), None))
    pairs, tag_id = {}, "fps" if scratch else "fpl"
    for r in rates:
        diff = None  # the step-committed checkpoint against the committed model (fine-tuning only)
        mse_model = load_model(cfg, paths[r]["mse"])
        committed = load_model(cfg, paths[r]["ms-ssim"])
        kept = []
        for step in range(args.keep_every, args.steps + 1, args.keep_every):
            model = load_kept(cfg, kept_checkpoint_path(ckpts[r], step))
            res = img.contrast_performance([(model, mse_model)], crops, alphas, codec_prefix=f"ch2-{tag_id}-q{r + 1}-{step}")
            me = img.contrast_mean_error(model, crops, [0.02, 0.1], codec_id=f"ch2-{tag_id}-mean-q{r + 1}-{step}")
            row = {"step": step, "kodak": img.evaluate_codec(model, kodak, f"ch2-{tag_id}-q{r + 1}-{step}"),
                   **{k: res[k][0].tolist() for k in ("ratio", "distortion_ratio", "rate_ratio", "bpp_perceptual",
                                                      "mse_perceptual")},
                   "mse_model_bpp": res["bpp_mse"][0].tolist(), "mse_model_mse": res["mse_mse"][0].tolist(),
                   "mean_share": me["mean_share"].tolist(),
                   "channels": {k: (v.tolist() if hasattr(v, "tolist") else v)
                                for k, v in img.msssim_channels(model, crops).items()}}
            if not scratch and step == cfg.msssim_steps:
                diff = parameter_difference(model, committed)
            kept.append(row)
            print(f"q{r + 1} step {step}: ratio {np.round(row['ratio'], 3).tolist()}", flush=True)
        pairs[f"q{r + 1}"] = {"committed_max_difference": diff, "kept": kept,
                              "mse_kodak": img.evaluate_codec(mse_model, kodak, f"ch2-fpl-mse-q{r + 1}")}
    result = {
        "what": "Fig. 4 (right) of Hepburn et al. (2022): the factorized pairs with "
                + ("MS-SSIM models trained from scratch" if scratch else "longer MS-SSIM fine-tuning"),
        "command": run.command, "start": args.start, "mse_steps": cfg.steps, "source_record": _shown(args.record),
        "settings_tag": tag,
        "source_date": rec["date"], "config": dataclasses.asdict(cfg), "seed": seed, "rates": rates,
        "committed_steps": cfg.msssim_steps, "steps": args.steps, "keep_every": args.keep_every, "jobs": args.jobs,
        "contrast_images": rec["contrast_images"], "contrast_size": rec["contrast_size"], "kodak_images": len(kodak),
        "kodak": kodak_set.label,
        "alpha": alphas, "pairs": pairs, "train_s": {f"q{r + 1}": t for r, (t, _, _) in zip(rates, times)},
        "resumed_from": {f"q{r + 1}": k for r, (_, k, _) in zip(rates, times)},
        "train_s_total": {f"q{r + 1}": total for r, (_, _, total) in zip(rates, times)},
        "wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(time.process_time() - c0, 1), **run.environment(measured_on="cpu"),
    }
    RunRecord.save(args.out, result, render_markdown(result))


if __name__ == "__main__":
    main()
