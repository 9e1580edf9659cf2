"""The 2D Student-t study (Sec. 3 and 5.1; appendix C): Observations 2-4 (Fig. 2) and Fig. 4 (left), on the
build's bank and on the committed banks (one bank, several seeds, longer runs at the paper's batch, eq. 13 as
printed, equal coded rate, the captions' weight p(x))."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...reference import paper_value
from ..ch2_study2d import record_command
from ._common import DIN_MIN_RHO, PAPER_DR, REF, _commands, _entry, _source


def centre_tail(rel: dict) -> tuple[float, float]:
    """The mean ratio of a Fig. 4 (left) curve near the centre (x < 1) and its median in the tail (x > 5)."""
    x, mean = np.asarray(rel["x"]), np.asarray(rel["mean_raw"])
    return float(mean[x < 1].mean()), float(np.median(mean[x > 5]))


def _ratio_status(centre: float, tail: float) -> str:
    """Fig. 4 (left): the weighted model gains near the mode (ratio below 1) and loses in the tail (above 1)."""
    return "qualitative" if centre < 1 < tail else "differs"


# ------------------------------------------------------------------------------------ Observations 2-4 (Fig. 2)
def obs2_status(rho_ds) -> str:
    """Observation 2 over a bank's rates: ρ(D_s, p) negative at every rate."""
    return "qualitative" if (np.asarray(rho_ds) < 0).all() else "differs"


def obs3_status(rho_dr) -> str:
    """Observation 3 over a bank's rates (and seeds): ρ(D_r/RMSE, p) positive at every one."""
    return "qualitative" if (np.asarray(rho_dr) > 0).all() else "differs"


def obs4_status(rho_din) -> str:
    """Observation 4 over a bank's rates: ρ(D_in/RMSE, p) above :data:`DIN_MIN_RHO` at some rate."""
    return "qualitative" if np.max(rho_din) > DIN_MIN_RHO else "differs"


# ------------------------------------------------------------------------------------ the build's 2D bank
def fig2_reading(corr: pd.DataFrame) -> tuple[list[dict], list[dict]]:
    """Observations 2-4 (Fig. 2) on the build's bank, from
    :func:`~perceptual_compression.experiments.ch2_study2d.sensitivity_correlations` joined with the coded rates
    (``bits_per_sample``): D_s negative at every rate, D_r/RMSE positive at every rate, D_in/RMSE above
    :data:`DIN_MIN_RHO` somewhere."""
    ds, dr, din = corr["rho_Ds"], corr["rho_Dr"], corr["rho_Din"]
    at_bits = corr.loc[din.idxmax(), "bits_per_sample"]
    rows = [
        {"quantity": "ρ(D_s, p) over rates", "paper": "−0.68 … −0.4; −0.18 at 4.67 bits",
         "book": f"{ds.min():.2f} … {ds.max():.2f}",
         "note": "negative at every rate, weakest at the highest rate" if obs2_status(ds) == "qualitative"
         else "sign differs at some rate"},
        {"quantity": "ρ(D_r/RMSE, p) over rates", "paper": "0.49 (2.03 bits) → 0.31 (4.67 bits)",
         "book": f"{dr.min():.2f} … {dr.max():.2f}",
         "note": "" if obs3_status(dr) == "qualitative" else "our continuous D_r is anti-correlated with p (see below)"},
        {"quantity": "max ρ(D_in/RMSE, p)", "paper": paper_value(REF, "fig2_rho_din_max"),
         "book": round(float(din.max()), 3),
         "note": f"at {at_bits:.2f} bits; along the x-axis only: {corr['rho_Din_xaxis'].max():.2f}"},
    ]
    entries = [
        _entry("fig2_ds", "ρ(D_s, p(x1)), range over rates", paper="-0.68 ... -0.4 (-0.18 at 4.67 bits)",
               ours=[round(float(v), 3) for v in ds], unit="Spearman", source="Sec. 3, Fig. 2",
               status=obs2_status(ds),
               note="Observation 2; our rates: " + ", ".join(f"{v:.2f}" for v in corr["bits_per_sample"])),
        _entry("fig2_dr", "ρ(D_r/RMSE, p(x1)), range over rates", paper=PAPER_DR, ours=[round(float(v), 3) for v in dr],
               unit="Spearman", source="Sec. 3, Fig. 2", status=obs3_status(dr),
               note="Observation 3 with the continuous f = d(e(x)), a denoiser: its median gain is "
                    + ", ".join(f"{a:.2f}" for a in corr["gain_f_mode"]) + " at the 10% most probable points vs "
                    + ", ".join(f"{b:.2f}" for b in corr["gain_f_tail"])
                    + " at the 10% least probable (it contracts most at the mode); rounded f: "
                    + ", ".join(f"{v:.2f}" for v in corr["rho_Dr_rounded"])
                    + " (a 1e-3 displacement almost never changes the code, and the mode sits at a cell centre)"),
        _entry("fig2_din", "max ρ(D_in/RMSE, p(x1))", paper=paper_value(REF, "fig2_rho_din_max"), ours=float(din.max()),
               unit="Spearman", source="Sec. 3, Fig. 2", status=obs4_status(din),
               note="Observation 4, y = e(x) before rounding, random directions; x-axis displacements: "
                    f"{corr['rho_Din_xaxis'].max():.2f}"),
    ]
    return rows, entries


