"""Chapter 2, the factorized-prior models beyond the book's build: Observation 5 (Fig. 3) and Fig. 4 (right).

Hepburn et al. (2022) use pretrained factorized-prior models (Balle et al. 2018; appendix D: N = 128,
M = 192 at the five lower rates) trained with MSE and with 1 - MS-SSIM, and measure

- Observation 5 (Fig. 3): the Spearman correlation of the induced distances ``D_r = ||f(x1) - f(x2)||`` and
  ``D_in = ||e(x1) - e(x2)||`` with human opinion (TID2013 MOS), beside RMSE's; the maximum for ``D_in`` is 0.77;
- Fig. 4 (right): ``P_MS-SSIM / P_MSE`` with ``P = MSE / bpp`` along the contrast axis of eq. 14, lowest
  (0.64) at low contrast, ``alpha = 0.08``.

The chapter's build trains tiny models (N = 32, 120 steps). This script trains the pairs at appendix D's
lower-rate widths (``--n``, ``--m``: N = 128, M = 192) at every rate it trains, including rates that appendix D
gives N = 192, M = 320 (the three highest; the committed run's quality 6 is one), with the chapter's own code (:func:`~perceptual_compression.experiments.ch2_images.train_factorized`,
:func:`~perceptual_compression.experiments.ch2_images.observation5`,
:func:`~perceptual_compression.experiments.ch2_images.contrast_performance`), codes Kodak for real, and
writes ``benchmarks/results/ch2_factorized.{json,md}`` (``--out`` to change). One process per rate
(``--jobs``): the MSE model, then the MS-SSIM model fine-tuned from it (as the build does). Finished
models are kept in ``data/cache/benchmarks/ch2_factorized/`` and a rerun with the same settings reuses them.

TID2013 is looked up through the asset registry; where it does not resolve (as here), Observation 5 is
measured against NLPD and 1 - MS-SSIM on synthetically distorted Kodak crops, labelled as a stand-in for
human scores, exactly as the chapter does.

Usage::

    python benchmarks/ch2_factorized.py --threads 1 --jobs 2                     # the committed run
    python benchmarks/ch2_factorized.py --steps 5 --msssim-steps 5 --n 16 --m 16 --eval-images 2 \\
        --obs5-references 1 --contrast-images 1 --n-alpha 3 --out /tmp/fp      # smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from perceptual_compression.training.tags import settings_hash
from perceptual_compression.assets import AssetUnavailableError
from perceptual_compression.datasets import PatchDataset, embedded_images, natural_images
from perceptual_compression.datasets.distortions import distorted_set
from perceptual_compression.experiments import ch2_images as img
from perceptual_compression.experiments.ch2_config import FactorizedConfig
from perceptual_compression.metrics import ms_ssim, nlpd
from perceptual_compression.models.factorized_prior import factorized_prior
from perceptual_compression.paths import cache_dir
from run_record import RunRecord, add_run_arguments  # benchmarks/run_record.py

ROOT = Path(__file__).resolve().parent
PAPER = FactorizedConfig()
# the factors of the Fig. 4 (right) ratio and the raw values behind them, per pair and alpha
CONTRAST_PARTS = ("distortion_ratio", "rate_ratio", "bpp_perceptual", "bpp_mse", "mse_perceptual", "mse_mse")
SPLIT_ALPHAS = (0.02, 0.1, 0.5, 1.0, 2.0)  # where the markdown summary splits the ratio into its factors


def patch_seed(seed: int, rate: int) -> int:
    """The seed of the patch stream of quality index ``rate`` in run ``seed``: ``rate`` itself for seed 0 (the
    committed runs' streams), and no two (seed, rate) pairs share one (``seed + rate`` gave seed 1 at rate 0 the
    batches of seed 0 at rate 1)."""
    return seed * 1_000_003 + rate


def train_rate(cfg: FactorizedConfig, rate: int, seed: int, threads: int | None, paths: dict[str, Path]) -> dict:
    """The MSE model of CompressAI's quality index ``rate``, then the MS-SSIM model fine-tuned from it; each
    saved at ``paths[dist]`` (skipped when already there). Returns this invocation's training seconds per
    distortion (None: the model was already saved); the saved file holds the model's training time in all."""
    if threads:
        torch.set_num_threads(threads)
    patches = PatchDataset(embedded_images(), size=cfg.patch_size, flip=True, seed=patch_seed(seed, rate))
    times = {}
    mse_model = None
    for dist, lmbda, steps in (("mse", cfg.lambdas_mse[rate], cfg.steps),
                               ("ms-ssim", cfg.lambdas_msssim[rate], cfg.msssim_steps)):
        if paths[dist].exists():
            times[dist] = None
            if dist == "mse" and not paths["ms-ssim"].exists():
                # the MS-SSIM model goes on with the patch stream where the MSE model's training left it, as
                # in a run that trained both in one go
                mse_model = _load(cfg, paths[dist])
                _continue_stream(patches, paths[dist])
            continue
        t0 = time.perf_counter()
        ckpt = paths[dist].with_suffix(".ckpt")
        model = img.train_factorized(cfg, dist, lmbda, rate, patches, seed=seed, progress=True, steps=steps,
                                     checkpoint_path=ckpt, init_from=mse_model if dist == "ms-ssim" else None)
        torch.save({"state_dict": model.state_dict(), "final_loss": model.history.last("loss", 50),
                    "final_bpp": model.history.last("bpp", 50), "patch_stream": patches.state_dict(),
                    # a model whose training continued an interrupted invocation's checkpoint: where, and its
                    # training time over every invocation (the record gives both)
                    "resumed_from": model.resumed_from, "train_seconds": model.train_seconds}, paths[dist])
        ckpt.unlink(missing_ok=True)
        times[dist] = round(time.perf_counter() - t0, 1)
        if dist == "mse":
            mse_model = model
    return times


