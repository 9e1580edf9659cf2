"""Chapter 4, part 2: how fast does the small ILLM U-Net learn the labeler's task on its own?

The committed λ_d sweep (``benchmarks/illm_sweep.py``) shows the small U-Net, at the paper's discriminator
learning rate (4e-4), separating real patches from reconstructions but never learning the labels of the real
ones (its accuracy on real positions stays 0: the fake class outranks every label there). This probe trains the
U-Net *alone* (no generator updates) on the loss of eq. 6 — real 128² patches against the labels of the sweep's
labeler, the frozen No-GAN model's reconstructions against class 0 — and records, every 50 steps, the
cross-entropy of the real patches over the label classes only (the fake class left out), to compare with the
labels' marginal entropy (the best a discriminator that ignores the image can do). It reuses the sweep's cached
No-GAN model and labeler (run the sweep first, or they are trained here).

Each learning rate starts from the same U-Net weights and sees the same patches. The record and its summary go
to ``benchmarks/results/illm_unet_probe.{json,md}``; the chapter quotes them.

Usage::

    python benchmarks/illm_unet_probe.py --threads 1              # the paper's 4e-4 and the illm_sweep_dlr run's 2e-3
    python benchmarks/illm_unet_probe.py --lr 4e-4 --steps 800 --out /tmp/probe_800   # not the committed record
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

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
from run_record import RunRecord, add_run_arguments, rendered_from_record  # benchmarks/run_record.py

ROOT = Path(__file__).resolve().parent


def probe(model, labeler, disc, patches, ft: FinetuneConfig, lr: float, steps: int, every: int = 50) -> dict:
    """Train ``disc`` alone on eq. 6 for ``steps`` batches of ``patches`` at learning rate ``lr``; return the
    trajectory (at step 0, every ``every`` steps and the last: eq. 6's loss and the real patches' cross-entropy
    over the label classes only, each as the mean over the steps since the previous entry, since one batch of 4
    patches is noisy) and the labels' marginal entropy over the batches seen."""
    opt = torch.optim.AdamW(disc.parameters(), lr=lr, betas=ft.betas, weight_decay=ft.weight_decay)
    device = next(disc.parameters()).device
    counts = torch.zeros(labeler.num_labels, device=device)
    trajectory, window = [], []
    t0 = time.perf_counter()
    for i in range(steps):
        x = patches.batch(i, ft.batch_size).to(device)
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
        window.append((loss.item(), F.cross_entropy(real.detach()[:, 1:], labels).item()))
        if i % every == 0 or i == steps - 1:
            loss_mean, ce_mean = (sum(v) / len(window) for v in zip(*window))
            trajectory.append({"step": i, "window": len(window), "eq6_loss": round(loss_mean, 4),
                               "label_ce": round(ce_mean, 4)})
            window = []
            print(f"lr {lr:g}  step {i:4d}  eq. 6 loss {loss_mean:.3f}  real-label CE (labels only) "
                  f"{ce_mean:.3f} nats  {time.perf_counter() - t0:.0f} s", flush=True)
    counts = counts.cpu()
    q = counts[counts > 0] / counts.sum()
    entropy = float(-(q * q.log()).sum())
    return {"lr": lr, "trajectory": trajectory, "label_entropy": round(entropy, 4),
            "seconds": round(time.perf_counter() - t0, 1)}


def _origin(checkpoint: dict) -> str:
    return "from the cache" if checkpoint["from_cache"] else "trained by this run"