def fig4_2d_reading(rel: dict) -> tuple[list[dict], dict[str, Any]]:
    """Fig. 4 (left) on the build's bank, paired by equal λ
    (:func:`~perceptual_compression.experiments.ch2_study2d.relative_from_profiles`): the mean ratio near the
    centre (x < 1) and its median in the tail (x > 5); ``"qualitative"`` for a gain at the centre and a loss in
    the tail."""
    x, raw = np.asarray(rel["x"]), np.asarray(rel["raw"])
    centre, tail = centre_tail(rel)
    rows = [{"quantity": "mean ratio P_{p^0.1}/P near the centre (x<1)",
             "paper": paper_value(REF, "fig4_2d_max_average_gain"), "book": centre,
             "note": "paper: maximum of the mean fitted curve"},
            {"quantity": "median ratio in the tail (x>5)", "paper": "> 1 (loss)", "book": tail, "note": ""}]
    entry = _entry("fig4_2d_centre",
                   "P_{p^0.1}/P near the centre of the 2D Student-t, paired by equal lambda (mean over rates)",
                   paper=paper_value(REF, "fig4_2d_max_average_gain"), ours=centre, unit="ratio",
                   source="Sec. 5.1, Fig. 4 left", status=_ratio_status(centre, tail),
                   note=f"tail (x>5) median ratio {tail:.2f}; centre ratio per lambda "
                        + ", ".join(f"{lm:g}: {v:.2f}" for lm, v in zip(rel["lambdas"], raw[:, x < 1].mean(1))))
    return rows, entry


# ------------------------------------------------------------------------------------ the 2D study
def study2d_correlations(run: dict) -> pd.DataFrame:
    """One row per autoencoder of a ``ch2_study2d.py`` record: its correlations (Fig. 2) beside its coded rate,
    in rate order."""
    rates = pd.DataFrame(run["rates"])[["member", "bits_per_sample"]]
    return pd.DataFrame(run["correlations"]).merge(rates, on="member").sort_values("bits_per_sample")


