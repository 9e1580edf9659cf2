"""Chapter 2, the 2D Student-t study (Sec. 3 and 5.1, appendix C) beyond the book's build.

The chapter's build trains its bank of 2D compressive autoencoders for 2,500 steps of 256 samples at
width 64 and three lambdas. This script trains the bank at the paper's width (2 -> 100 -> 100 -> 2), the
paper's constant Adam learning rate 1e-3 and the chapter's paper-scale lambdas (six per objective), for
longer batches, once, with the chapter's own code
(:func:`~perceptual_compression.experiments.ch2_study2d.train_bank`), and measures what the chapter measures:

- real rates (:func:`~perceptual_compression.experiments.ch2_study2d.member_rates`: bytes written by the
  entropy coder, header included, per 2D sample);
- Fig. 2, the Spearman correlations of ``D_s``, ``D_r / RMSE`` and ``D_in / RMSE`` with ``p(x1)``
  (:func:`~perceptual_compression.experiments.ch2_study2d.sensitivity_correlations`, same variants);
- Fig. 4 (left), the ratio ``P_{p^0.1} / P`` along the x-axis
  (:func:`~perceptual_compression.experiments.ch2_study2d.relative_performance_along_x`): its mean over
  rates near the centre (``x < 1``) and its median in the tail (``x > 5``), as the chapter summarises it.

The bank holds the ``L1`` (eq. 9) and ``L2`` (eq. 10) members these figures need, plus the two uniform-sample
members :func:`train_bank` always trains (``--inverse-lambdas`` adds ``L3``, eq. 11). It writes
``benchmarks/results/ch2_study2d.{json,md}`` (``--out`` to change). Resumable: the bank checkpoints to
``data/cache/benchmarks/ch2_study2d/`` every ``--checkpoint-every`` steps; ``--keep-every K`` also keeps a copy
every ``K`` steps (``<tag>.step<k>.pt``) for ``ch2_study2d_trajectory.py`` to measure the bank over training.

The committed runs: seed 0 (``ch2_study2d``), the same settings with seeds 1-3 (``ch2_study2d_seed{1,2,3}``,
which the chapter compares across seeds) and seed 0 with ``--gamma 1`` (``ch2_study2d_gamma1``: eq. 10 with
the weight ``p(x)`` that the captions of Figs. 4 and 14 write, ``D = p(x)·||x1 - x2||²``, instead of the
``p(x)^0.1`` of appendix C's text), and seeds 0 and 1 with eight lambdas per objective, 0.5 to 600
(``ch2_study2d_matched{,_seed1}``: the low-rate ``L2`` members then have ``L1`` members on both sides of their
coded rate, for :func:`~perceptual_compression.experiments.ch2_study2d.rate_matched_relative`; these records
also hold every member's windowed ``D`` and ``R`` along the line, ``fig4_profiles``).

Gradients are clipped at norm 100, by default per autoencoder (``--clip per-model``), as separate runs would
be. The committed runs were made before that setting existed, with one norm over the whole bank: ``--clip
joint`` repeats them (their records have no ``clip`` in their config, and their cache tags are unchanged).

Usage::

    python benchmarks/ch2_study2d.py --threads 1 --steps 15000 --clip joint        # the committed run
    python benchmarks/ch2_study2d.py --threads 1 --steps 15000 --clip joint --seed 1 --out benchmarks/results/ch2_study2d_seed1
    python benchmarks/ch2_study2d.py --threads 1 --steps 15000 --clip joint --gamma 1 --out benchmarks/results/ch2_study2d_gamma1
    python benchmarks/ch2_study2d.py --threads 1 --steps 15000 --clip joint --lambdas 0.5,1,2,6,20,60,200,600 \
        --out benchmarks/results/ch2_study2d_matched                               # (and --seed 1 ..._seed1)
    python benchmarks/ch2_study2d.py --steps 20 --n-eval 2000 --out /tmp/s2d       # smoke run
    python benchmarks/ch2_study2d.py --render benchmarks/results/ch2_study2d_gamma1.json  # rewrite its .md
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from perceptual_compression.training.tags import settings_hash
from perceptual_compression.experiments import ch2_study2d as s2d
from perceptual_compression.experiments.ch2_config import Ch2Config
from perceptual_compression.paths import cache_dir
from run_record import RunRecord, add_run_arguments, rendered_from_record  # benchmarks/run_record.py

ROOT = Path(__file__).resolve().parent
PAPER = Ch2Config.for_scale("paper").study2d


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v.strip())


def summarise(corr: list[dict], rates: list[dict], rel: dict) -> dict:
    """The chapter's summary numbers from the three measurements."""
    bits = {r["member"]: r["bits_per_sample"] for r in rates}
    corr = sorted(corr, key=lambda r: bits[r["member"]])
    fig4 = s2d.fig4_summary(rel)
    return {
        "bits": [bits[r["member"]] for r in corr],
        "rho_Ds": [r["rho_Ds"] for r in corr], "rho_Dr": [r["rho_Dr"] for r in corr],
        "rho_Din": [r["rho_Din"] for r in corr],
        "fig4_centre_ratio": fig4["centre_mean"],
        "fig4_tail_median_ratio": fig4["tail_median"],
        "fig4_centre_ratio_per_lambda": {f"{lm:g}": float(v) for lm, v in zip(rel["lambdas"], fig4["centre_per_lambda"])},
    }