def render_markdown(result: dict) -> str:
    """The summary .md of a probe, rendered from its JSON record alone (``--render`` rewrites a committed one)."""
    ft = result["finetune_config"]
    runs = result["runs"]
    steps = sorted({p["step"] for r in runs for p in r["trajectory"]})
    by_step = [{p["step"]: p for p in r["trajectory"]} for r in runs]
    md = [f"# {result['what']}", "", "<!-- results -->", "",
          f"The U-Net discriminator of chapter 4's small scale (channels {tuple(ft['unet_channels'])}, AdamW betas "
          f"{tuple(ft['betas'])}, weight decay {ft['weight_decay']:g}, gradient norm clipped to "
          f"{ft['grad_clip_norm']:g}) trained alone on eq. 6 for **{result['steps']} steps** of "
          f"{ft['batch_size']} × {ft['crop_size']}² patches "
          f"of the embedded photographs: real patches against the labels of a labeler trained for "
          f"{result['labeler_steps']} steps ({result['labeler_spatial']}² × {result['num_labels']} codes), the "
          f"reconstructions of the frozen No-GAN model (small, {result['pretraining_steps']} steps, target "
          f"{result['rate']} bpp) against the fake class. Columns: the real patches' cross-entropy over the "
          f"{result['num_labels']} label classes only (the fake class left out), and eq. 6's loss, in nats, at each "
          "learning rate; each the mean over the steps since the row above (step 0: that step alone).", "",
          "| step | " + " | ".join(f"label CE, lr {r['lr']:g}" for r in runs) + " | "
          + " | ".join(f"eq. 6 loss, lr {r['lr']:g}" for r in runs) + " |",
          "|---:|" + "---:|" * (2 * len(runs))]
    for s in steps:
        ce = [f"{b[s]['label_ce']:.3f}" if s in b else "" for b in by_step]
        loss = [f"{b[s]['eq6_loss']:.3f}" if s in b else "" for b in by_step]
        md.append(f"| {s} | " + " | ".join(ce) + " | " + " | ".join(loss) + " |")
    h = runs[0]["label_entropy"]
    md += ["", f"The labels' marginal entropy over the batches seen: **{h:.3f} nats** (perplexity "
           f"{math.exp(h):.0f} of {result['num_labels']}), the cross-entropy of a discriminator that knows only the "
           f"labels' frequencies; a uniform guess has ln {result['num_labels']} = "
           f"{math.log(result['num_labels']):.3f}. "
           "Last row's label cross-entropy minus that entropy: "
           + "; ".join(f"lr {r['lr']:g}: {r['trajectory'][-1]['label_ce'] - r['label_entropy']:+.2f} nats "
                       f"({r['seconds'] / 60:.1f} min)" for r in runs) + ".", "",
           *([f"Cached models read: No-GAN `{ck['nogan']['file']}` ({_origin(ck['nogan'])}), labeler "
              f"`{ck['labeler']['file']}` ({_origin(ck['labeler'])}).", ""]
             if (ck := result.get("checkpoints")) else []),
           f"Command: `{result['command']}`", "",
           f"{RunRecord.machine_line(result)} Run {result['date']}, {result['wall_s'] / 60:.1f} min in all.", ""]
    return "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lr", type=float, nargs="+", default=[4e-4, 2e-3],
                    help="the U-Net's learning rates, one probe each from the same initial weights (default: "
                         "the paper's 4e-4 and the committed illm_sweep_dlr run's 2e-3)")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--rate", type=float, default=0.14)
    ap.add_argument("--labeler-steps", type=int, default=1500)
    add_run_arguments(ap, ROOT / "results" / "illm_unet_probe", render=True)
    args = ap.parse_args()
    if rendered_from_record(args, render_markdown):
        return
    run = RunRecord(args, "illm_unet_probe.py")  # applies --threads, picks the device, notes the command and load
    device = run.device
    t_start = time.perf_counter()
    cache = cache_dir() / "benchmarks" / "illm_sweep"  # shared with illm_sweep.py
    cache.mkdir(parents=True, exist_ok=True)
    images = embedded_images()
    config = IllmConfig.for_scale("small")
    seed_everything(0)
    model = msillm_autoencoder(config.model)  # before LPIPS, whose construction draws random numbers (as illm_sweep.py)
    rho = IllmDistortion(config.lambda_mse, perceptual=config.perceptual)
    nogan_path = nogan_checkpoint(cache, args.rate, 0, config, rho)
    nogan_cached = nogan_path.exists()
    model = pretrain(model, images, rate=args.rate, config=config, seed=0, distortion=rho,
                     checkpoint_path=nogan_path, device=device).model.eval()
    lab_cfg = LabelerTrainingConfig.for_scale("small", spatial=32, codebook_size=1024, steps=args.labeler_steps)
    lab_rho = LabelerDistortion(lab_cfg.lambda_mse, perceptual=lab_cfg.perceptual)
    labeler_path = labeler_checkpoint(cache, lab_cfg, lab_rho, 0)
    labeler_cached = labeler_path.exists()
    labeler = train_labeler(images, lab_cfg, seed=0, device=device, progress=False, distortion=lab_rho,
                            checkpoint_path=labeler_path).labeler.freeze()
    ft = FinetuneConfig.for_scale("small")
    runs = []
    for lr in args.lr:
        seed_everything(0)  # every learning rate starts from the same U-Net and sees the same patches
        disc = build_discriminator("illm", ft, latent_features=model.latent_features, labeler=labeler).to(device)
        patches = TrainingPatches(images, ft.crop_size, seed=202)  # the fine-tuning's patch stream
        runs.append(probe(model, labeler, disc, patches, ft, lr, args.steps))
    result = {
        "what": "Chapter 4: the small ILLM U-Net trained alone on the labeler's task (eq. 6), without generator "
                "updates: how fast it learns the labels",
        "steps": args.steps, "rate": args.rate, "pretraining_steps": config.steps,
        "labeler_steps": lab_cfg.steps, "labeler_spatial": lab_cfg.labeler.spatial,
        "num_labels": labeler.num_labels, "distortion": rho.label,
        "finetune_config": {k: getattr(ft, k) for k in ("batch_size", "crop_size", "unet_channels", "betas",
                                                         "weight_decay", "grad_clip_norm")},
        # the cached models it read (named after their settings; made by illm_sweep.py or by this script)
        "checkpoints": {"nogan": {"file": nogan_path.name, "from_cache": nogan_cached},
                        "labeler": {"file": labeler_path.name, "from_cache": labeler_cached}},
        "runs": runs, "command": run.command, **run.environment(),
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    RunRecord.save(args.out, result, render_markdown(result))


if __name__ == "__main__":
    main()