def _continue_stream(patches: PatchDataset, path: Path) -> None:
    """Set ``patches``' batch stream to where it stood when the model at ``path`` was saved."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    if "patch_stream" in saved:
        patches.load_state_dict(saved["patch_stream"])
    else:
        warnings.warn(f"{path} holds no patch-stream state (saved before it was recorded): the MS-SSIM model "
                      "fine-tuned from it sees the stream from its start, not the batches that follow the MSE "
                      "model's, so it differs from a run that trains both in one go", RuntimeWarning, stacklevel=2)


def config_of(record: dict) -> FactorizedConfig:
    """The :class:`FactorizedConfig` of a record written by this script (its lists back to tuples)."""
    return FactorizedConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in record["config"].items()})


def _load(cfg: FactorizedConfig, path: Path):
    model = factorized_prior(cfg.n_low, cfg.m_low)
    model.load_state_dict(torch.load(path, map_location="cpu")["state_dict"])
    model.eval()
    model.update(force=True)
    return model


def _train_time(result: dict, name: str) -> str:
    """A model's train-time cell: this invocation's minutes, where it resumed and its minutes in all where the
    record knows them, or, for a model an earlier invocation saved, that invocation's minutes."""
    t = result["train_s"].get(name)
    total = result.get("train_s_total", {}).get(name)
    resumed = result.get("resumed_from", {}).get(name)
    if t is None:
        return "" if total is None else f"{total / 60:.1f} min (an earlier invocation)"
    note = RunRecord.resumed_note(resumed, total)
    return f"{t / 60:.1f} min" + (f" ({note})" if note else "")