def study2d_entries(run: dict, name: str = "ch2_study2d", *, suffix: str = "committed_run",
                    label: str = "committed run, width 100") -> list[dict[str, Any]]:
    """Status entries of a committed 2D bank (``name``, by default ``ch2_study2d``): Observations 2-4 over its
    rates (signs as the paper's: D_s negative, D_r positive, D_in above :data:`DIN_MIN_RHO` somewhere) and
    Fig. 4 (left)'s centre ratio. Keys end in ``suffix``; ``label`` names the run in each quantity."""
    corr, sm = study2d_correlations(run), run["summary"]
    ds, dr, din = (corr[k] for k in ("rho_Ds", "rho_Dr", "rho_Din"))
    src = _source(run, name, record_command)
    rates_txt = "rates " + ", ".join(f"{v:.2f}" for v in corr["bits_per_sample"]) + " bits; "
    return [
        _entry(f"fig2_ds_{suffix}", f"ρ(D_s, p(x1)), range over rates ({label})",
               paper="-0.68 ... -0.4 (-0.18 at 4.67 bits)", ours=[round(float(v), 3) for v in ds], unit="Spearman",
               source="Sec. 3, Fig. 2", status=obs2_status(ds), note=rates_txt + src),
        _entry(f"fig2_dr_{suffix}", f"ρ(D_r/RMSE, p(x1)), range over rates ({label})",
               paper=PAPER_DR, ours=[round(float(v), 3) for v in dr], unit="Spearman", source="Sec. 3, Fig. 2",
               status=obs3_status(dr), note=rates_txt + src),
        _entry(f"fig2_din_{suffix}", f"max ρ(D_in/RMSE, p(x1)) ({label})",
               paper=paper_value(REF, "fig2_rho_din_max"), ours=float(din.max()), unit="Spearman",
               source="Sec. 3, Fig. 2", status=obs4_status(din),
               note=f"at {corr.loc[din.idxmax(), 'bits_per_sample']:.2f} bits; " + src),
        _entry(f"fig4_2d_centre_{suffix}",
               f"P_{{p^0.1}}/P near the centre of the 2D Student-t, mean over rates ({label.replace(', width 100', '')})",
               paper=paper_value(REF, "fig4_2d_max_average_gain"), ours=sm["fig4_centre_ratio"], unit="ratio",
               source="Sec. 5.1, Fig. 4 left", status=_ratio_status(sm["fig4_centre_ratio"], sm["fig4_tail_median_ratio"]),
               note=f"tail (x>5) median ratio {sm['fig4_tail_median_ratio']:.2f}; centre ratio per lambda "
                    + ", ".join(f"{k}: {v:.2f}" for k, v in sm["fig4_centre_ratio_per_lambda"].items()) + "; " + src),
    ]


def clip_comparison(joint: dict, per_model: dict) -> pd.DataFrame:
    """Two committed 2D banks that differ only in how their gradients were clipped (one norm over the bank, one
    per autoencoder), side by side: one row per ``L1`` member (matched by name, in rate order) with its coded
    rate and its Fig. 2 correlations in each bank. Raises if the records differ in anything but the clip."""
    from ..ch2_study2d import record_clip

    cj, cp = joint["config"], per_model["config"]  # as across_seeds compares records: every config key
    diff = sorted(k for k in (set(cj) | set(cp)) - {"clip"} if cj.get(k) != cp.get(k)) + (
        ["seed"] if joint["seed"] != per_model["seed"] else [])
    clips = (record_clip(joint), record_clip(per_model))
    if diff or clips != ("joint", "per-model"):
        raise ValueError(f"the records must differ only in their clip (joint, then per-model); they differ in "
                         f"{diff or []} and have clips {clips}")
    a, b = study2d_correlations(joint), study2d_correlations(per_model)
    a, b = a[a["member"].str.startswith("L1-")], b[b["member"].str.startswith("L1-")]
    m = a.merge(b, on="member", suffixes=(" (joint)", " (per model)"))
    cols = ["member"] + [f"{k} ({c})" for k in ("bits_per_sample", "rho_Ds", "rho_Dr", "rho_Din")
                         for c in ("joint", "per model")]
    return m[cols].set_index("member")


def study2d_reading(run: dict) -> str:
    """One line: the committed bank's numbers beside the paper's."""
    corr, sm = study2d_correlations(run), run["summary"]
    dr = corr["rho_Dr"]
    return (f"max ρ(D_in/RMSE, p) {corr['rho_Din'].max():.2f} (paper 0.90); ρ(D_r/RMSE, p) {dr.min():.2f} … "
            f"{dr.max():.2f} (paper 0.49 → 0.31); Fig. 4 centre ratio {sm['fig4_centre_ratio']:.2f} (paper 0.86), "
            f"tail median {sm['fig4_tail_median_ratio']:.2f}")


def seed_table(spread: dict) -> pd.DataFrame:
    """Per λ, over the seeds of :func:`~perceptual_compression.experiments.ch2_study2d.across_seeds`: the rate,
    ρ(D_r/RMSE, p) and Fig. 4 (left)'s centre ratio (mean, sd and range)."""
    m, sd = spread["mean"], spread["sd"]
    return pd.DataFrame({"λ": spread["lambdas"], "bits (mean)": m["bits"],
                         "ρ(D_r/RMSE, p) mean": m["rho_Dr"], "ρ(D_r) sd": sd["rho_Dr"],
                         "ρ(D_r) max": spread["rho_Dr"].max(0),
                         "centre ratio mean": m["centre_ratio"], "centre ratio sd": sd["centre_ratio"],
                         "centre ratio min": spread["centre_ratio"].min(0),
                         "centre ratio max": spread["centre_ratio"].max(0)})


