"""Chapter 2, Fig. 2 over training: the correlations of Observations 2-4 measured on checkpoints of one 2D bank.

``benchmarks/ch2_study2d.py`` measures its bank once, at the end. Whether a correlation is still moving when
training stops, and in which direction, needs the same bank at earlier steps. This script loads checkpoints of
a bank (:func:`~perceptual_compression.experiments.ch2_study2d.load_bank`: the copies a run keeps with
``ch2_study2d.py --keep-every K``, ``data/cache/benchmarks/ch2_study2d/<tag>.step<k>.pt``; the committed
trajectories predate that option and measured copies of ``<tag>.pt`` taken while the run trained) and measures on each, with the chapter's code, what
the run measures at the end for the plain ``L1`` (eq. 9) members: real rates (bytes written by the entropy
coder, header included, per 2D sample), the Spearman correlations of ``D_s``, ``D_r / RMSE`` and ``D_in / RMSE``
with ``p(x1)`` and the median gains of the continuous ``f = d(e(x))`` at the mode and in the tail. The bank's
settings and seed come from the run's committed record (``--record``), and the evaluation points are the
record's (same ``n_eval``, ``delta`` and seed), so the last row reproduces the record's own numbers when the
final checkpoint is given.

Usage::

    python benchmarks/ch2_study2d.py --threads 1 --steps 40000 --batch-size 4096 --lambdas 6,20,60 --keep-every 8000 \
        --out /tmp/bank && python benchmarks/ch2_study2d_trajectory.py --record /tmp/bank.json \
        --checkpoints data/cache/benchmarks/ch2_study2d/<tag>.step*.pt --how-copied "Kept by --keep-every 8000." \
        --out /tmp/bank_trajectory
    python benchmarks/ch2_study2d_trajectory.py --record benchmarks/results/ch2_study2d_long_seed0.json \\
        --checkpoints snap/0300/<tag>.pt snap/0320/<tag>.pt ... --out benchmarks/results/ch2_study2d_long_seed0_trajectory
    python benchmarks/ch2_study2d_trajectory.py --render benchmarks/results/ch2_study2d_long_seed0_trajectory.json

Writes ``<out>.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from perceptual_compression.experiments import ch2_study2d as s2d
from perceptual_compression.experiments.ch2_config import Study2DConfig
from run_record import RunRecord, add_run_arguments, rendered_from_record  # benchmarks/run_record.py

ROOT = Path(__file__).resolve().parent


def config_of(record: dict) -> Study2DConfig:
    """The bank configuration a committed ``ch2_study2d.py`` record was trained with."""
    fields = {f.name for f in dataclasses.fields(Study2DConfig)}
    cfg = {k: (tuple(v) if isinstance(v, list) else v) for k, v in record["config"].items() if k in fields}
    return Study2DConfig(**cfg)


def measure(bank: s2d.TrainedBank, cfg: Study2DConfig, seed: int) -> list[dict]:
    """Per ``L1`` member: coded rate, the Fig. 2 correlations and the gains of ``f``, as ``ch2_study2d.py`` does."""
    x_test = bank.source.sample(cfg.n_eval, generator=torch.Generator().manual_seed(seed + 1))
    rates = {r["member"]: r for r in s2d.member_rates(bank, x_test)}
    rows = []
    for c in s2d.sensitivity_correlations(bank, n=cfg.n_eval, delta=cfg.delta, seed=seed):
        r = rates[c["member"]]
        rows.append({"member": c["member"], "lambda": c["lambda"], "bits_per_sample": r["bits_per_sample"], "sse": r["sse"],
                     **{k: c[k] for k in ("rho_Ds", "rho_Dr", "rho_Din", "rho_Dr_noisy", "gain_f_mode", "gain_f_tail")}})
    return rows


def render_markdown(result: dict) -> str:
    """The summary .md, from the JSON record alone."""
    cfg = result["config"]
    md = [f"# Chapter 2: {result['what']}", "", "<!-- results -->", "",
          f"Checkpoints of the bank of `{result['record']}` (seed {result['seed']}, width {cfg['hidden']}, batch "
          f"{cfg['batch_size']}, Adam lr {cfg['lr']:g} "
          + ("constant" if cfg.get("final_lr_factor", 1.0) == 1.0 else f"with a cosine decay to {cfg['final_lr_factor']:g}×")
          + f"), measured with the run's own evaluation points "
          f"({cfg['n_eval']} Student-t samples, displacement {cfg['delta']:g}). {result['how_copied']} Paper (Fig. 2, "
          "500,000 steps of 4096): ρ(D_r/RMSE, p) 0.49 at 2.03 bits → 0.31 at 4.67 bits; max ρ(D_in/RMSE, p) 0.90.", "",
          "| steps | samples seen | member | bits / sample (coded) | ρ(D_s, p) | ρ(D_r/RMSE, p) | ρ(D_in/RMSE, p) "
          "| gain of f at mode / tail |", "|---:|---:|---|---:|---:|---:|---:|---:|"]
    for ck in result["checkpoints"]:
        for r in ck["members"]:
            md.append(f"| {ck['steps']} | {ck['steps'] * cfg['batch_size'] / 1e6:.1f} M | {r['member']} | "
                      f"{r['bits_per_sample']:.2f} | {r['rho_Ds']:.3f} | {r['rho_Dr']:.3f} | {r['rho_Din']:.3f} | "
                      f"{r['gain_f_mode']:.2f} / {r['gain_f_tail']:.2f} |")
    md += ["", f"Command: `{result['command']}`", "",
           f"{RunRecord.machine_line(result)} Run {result['date']}, {result['wall_s'] / 60:.1f} min.", ""]
    return "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--record", type=Path, help="the committed ch2_study2d.py record of the run the checkpoints belong to")
    ap.add_argument("--checkpoints", type=Path, nargs="+", help="checkpoint files of that run, in any order")
    ap.add_argument("--how-copied", default="The checkpoints were copied from the run's cache while it trained.",
                    help="one sentence saying how the checkpoints were obtained (goes into the record)")
    add_run_arguments(ap, ROOT / "results" / "ch2_study2d_trajectory", render=True)
    args = ap.parse_args()
    if rendered_from_record(args, render_markdown):
        return
    if args.record is None or not args.checkpoints:
        ap.error("--record and --checkpoints are required (or --render)")
    run = RunRecord(args, "ch2_study2d_trajectory.py")
    run.device = torch.device("cpu")  # it trains nothing and measures on the CPU: that is where it ran
    record = json.loads(args.record.read_text())
    cfg, seed = config_of(record), int(record["seed"])
    t0 = time.perf_counter()
    rows = []
    for path in args.checkpoints:
        bank = s2d.load_bank(cfg, path)
        rows.append({"file": path.name, "steps": bank.steps_done, "members": measure(bank, cfg, seed)})
        print(f"{path}: step {bank.steps_done}: " + ", ".join(f"{r['member']} ρ(D_r) {r['rho_Dr']:.3f}"
                                                              for r in rows[-1]["members"]), flush=True)
    rows.sort(key=lambda r: r["steps"])
    result = {"what": "Fig. 2 over training: the L1 members of one 2D bank at checkpoints",
              "command": run.command, "record": str(args.record), "config": record["config"], "seed": seed,
              "how_copied": args.how_copied, "checkpoints": rows,
              "wall_s": round(time.perf_counter() - t0, 1), **run.environment()}
    RunRecord.save(args.out, result, render_markdown(result))


if __name__ == "__main__":
    main()