def render_markdown(result: dict) -> str:
    """The run's markdown summary, from its JSON record alone."""
    cfg, sm = result["config"], result["summary"]
    table = ["| model | λ | real bpp | PSNR (dB) | MS-SSIM | NLPD | final training loss | train time |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in result["kodak"].items():
        table.append(f"| {name} | {row['lambda']:g} | {row['bpp']:.3f} | {row['psnr']:.2f} | {row['ms_ssim']:.4f} | "
                     f"{row['nlpd']:.3f} | {row['final_loss']:.4g} | {_train_time(result, name)} |")
    obs = []
    for ref, rows in result["obs5"].items():
        cells = ", ".join(f"{r['model']} D_r {r['rho_Dr']:.3f}" + ("" if r["model"] == "RMSE" else f" / D_in {r['rho_Din']:.3f}")
                          for r in rows)
        obs.append(f"- against {ref}: {cells}.")
    c = result["contrast"]
    md = [f"# Chapter 2: {result['what']}", "", "<!-- results -->", "",
          f"Factorized-prior models (Ballé et al. 2018), N = {cfg['n_low']}, M = {cfg['m_low']} at every rate (appendix "
          f"D's widths at the lower rates; it gives the three highest N = 192, M = 320), CompressAI's λ of qualities {', '.join(str(q + 1) for q in result['rates'])}: "
          f"**{cfg['steps']} steps** with 255²·MSE, then the 1 − MS-SSIM model fine-tuned from it for "
          f"**{cfg['msssim_steps']} steps**; batches of {cfg['batch_size']} × {cfg['patch_size']}² crops of "
          f"{result['train_data']}, Adam lr {cfg['lr']:g}, seed {result['seed']}. The paper used pretrained "
          "tensorflow-compression models (trained for about a million steps on 256² crops). Evaluated on "
          f"{result['eval']}; real bits from the coded bytes (header included):", "", "\n".join(table), "",
          f"**Observation 5 (Fig. 3)** on {result['obs5_data']}; Spearman ρ, signed so that agreement is positive "
          "(paper, against TID2013 MOS: D_in up to 0.77, both induced distances above RMSE):",
          *obs, "",
          "Max ρ(D_in) per reference: " + ", ".join(f"{k} {v['max_rho_Din']:.3f} (RMSE {v['rho_rmse']:.3f}; "
                                                      f"max ρ(D_r) {v['max_rho_Dr']:.3f})" for k, v in sm["obs5"].items())
          + ".", "",
          f"**Fig. 4 (right)**: P_MS-SSIM / P_MSE (P = MSE / real bpp), mean over the {len(result['rates'])} pairs and "
          f"{result['contrast_images']} Kodak crops, at {len(c['alpha'])} contrasts α in [{min(c['alpha']):g}, "
          f"{max(c['alpha']):g}]: minimum **{sm['contrast_min']:.3f} at α = {sm['contrast_min_alpha']:.2f}** "
          f"(paper: 0.64 at α = 0.08); mean below α = 0.5 {sm['contrast_low_mean']:.3f}, above α = 1.5 "
          f"{sm['contrast_high_mean']:.3f} (the paper's shape: lower at low contrast).", "",
          *contrast_split_table(result),
          *RunRecord.footer(result, wall_detail=f"{result['jobs']} parallel job(s)", cpu_detail="in the main process")]
    return "\n".join(md)


def contrast_split_table(result: dict) -> list[str]:
    """Markdown: the ratio at a few contrasts split into its distortion and rate factors, per pair."""
    c = result["contrast"]
    if "rate_ratio" not in c:
        return []
    rows = img.contrast_factors(c, SPLIT_ALPHAS)
    cols = [k for k in rows[0] if k.startswith("α")]
    lines = ["The ratio split into its factors (geometric means over the crops; per crop, ratio = D factor / R factor): "
             "D factor = MSE of the MS-SSIM model / MSE of the MSE model, R factor = its bpp / bpp; beside them each "
             "model's bpp (mean over the crops):", "",
             "| pair | quantity | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    for row in rows:
        lines.append(f"| q{result['rates'][row['pair']] + 1} | {row['quantity']} | "
                     + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    return [*lines, ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=PAPER.n_low, help="N at every rate (appendix D: 128 at the lower rates, 192 above)")
    ap.add_argument("--m", type=int, default=PAPER.m_low, help="M at every rate (appendix D: 192 at the lower rates, 320 above)")
    ap.add_argument("--rates", default="2,5", help="CompressAI quality indices (0-based) of the pairs")
    ap.add_argument("--steps", type=int, default=3000, help="steps of the MSE models")
    ap.add_argument("--msssim-steps", type=int, default=1500, help="steps of the MS-SSIM fine-tuning")
    ap.add_argument("--patch-size", type=int, default=96, help="training crop side (Balle et al.: 256)")
    ap.add_argument("--batch-size", type=int, default=PAPER.batch_size)
    ap.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate (CompressAI's default: 1e-4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="rates trained in parallel processes")
    ap.add_argument("--eval-images", type=int, default=24, help="Kodak images coded whole (24: all)")
    ap.add_argument("--obs5-references", type=int, default=6, help="Kodak crops distorted for the stand-in")
    ap.add_argument("--obs5-size", type=int, default=256)
    ap.add_argument("--contrast-images", type=int, default=8)
    ap.add_argument("--contrast-size", type=int, default=256)
    ap.add_argument("--n-alpha", type=int, default=41, help="contrast values in [0, 2], alpha = 0 moved to 0.02 (paper: 200)")
    add_run_arguments(ap, ROOT / "results" / "ch2_factorized")
    args = ap.parse_args()
    run = RunRecord(args, "ch2_factorized.py")
    rates = [int(v) for v in args.rates.split(",")]
    cfg = dataclasses.replace(PAPER, n_low=args.n, m_low=args.m, n_high=args.n, m_high=args.m,
                              n_low_rates=len(PAPER.lambdas_mse), patch_size=args.patch_size,
                              batch_size=args.batch_size, steps=args.steps, lr=args.lr, msssim_from_mse=True,
                              msssim_steps=args.msssim_steps, checkpoint_every=250, log_every=25)
    settings = {k: getattr(cfg, k) for k in ("n_low", "m_low", "patch_size", "batch_size", "steps", "lr",
                                             "msssim_steps")} | {"seed": args.seed}
    tag = settings_hash(settings)
    cache = cache_dir() / "benchmarks" / "ch2_factorized"
    cache.mkdir(parents=True, exist_ok=True)
    t_start, c_start = time.perf_counter(), time.process_time()

    paths = {r: {d: cache / f"{tag}_q{r + 1}_{d}.pt" for d in ("mse", "ms-ssim")} for r in rates}
    jobs = [(cfg, r, args.seed, args.threads, paths[r]) for r in rates]
    if args.jobs > 1 and len(rates) > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            times = list(pool.map(train_rate, *zip(*jobs)))
    else:
        times = [train_rate(*j) for j in jobs]
    models, train_s, final, total, resumed = {}, {}, {}, {}, {}
    for r, t in zip(rates, times):
        for d in ("mse", "ms-ssim"):
            name = f"{d}-q{r + 1}"
            models[name] = _load(cfg, paths[r][d])
            saved = torch.load(paths[r][d], map_location="cpu")
            final[name] = float(saved["final_loss"])
            train_s[name] = t[d]
            total[name] = None if saved.get("train_seconds") is None else round(saved["train_seconds"], 1)
            resumed[name] = saved.get("resumed_from")

    torch.manual_seed(args.seed)
    kodak = natural_images()
    images = img.center_crops(kodak, args.eval_images, None)
    kodak_rows = {}
    for name, model in models.items():
        d, r = name.rsplit("-q", 1)
        lam = (cfg.lambdas_mse if d == "mse" else cfg.lambdas_msssim)[int(r) - 1]
        kodak_rows[name] = {"lambda": lam, **img.evaluate_codec(model, list(images), f"ch2-fp-{name}"),
                            "final_loss": final[name]}
        print(name, kodak_rows[name], flush=True)

    try:
        from perceptual_compression.datasets.tid2013 import tid2013

        tid = tid2013()
        refs = [tid.reference(i) for i in range(25)]
        pairs = [(e.reference, tid.image(e)) for e in tid.entries]
        references = {"TID2013 MOS": [-e.mos for e in tid.entries]}
        obs5_data, obs5_stand_in = tid.label, False
    except AssetUnavailableError as exc:
        refs = img.center_crops(kodak, args.obs5_references, args.obs5_size)
        refs = list(refs) if isinstance(refs, torch.Tensor) else refs
        pairs = [(p.reference, p.image) for p in distorted_set(refs, seed=args.seed)]
        with torch.no_grad():
            references = {"NLPD": [float(nlpd(refs[i][None], x[None])) for i, x in pairs],
                          "1 − MS-SSIM": [float(1 - ms_ssim(refs[i][None], x[None], levels="auto")) for i, x in pairs]}
        obs5_data = (f"a STAND-IN for human scores (TID2013 unavailable: {str(exc).split('.')[0]}): "
                     f"{len(refs)} Kodak centre {args.obs5_size}² crops × {len(pairs) // len(refs)} synthetic "
                     "distortions (8 TID2013-like types × 5 levels), scored by NLPD and by 1 − MS-SSIM")
        obs5_stand_in = True  # said by the branch taken: the stand-in's own description names TID2013
    obs5 = img.observation5(models, refs, pairs, references)

    alphas = np.linspace(0.0, 2.0, args.n_alpha)
    alphas[0] = 0.02  # alpha = 0 is a flat image: P = 0 / 0 for both models
    crops = img.center_crops(kodak, args.contrast_images, args.contrast_size)
    model_pairs = [(models[f"ms-ssim-q{r + 1}"], models[f"mse-q{r + 1}"]) for r in rates]
    contrast = img.contrast_performance(model_pairs, list(crops), alphas)
    cs = img.contrast_summary(contrast)  # the minimum, and the mean ratio below alpha = 0.5 and above 1.5
    summary = {
        "obs5": {ref: {"max_rho_Din": max(r["rho_Din"] for r in rows if r["model"] != "RMSE"),
                       "max_rho_Dr": max(r["rho_Dr"] for r in rows if r["model"] != "RMSE"),
                       "rho_rmse": next(r["rho_Dr"] for r in rows if r["model"] == "RMSE")} for ref, rows in obs5.items()},
        "contrast_min": cs["min"], "contrast_min_alpha": cs["alpha"],
        "contrast_low_mean": cs["low_mean"], "contrast_high_mean": cs["high_mean"],
    }
    result = {
        "what": "Factorized-prior models at appendix D's lower-rate widths: Observation 5 (Fig. 3) and Fig. 4 (right) "
                "(Hepburn et al. 2022), longer and wider than the book's build",
        "command": run.command, "config": dataclasses.asdict(cfg), "settings_tag": tag, "seed": args.seed,
        "rates": rates, "jobs": args.jobs, "train_data": embedded_images().label,
        "eval": f"{args.eval_images} whole images of {kodak.label}", "eval_fallback": bool(kodak.is_fallback),
        "kodak": kodak_rows, "train_s": train_s, "train_s_total": total, "resumed_from": resumed, "obs5_data": obs5_data, "obs5_stand_in": obs5_stand_in,
        "obs5": obs5, "contrast_images": args.contrast_images, "contrast_size": args.contrast_size,
        "contrast": {"alpha": alphas.tolist(), "ratio": contrast["ratio"].tolist(), "mean": contrast["mean"].tolist(),
                     **{k: contrast[k].tolist() for k in CONTRAST_PARTS}},
        "summary": summary, "wall_s": round(time.perf_counter() - t_start, 1),
        "cpu_s": round(time.process_time() - c_start, 1), **run.environment(measured_on="cpu"),
    }
    RunRecord.save(args.out, result, render_markdown(result))


if __name__ == "__main__":
    main()