def per_seed_centres(spread: dict) -> str:
    """``"seed 0: 0.95, seed 1: ..."``: Fig. 4 (left)'s centre ratio, mean over rates, per seed."""
    return ", ".join(f"seed {s}: {v:.2f}" for s, v in zip(spread["seeds"], spread["centre_mean"]))


def seed_entries(spread: dict, runs: Sequence[dict]) -> list[dict[str, Any]]:
    """Status entries of the 2D bank over several seeds: ρ(D_r/RMSE, p) positive at every seed and rate, and the
    seed-mean centre ratio below 1 with the tail above."""
    m, sd = spread["mean"], spread["sd"]
    return [
        _entry("fig2_dr_seeds",
               f"max over {len(runs)} seeds and all rates of ρ(D_r/RMSE, p(x1)) (committed runs, width 100)",
               paper=PAPER_DR, ours=float(spread["rho_Dr"].max()), unit="Spearman", source="Sec. 3, Fig. 2",
               status=obs3_status(spread["rho_Dr"]),
               note="mean ± sd over seeds per lambda: " + ", ".join(
                   f"{lm:g}: {a:.2f} ± {b:.2f}" for lm, a, b in zip(spread["lambdas"], m["rho_Dr"], sd["rho_Dr"]))
                    + "; " + _commands(runs, record_command)),
        _entry("fig4_2d_centre_seeds",
               f"P_{{p^0.1}}/P near the centre, mean over rates, mean over {len(runs)} seeds (committed runs)",
               paper=paper_value(REF, "fig4_2d_max_average_gain"), ours=float(m["centre_mean"]), unit="ratio",
               source="Sec. 5.1, Fig. 4 left", status=_ratio_status(m["centre_mean"], m["tail_median"]),
               note=f"per seed {per_seed_centres(spread)}; sd over seeds {sd['centre_mean']:.2f}; per lambda mean ± sd "
                    + ", ".join(f"{lm:g}: {a:.2f} ± {b:.2f}"
                                for lm, a, b in zip(spread["lambdas"], m["centre_ratio"], sd["centre_ratio"]))
                    + f"; tail median {m['tail_median']:.2f}; " + _commands(runs, record_command)),
    ]


def run_ends(curve: pd.DataFrame, batch: int) -> pd.DataFrame:
    """The last row per (λ, seed) of a :func:`~perceptual_compression.experiments.ch2_study2d.correlations_by_samples`
    table among the runs trained at ``batch``: where each longer run ended."""
    at = curve[curve["batch"] == batch]
    return at.loc[at.groupby(["lambda", "seed"])["steps"].idxmax()]


def longer_entries(ends: pd.DataFrame, runs: Sequence[dict]) -> list[dict[str, Any]]:
    """Status entries of the longer 2D banks (paper's batch), from :func:`run_ends`."""
    return [
        _entry("fig2_dr_longer",
               "max over rates and seeds of ρ(D_r/RMSE, p(x1)), banks trained at batch 4096 (committed runs)",
               paper=PAPER_DR, ours=float(ends["rho_Dr"].max()), unit="Spearman", source="Sec. 3, Fig. 2",
               status=obs3_status(ends["rho_Dr"]),
               note="at the end of each run, per lambda and seed: " + ", ".join(
                   f"{int(r.steps)} steps, λ {r['lambda']:g}, seed {int(r.seed)}: {r.rho_Dr:.2f}"
                   for _, r in ends.iterrows()) + "; " + _commands(runs, record_command)),
        _entry("fig2_din_longer",
               "max over rates and seeds of ρ(D_in/RMSE, p(x1)), banks trained at batch 4096 (committed runs)",
               paper=paper_value(REF, "fig2_rho_din_max"), ours=float(ends["rho_Din"].max()), unit="Spearman",
               source="Sec. 3, Fig. 2", status=obs4_status(ends["rho_Din"]),
               note="per lambda and seed: " + ", ".join(
                   f"λ {r['lambda']:g}, seed {int(r.seed)}: {r.rho_Din:.2f}" for _, r in ends.iterrows())),
    ]