def _ratio(v: float) -> str:
    """A performance ratio for the tables: two decimals, or three significant digits once it is huge (a member
    whose rate collapsed to the header makes ``P = D / R`` explode)."""
    return f"{v:.2f}" if abs(v) < 1e3 else f"{v:.3g}"


def _eq13_line(fig4: dict) -> str:
    """Fig. 4 (left) with eq. 13 as printed (``P_L1 / P_L2``, the reciprocal of Sec. 5.1's quotient) and the
    orientation-free geometric means."""
    text, printed = s2d.fig4_summary(fig4), s2d.fig4_summary(s2d.as_printed_eq13(fig4))
    return ("Eq. 13 as printed, P_L1 / P_L2 (below 1: the plain model better): near the centre "
            f"{_ratio(printed['centre_mean'])}, tail median {_ratio(printed['tail_median'])}. Geometric means "
            f"(the same either way round, given here as P_L2 / P_L1): centre {_ratio(text['centre_geomean'])}, "
            f"tail {_ratio(text['tail_geomedian'])}.")


def _matched_line(matched: dict) -> str:
    """Fig. 4 (left) with each L2 member against the L1 family interpolated to its coded rate."""
    sm = s2d.fig4_summary(matched)
    per = ", ".join(f"{lm:g} ({b:.2f} bits, between {a} and {c}): {_ratio(v)}" for lm, b, (a, c), v in
                    zip(matched["lambdas"], matched["bits"], matched["between"], sm["centre_per_lambda"]))
    skipped = (f"; not compared (coded rate outside the L1 family's): {', '.join(matched['skipped'])}"
               if matched["skipped"] else "")
    return (f"Fig. 4 (left) at equal rate (each L2 member against the L1 members bracketing its coded rate, log D "
            f"and R interpolated per window): mean ratio P_L2 / P_L1 near the centre {_ratio(sm['centre_mean'])} "
            f"(geometric {_ratio(sm['centre_geomean'])}), tail median {_ratio(sm['tail_median'])} "
            f"(geometric {_ratio(sm['tail_geomedian'])}); per L2 lambda {per}{skipped}.")


