"""Chapter 4, part 2 beyond the book's build: a longer λ_d sweep (Fig. 1 / A2) and the ablations (Tables 1–2).

The chapter's default build fine-tunes each decoder for 80 steps, too few for a discriminator to learn
anything (the build says so). This script runs the same pipeline for longer, once, and writes the result
for the chapter to show:

1. the small No-GAN model of part 1 (same settings and seed as the chapter; cached, resumable, under a name
   that holds ``IllmConfig.tag()`` and the distortion's label, as the labelers' hold theirs);
2. the small VQ-VAE labeler (``--labeler-steps``, default 1500);
3. decoder fine-tuning without adversarial term, and with the ILLM and PatchGAN discriminators at each λ_d
   of ``--lambdas`` (``--steps`` each, default 800; the small scale's learning rates, or the paper's A.3
   ones with ``--paper-lr``: the same since the small scale adopted them);
4. with ``--ablations``: Table 1 (U-Net with instance / spectral normalization) and Table 2 (labelers of
   16² or 32² labels × 256 or 1024 codes) at the first λ_d.

Every run is evaluated on the first ``--images`` Kodak images (PSNR, MS-SSIM, the sliced Wasserstein distance,
and FID/KID when the Inception weights resolve). Rows are saved as they finish, so an interrupted run resumes
where it stopped (the rows so far are kept in the cache). Writes ``benchmarks/results/illm_sweep.{json,md}`` (``--out`` to change).

Usage::

    python benchmarks/illm_sweep.py --threads 1 --paper-lr                 # the committed sweep
    python benchmarks/illm_sweep.py --threads 1 --paper-lr --ablations --out benchmarks/results/illm_ablations
    python benchmarks/illm_sweep.py --threads 1 --paper-lr --kinds illm --illm-d-lr 2e-3 --out benchmarks/results/illm_sweep_dlr
    python benchmarks/illm_sweep.py --steps 5 --labeler-steps 5 --images 2 --out /tmp/sweep   # a smoke run
    python benchmarks/illm_sweep.py --render benchmarks/results/illm_sweep_dlr.json  # rewrite its .md from the record
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import time
from pathlib import Path

import pandas as pd

from perceptual_compression.training.tags import settings_hash
from perceptual_compression.datasets import embedded_images, natural_images
from perceptual_compression.losses.distortion import IllmDistortion
from perceptual_compression.models.hific import msillm_autoencoder
from perceptual_compression.models.vqvae_labeler import codebook_usage
from perceptual_compression.paths import cache_dir
from perceptual_compression.training import seed_everything
from perceptual_compression.training.illm import IllmConfig, pretrain
from perceptual_compression.training.illm_finetune import (FinetuneConfig, distortion_and_fidelity, finetune,
                                                           reconstruct)
from perceptual_compression.training.labeler import LabelerDistortion, LabelerTrainingConfig, train_labeler
from run_record import RunRecord, add_run_arguments, rendered_from_record  # benchmarks/run_record.py

ROOT = Path(__file__).resolve().parent


def nogan_checkpoint(cache: Path, rate: float, seed: int, config: IllmConfig, distortion: IllmDistortion) -> Path:
    """The cached No-GAN model's file: named after ``config.tag()`` with the distortion's label (LPIPS or its
    offline fallback), so that other settings, or LPIPS weights that appear later, never reuse it."""
    return cache / f"nogan_small_{rate}_s{seed}_{config.tag(distortion.label)}.pt"


def labeler_checkpoint(cache: Path, config: LabelerTrainingConfig, distortion: LabelerDistortion, seed: int) -> Path:
    """A cached labeler's file (labeler version 2), named after ``config.tag()`` with the distortion's label."""
    lab = config.labeler
    return cache / (f"labeler_v2_{lab.spatial}_{lab.codebook_size}_{config.steps}_s{seed}_"
                    f"{config.tag(distortion.label)}.pt")


def _labeler(train_images, spatial: int, codebook: int, steps: int, seed: int, device, cache: Path,
             distortion: LabelerDistortion):
    cfg = LabelerTrainingConfig.for_scale("small", spatial=spatial, codebook_size=codebook, steps=steps)
    return train_labeler(train_images, cfg, seed=seed, device=device, progress=True, distortion=distortion,
                         checkpoint_path=labeler_checkpoint(cache, cfg, distortion, seed)).labeler


def _markdown_table(df: pd.DataFrame) -> str:
    def fmt(v):
        if isinstance(v, float):
            return "" if v != v else f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def render_markdown(result: dict) -> str:
    """The summary .md of a sweep, rendered from its JSON record alone (``--render`` rewrites a committed one)."""
    df = pd.DataFrame(result["rows"])
    ft = result["finetune_config"]
    fid_note = "" if result["fid"] == "computed" else result["fid"]
    cols = [c for c in ("discriminator", "lambda_d", "norm", "labeler", "psnr", "ms_ssim", "swd", "fid", "kid",
                        "d_loss", "real_acc", "fake_acc", "perplexity", "seconds") if c in df]
    md = [f"# {result['what']}", "", "<!-- results -->", "",
          f"No-GAN model of chapter 4 part 1 (small, {result['pretraining_steps']} steps, target {result['rate']} bpp), "
          f"labeler {result['labeler_steps']} steps, **{ft['steps']} fine-tuning steps per run** (batch "
          f"{ft['batch_size']} of {ft['crop_size']}², generator lr {ft['generator_lr']:g}, discriminator lr ILLM "
          f"{ft['illm_discriminator_lr']:g} / PatchGAN {ft['patchgan_discriminator_lr']:g}); metrics on the first "
          f"{result['eval_images']} Kodak images. " + (f"FID/KID: {fid_note}." if fid_note else ""), "",
          _markdown_table(df[cols]), "",
          f"Command: `{result['command']}`", "",
          f"{RunRecord.machine_line(result)} Run {result['date']}, {result['wall_s'] / 60:.1f} min in all.", ""]
    return "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=0.14)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=800, help="fine-tuning steps per run")
    ap.add_argument("--labeler-steps", type=int, default=1500)
    ap.add_argument("--lambdas", default="0.008,0.064,0.512", help="comma-separated λ_d values")
    ap.add_argument("--kinds", default="illm,patchgan")
    ap.add_argument("--paper-lr", action="store_true", help="A.3's learning rates (1e-4 G, 4e-4 ILLM-D, 1e-4 PatchGAN)")
    ap.add_argument("--illm-d-lr", type=float, default=None,
                    help="ILLM discriminator learning rate instead of the small scale's (4e-4, A.3's)")
    ap.add_argument("--ablations", action="store_true", help="Tables 1-2 at the first λ_d instead of the sweep")
    ap.add_argument("--images", type=int, default=8, help="Kodak images to evaluate on")
    add_run_arguments(ap, ROOT / "results" / "illm_sweep", render=True)
    args = ap.parse_args()
    if rendered_from_record(args, render_markdown):
        return
    run = RunRecord(args, "illm_sweep.py")  # applies --threads, picks the device, notes the command and load
    device = run.device
    lambdas = [float(v) for v in args.lambdas.split(",")]
    kinds = args.kinds.split(",")
    cache = cache_dir() / "benchmarks" / "illm_sweep"
    cache.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    # 1. the No-GAN model of part 1, exactly as the chapter trains it
    train_images = embedded_images()
    config = IllmConfig.for_scale("small")
    seed_everything(args.seed)
    model = msillm_autoencoder(config.model)
    rho = IllmDistortion(config.lambda_mse, perceptual=config.perceptual)
    trained = pretrain(model, train_images, rate=args.rate, config=config, seed=args.seed, distortion=rho,
                       checkpoint_path=nogan_checkpoint(cache, args.rate, args.seed, config, rho), device=device)
    kodak = natural_images()
    originals, recons = reconstruct(trained.model, kodak, max_images=args.images)

    # 2. fine-tuning runs
    ft = FinetuneConfig.for_scale("small", steps=args.steps)
    if args.paper_lr:
        paper = FinetuneConfig.for_scale("paper")
        ft = dataclasses.replace(ft, generator_lr=paper.generator_lr, illm_discriminator_lr=paper.illm_discriminator_lr,
                                 patchgan_discriminator_lr=paper.patchgan_discriminator_lr)
    if args.illm_d_lr is not None:
        ft = dataclasses.replace(ft, illm_discriminator_lr=args.illm_d_lr)
    lab_default = (32, 1024)
    if args.ablations:
        lam = lambdas[0]
        runs = [("illm", lam, "none", lab_default), ("illm", lam, "instance", lab_default),
                ("illm", lam, "spectral", lab_default)]
        runs += [("illm", lam, "none", lab) for lab in ((16, 256), (16, 1024), (32, 256))]
    else:
        runs = [("none", 0.0, "none", lab_default)] + [(k, lam, "none", lab_default) for k in kinds for lam in lambdas]

    settings = {k: getattr(args, k) for k in ("rate", "seed", "steps", "labeler_steps", "paper_lr", "images")}
    settings["labeler_version"] = 2  # 2: images in [-1, 1], VQ terms as element means, small restart jitter
    if args.illm_d_lr is not None:  # only when given, so that earlier caches keep their tags
        settings["illm_d_lr"] = args.illm_d_lr
    lab_small = LabelerTrainingConfig.for_scale("small")  # eq. 10's distortion, shared by every labeler of the run
    lab_rho = LabelerDistortion(lab_small.lambda_mse, perceptual=lab_small.perceptual)  # LPIPS-VGG or its fallback
    if rho.uses_lpips or lab_rho.lpips is not None:  # only then, so that the earlier (offline) caches keep their tags
        settings["distortions"] = [rho.label, lab_rho.label]
    tag = settings_hash(settings)
    rows_path = cache / f"{args.out.name}_{tag}.rows.json"  # finished runs with these settings, for resuming
    rows = json.loads(rows_path.read_text()) if rows_path.exists() else []
    done = {(r["discriminator"], r["lambda_d"], r["norm"], r["labeler"]) for r in rows}
    if not rows:
        rows.append({"discriminator": "No-GAN (part 1)", "lambda_d": 0.0, "norm": "-", "labeler": "-",
                     **distortion_and_fidelity(originals, recons, fid="auto"), "seconds": 0.0})
    labelers = {}
    for kind, lam, norm, lab in runs:
        key = (kind, lam, norm, f"{lab[0]}x{lab[1]}" if kind == "illm" else "-")
        if key in done:
            continue
        labeler = None
        if kind == "illm":
            if lab not in labelers:
                labelers[lab] = _labeler(train_images, *lab, args.labeler_steps, args.seed, device, cache, lab_rho)
            labeler = labelers[lab]
        t0 = time.perf_counter()
        res = finetune(copy.deepcopy(trained.model), train_images, discriminator=kind, lambda_d=lam, labeler=labeler,
                       config=dataclasses.replace(ft, norm=norm), distortion=rho, seed=args.seed, device=device)
        seconds = time.perf_counter() - t0
        _, rec = reconstruct(res.model, kodak, max_images=args.images)
        row = {"discriminator": kind, "lambda_d": lam, "norm": norm, "labeler": key[3],
               **distortion_and_fidelity(originals, rec, fid="auto"), "seconds": round(seconds, 1)}
        h = res.history.to_frame()
        if "d_loss" in h:
            row.update(d_loss=float(h["d_loss"].tail(50).mean()), real_acc=float(h["real_acc"].tail(50).mean()),
                       fake_acc=float(h["fake_acc"].tail(50).mean()))
        if labeler is not None:
            usage = codebook_usage(labeler.labels(originals[0].unsqueeze(0).to(device))[0].cpu(), labeler.num_labels)
            row.update(codebook_used=usage["used"], perplexity=usage["perplexity"])
        rows.append(row)
        rows_path.parent.mkdir(parents=True, exist_ok=True)
        rows_path.write_text(json.dumps(rows, indent=1))
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)

    df = pd.DataFrame(rows)
    df["mse"] = 10 ** (-df["psnr"] / 10)  # the MSE at the mean PSNR (the images' geometric-mean MSE)
    fid_note = next((r["fid_skipped"] for r in rows if r.get("fid_skipped")), "")
    df = df.drop(columns=["fid_skipped"], errors="ignore")
    result = {
        "what": ("MS-ILLM part 2 ablations (Tables 1-2)" if args.ablations else "MS-ILLM part 2 λ_d sweep (Fig. 1 / A2)")
                + " at the book's small scale, longer than the book's build",
        "command": run.command, "rate": args.rate, "seed": args.seed, "eval_images": args.images,
        "finetune_config": {k: v for k, v in ft.to_dict().items() if k not in ("notes",)},
        "labeler_steps": args.labeler_steps, "labeler_version": settings["labeler_version"],
        "pretraining_steps": config.steps, "fid": fid_note or "computed",
        "rows": json.loads(df.to_json(orient="records")),
        "wall_s": round(time.perf_counter() - t_start, 1), **run.environment(),
    }
    RunRecord.save(args.out, result, render_markdown(result))


if __name__ == "__main__":
    main()