EQ13_PRINTED = "P_L1/P_L2 centre (eq. 13 printed)"


def eq13_entry(readings: pd.DataFrame) -> dict[str, Any] | None:
    """The status entry for eq. 13 read as printed, over the committed seeds (every row of ``readings`` but the
    first, the build's bank); None without committed seeds. Always ``"info"``: the paper's orientation is
    ambiguous."""
    committed = readings.iloc[1:]
    if not len(committed):
        return None
    return _entry(
        "fig4_2d_centre_eq13_as_printed",
        f"P_L1/P_L2 (eq. 13 as printed) near the centre, mean over rates, mean over {len(committed)} committed seeds",
        paper=paper_value(REF, "fig4_2d_max_average_gain"), ours=float(committed[EQ13_PRINTED].mean()), unit="ratio",
        source="appendix C, eq. 13; Fig. 4 left", status="info",
        note="the paper's orientation is ambiguous (Sec. 5.1 vs eq. 13). Read as printed, below 1 means the plain model "
             "does better, contrary to Sec. 5.1's reading. Per seed: "
             + ", ".join(f"{v:.2f}" for v in committed[EQ13_PRINTED])
             + "; orientation-free geometric centre ratio P_L2/P_L1 per seed: "
             + ", ".join(f"{v:.2f}" for v in committed["geometric centre (P_L2/P_L1)"])
             + " (above 1: the weighted model is behind)")


def rate_matched_entry(per_bank: Sequence[dict]) -> dict[str, Any] | None:
    """Fig. 4 (left) at equal coded rate: the centre ratio averaged over the committed banks (every row but the
    first) or, with none, over the build's bank alone; None without any bank."""
    if not per_bank:
        return None
    chosen = list(per_bank[1:]) or list(per_bank)
    centre = float(np.mean([b["centre, equal rate"] for b in chosen]))
    tail = float(np.mean([b["tail, equal rate"] for b in chosen]))
    return _entry(
        "fig4_2d_centre_rate_matched", "P_L2/P_L1 near the centre at equal coded rate, mean over the compared rates"
        + (f" and {len(chosen)} committed seeds (8 lambdas)" if per_bank[1:] else " (build bank)"),
        paper=paper_value(REF, "fig4_2d_max_average_gain"), ours=centre, unit="ratio", source="Sec. 5.1, Fig. 4 left",
        status=_ratio_status(centre, tail),
        note="; ".join(f"{b['bank']}: centre {b['centre, equal rate']:.2f} (equal lambda, same members: "
                       f"{b['centre, equal λ (same members)']:.2f}), geometric {b['geometric, equal rate']:.2f}, tail "
                       f"median {b['tail, equal rate']:.2f}, not compared {b['not compared']}" for b in per_bank))


def gamma1_entry(rel: dict, collapsed: Sequence[float], run: dict) -> dict[str, Any]:
    """Fig. 4 (left) with the captions' weight p(x) (γ = 1), from
    :func:`~perceptual_compression.experiments.ch2_study2d.without_collapsed_pairs`'s curves ``rel`` and the
    λ it left out."""
    x, raw = np.asarray(rel["x"]), np.asarray(rel["raw"])
    centre, tail = centre_tail(rel)
    return _entry(
        "fig4_2d_centre_gamma1",
        "P_{p^1}/P near the centre, mean over the non-collapsed rates (committed run, weight p(x) as in the captions)",
        paper=paper_value(REF, "fig4_2d_max_average_gain"), ours=centre, unit="ratio",
        source="Sec. 5.1, Fig. 4 left (caption)", status=_ratio_status(centre, tail),
        note=f"lambdas {list(collapsed)} left out (their L2 member codes < 0.05 bits/sample); per lambda "
             + ", ".join(f"{lm:g}: {v:.2f}" for lm, v in zip(rel["lambdas"], raw[:, x < 1].mean(1)))
             + f"; tail median {tail:.3g}; `{record_command(run)}`")