def render_markdown(result: dict) -> str:
    """The run's markdown summary, from its JSON record alone (``--render`` rewrites it from a committed record)."""
    resumed = RunRecord.resumed_note(result.get("resumed_from"), result.get("train_s_total"))  # a continued run
    cfg, summary, rates, corr = result["config"], result["summary"], result["rates"], result["correlations"]
    table = ["| member | bits / sample (coded) | ρ(D_s, p) | ρ(D_r/RMSE, p) | ρ(D_in/RMSE, p) | gain of f at mode / tail |",
             "|---|---:|---:|---:|---:|---:|"]
    bits = {r["member"]: r["bits_per_sample"] for r in rates}
    for r in sorted(corr, key=lambda r: bits[r["member"]]):
        table.append(f"| {r['member']} | {bits[r['member']]:.2f} | {r['rho_Ds']:.3f} | {r['rho_Dr']:.3f} | "
                     f"{r['rho_Din']:.3f} | {r['gain_f_mode']:.2f} / {r['gain_f_tail']:.2f} |")
    l2 = sorted((r for r in rates if r["member"].startswith("L2-")), key=lambda r: r["bits_per_sample"])
    gamma = cfg.get("gamma", PAPER.gamma)
    md = [f"# Chapter 2: {result['what']}", "", "<!-- results -->", "",
          f"Bank of {len(result['members'])} MLP autoencoders (2 → {cfg['hidden']} → {cfg['hidden']} → 2, softplus), "
          + (f"**{cfg['steps']} steps of {cfg['batch_size']} Student-t samples** (paper: 500,000 of 4096)"
             if result.get("steps_done", cfg["steps"]) == cfg["steps"] else
             f"**{result['steps_done']} steps of {cfg['batch_size']} Student-t samples** (paper: 500,000 of 4096; "
             f"stopped by the run's budget of {result['max_train_minutes']:g} min of training, {cfg['steps']} asked "
             "for)") + f", Adam lr {cfg['lr']:g} " + ("constant" if cfg.get("final_lr_factor", 1.0) == 1.0 else
                                              f"with a cosine decay to {cfg['final_lr_factor']:g}×"
                                              + (f" scheduled over the {cfg['steps']} steps asked for"
                                                 if result.get("steps_done", cfg["steps"]) != cfg["steps"] else ""))
          + f", gradients clipped at norm {cfg['clip_grad_norm']:g} "
          + ("per autoencoder" if s2d.record_clip(result) == "per-model" else "over the whole bank (one factor for all)")
          + f", seed {result['seed']}, eq. 10 weighted by p(x)^{gamma:g}; "
          f"rates coded for real on {cfg['n_eval']} samples; displacement {cfg['delta']:g} in a random direction. "
          "Paper (Fig. 2): ρ(D_s, p) −0.68 … −0.4 (−0.18 at 4.67 bits), ρ(D_r/RMSE, p) 0.49 → 0.31, "
          "max ρ(D_in/RMSE, p) 0.90.", "", "\n".join(table), "",
          "Coded rates of the L2 (eq. 10) members, bits / sample: "
          + ", ".join(f"{r['member']} {r['bits_per_sample']:.2f}" for r in l2) + ".", "",
          f"Fig. 4 (left): mean ratio P_(p^{gamma:g}) / P near the centre (x < 1) {_ratio(summary['fig4_centre_ratio'])} "
          "(paper: 0.86, a gain), per lambda " + ", ".join(f"{k}: {_ratio(v)}" for k, v in
                                                          summary["fig4_centre_ratio_per_lambda"].items())
          + f"; median ratio in the tail (x > 5) {_ratio(summary['fig4_tail_median_ratio'])} (paper: > 1, a loss).", "",
          _eq13_line(result["fig4"]), "",
          *([_matched_line(result["fig4_rate_matched"]), ""] if "fig4_rate_matched" in result else []),
          *RunRecord.footer(result, wall_detail=f"{result['train_s'] / 60:.1f} min of training" + (f"; {resumed}" if resumed else ""))]
    return "\n".join(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=15_000, help="training steps (paper: 500,000)")
    ap.add_argument("--batch-size", type=int, default=1024, help="samples per step (paper: 4096)")
    ap.add_argument("--hidden", type=int, default=PAPER.hidden, help="MLP width (paper: 100)")
    ap.add_argument("--lr", type=float, default=PAPER.lr, help="Adam learning rate (paper: 1e-3, constant)")
    ap.add_argument("--final-lr-factor", type=float, default=1.0,
                    help="cosine decay of the learning rate to this factor (1: constant, the paper; the book's small "
                         "scale: 0.1)")
    ap.add_argument("--lambdas", default=",".join(f"{v:g}" for v in PAPER.lambdas), help="lambdas of L1 and L2")
    ap.add_argument("--inverse-lambdas", default="", help="lambdas of L3 (eq. 11; none by default)")
    ap.add_argument("--n-eval", type=int, default=20_000, help="Student-t samples for rates and correlations")
    ap.add_argument("--delta", type=float, default=PAPER.delta, help="displacement |x2 - x1| of Fig. 2")
    ap.add_argument("--gamma", type=float, default=PAPER.gamma,
                    help="exponent of p(x) in eq. 10's weight (paper text: 0.1; Fig. 4 and 14 captions: D = p(x)·SSE, "
                         "i.e. 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint-every", type=int, default=500)
    ap.add_argument("--keep-every", type=int, default=0,
                    help="keep a copy of the checkpoint every this many steps (beside it, <tag>.step<k>.pt) for "
                         "ch2_study2d_trajectory.py; 0: none")
    ap.add_argument("--max-train-minutes", type=float, default=None,
                    help="wall-clock budget of the training: it stops there (for a lent machine with a fixed lease); "
                         "the record says how many steps ran")
    ap.add_argument("--clip", choices=s2d.CLIP_MODES, default=PAPER.clip,
                    help="gradient clipping at norm 100: per autoencoder (default) or one norm over the bank ('joint', "
                         "as the committed runs made before 2026-12-07 were trained)")
    add_run_arguments(ap, ROOT / "results" / "ch2_study2d", render=True)
    args = ap.parse_args()
    if rendered_from_record(args, render_markdown):
        return
    run = RunRecord(args, "ch2_study2d.py")
    device, command = run.device, run.command
    cfg = dataclasses.replace(PAPER, steps=args.steps, batch_size=args.batch_size, hidden=args.hidden, lr=args.lr,
                              final_lr_factor=args.final_lr_factor, lambdas=_floats(args.lambdas),
                              inverse_lambdas=_floats(args.inverse_lambdas), n_eval=args.n_eval, delta=args.delta,
                              gamma=args.gamma, clip=args.clip,
                              checkpoint_every=args.checkpoint_every, log_every=50)
    settings = {k: getattr(cfg, k) for k in ("steps", "batch_size", "hidden", "lr", "lambdas", "inverse_lambdas")}
    if args.max_train_minutes is not None:  # runs without a budget keep their cache tag
        settings["max_train_minutes"] = args.max_train_minutes
    if args.gamma != PAPER.gamma:  # so do runs at the paper text's exponent
        settings["gamma"] = args.gamma
    if args.clip != "joint":  # the committed runs' tags stand for the joint clip they were trained with
        settings["clip"] = args.clip
    if args.final_lr_factor != 1.0:  # so do runs at a constant learning rate
        settings["final_lr_factor"] = args.final_lr_factor
    tag = settings_hash(settings | {"seed": args.seed})
    cache = cache_dir() / "benchmarks" / "ch2_study2d"
    cache.mkdir(parents=True, exist_ok=True)
    t_start, c_start = time.perf_counter(), time.process_time()

    bank = s2d.train_bank(cfg, seed=args.seed, checkpoint_path=cache / f"{tag}.pt", device=device, progress=True,
                          time_limit_s=None if args.max_train_minutes is None else 60.0 * args.max_train_minutes,
                          keep_every=args.keep_every)
    if args.keep_every:
        print(f"kept checkpoints: {cache / tag}.step*.pt (measure them with ch2_study2d_trajectory.py --record "
              f"{args.out.with_suffix('.json')} --checkpoints {cache / tag}.step*.pt)", flush=True)
    train_s = time.perf_counter() - t_start
    bank.model.cpu()  # the measurements below run on the CPU (small models; the samples live there)
    x_test = bank.source.sample(cfg.n_eval, generator=torch.Generator().manual_seed(args.seed + 1))
    rates = s2d.member_rates(bank, x_test)
    corr = s2d.sensitivity_correlations(bank, n=cfg.n_eval, delta=cfg.delta, seed=args.seed)
    profiles = s2d.line_profiles(bank, n=cfg.line_points, window=cfg.line_window)
    rel = s2d.relative_from_profiles(profiles)
    summary = summarise(corr, rates, rel)
    try:
        matched = s2d.rate_matched_relative(profiles, rates)
    except ValueError as err:  # no L2 member within the L1 family's rates
        print(f"rate-matched Fig. 4 not computed: {err}")
        matched = None

    result = {
        "what": "The 2D Student-t study of Hepburn et al. 2022 (Fig. 2, Fig. 4 left) " + (
            "at the paper's width and learning rate, longer than the book's build"
            if (cfg.hidden, cfg.lr, cfg.final_lr_factor) == (PAPER.hidden, PAPER.lr, 1.0) else
            f"at width {cfg.hidden} and Adam lr {cfg.lr:g}"
            + (f" (cosine decay to {cfg.final_lr_factor:g}×)" if cfg.final_lr_factor != 1.0 else "")
            + ", outside the book's build"),
        "command": command, "config": dataclasses.asdict(cfg), "settings_tag": tag, "seed": args.seed,
        "steps_done": bank.steps_done, "max_train_minutes": args.max_train_minutes,
        "members": [m.name for m in bank.members], "rates": rates, "correlations": corr,
        "fig4": {k: np.asarray(v).tolist() for k, v in rel.items()}, "summary": summary,
        "fig4_profiles": {"x": profiles["x"].tolist(),
                          "members": {k: {q: np.asarray(v[q]).tolist() for q in ("D", "R")}
                                      for k, v in profiles["members"].items()}},
        **({} if matched is None else {"fig4_rate_matched": {
            k: (v if k in ("between", "skipped", "lambdas", "bits") else np.asarray(v).tolist())
            for k, v in matched.items()}}),
        "final_loss": bank.history.last("loss", 50), "train_s": round(train_s, 1),
        **({"resumed_from": bank.resumed_from,  # continued from a cached checkpoint: where, and the time in all
            "train_s_total": None if bank.train_seconds is None else round(bank.train_seconds, 1)}
           if bank.resumed_from is not None else {}),
        "wall_s": round(time.perf_counter() - t_start, 1), "cpu_s": round(time.process_time() - c_start, 1),
        **run.environment(measured_on="cpu"),
    }
    RunRecord.save(args.out, result, render_markdown(result))


if __name__ == "__main__":
    main()
