"""The factorized-prior pairs (Sec. 4 and 5.1; appendix D): Observation 5 (Fig. 3) and Fig. 4 (right), on the
build's pairs, the pretrained ones and the committed runs (fine-tuned longer, trained from scratch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ch2_images as img
from ...reference import paper_value
from ._common import REF, _entry, _source


# ------------------------------------------------------------------------------------ images: factorized pairs
LOW_CONTRAST = 0.5  # contrasts alpha below this count as low (Fig. 4 right: the paper's gain is at alpha = 0.08)


def contrast_status(summary: dict[str, float]) -> str:
    """The status-page verdict on Fig. 4 (right), from the minimum of the mean ratio P_MS-SSIM / P_MSE and the
    contrast where it falls (``summary["min"]``, ``summary["alpha"]``, as in
    :func:`~.ch2_images.contrast_summary`): ``"qualitative"`` when the MS-SSIM model is ahead (ratio below 1)
    at some low contrast (alpha < :data:`LOW_CONTRAST`), the paper's finding (its largest gain, 0.64, is at
    alpha = 0.08); ``"differs"`` otherwise. The paper's number itself is not required to be met. A curve above 1
    everywhere differs even when it is lower at low contrast than at high: the MS-SSIM model gains nowhere."""
    return "qualitative" if summary["min"] < 1 and summary["alpha"] < LOW_CONTRAST else "differs"


def contrast_rows(summary: dict[str, float], *, label: str = "") -> list[dict]:
    """The two rows of the chapter's paper-vs-book table for Fig. 4 (right): the minimum mean ratio with the
    contrast where it falls, and the low- vs high-contrast mean ratio (for a summary with
    :func:`~.ch2_images.contrast_summary`'s default thresholds, which the row names). ``label`` is appended to the first
    quantity's name (for example ``", pretrained"``)."""
    return [{"quantity": f"min mean P_MS-SSIM/P_MSE{label}", "paper": paper_value(REF, "fig4_images_max_average_gain"),
             "book": summary["min"],
             "note": f"at α = {summary['alpha']:.2f} (paper: α = 0.08)"},
            {"quantity": "mean ratio, α < 0.5 vs α > 1.5", "paper": "lower at low contrast",
             "book": f"{summary['low_mean']:.2f} vs {summary['high_mean']:.2f}", "note": ""}]


def contrast_note(summary: dict[str, float]) -> str:
    """The results-entry note for Fig. 4 (right): where the minimum falls and the two ends of the axis (default
    thresholds, as in :func:`contrast_rows`)."""
    return (f"at alpha={summary['alpha']:.2f}; mean ratio alpha<0.5: {summary['low_mean']:.2f}, "
            f"alpha>1.5: {summary['high_mean']:.2f}")


FIG4_RIGHT = "min mean P_MS-SSIM/P_MSE along the contrast axis"


def contrast_entry(key: str, summary: dict[str, float] | None, *, what: str = "", note: str = "") -> dict[str, Any]:
    """The status entry of one Fig. 4 (right) measurement: :func:`contrast_status` on ``summary``
    (:func:`~.ch2_images.contrast_summary`), or ``"not-run"`` without one (``note`` then says what is missing).
    ``what`` is appended to the quantity's name; ``note`` follows :func:`contrast_note`."""
    notes = ([] if summary is None else [contrast_note(summary)]) + ([note] if note else [])
    return _entry(key, FIG4_RIGHT + what, paper=paper_value(REF, "fig4_images_max_average_gain"),
                  ours=None if summary is None else summary["min"], unit="ratio", source="Sec. 5.1, Fig. 4 right",
                  status="not-run" if summary is None else contrast_status(summary), note="; ".join(notes))


def observation5_reading(obs5: dict[str, dict[str, dict]], stand_in: bool) -> tuple[list[dict], list[dict]]:
    """Observation 5 (Fig. 3) on the build's models, from
    :func:`~perceptual_compression.experiments.ch2_images.observation5` arranged per reference and model (with
    the ``"RMSE"`` row): per reference, the best ρ(D_in) over the models, ``"qualitative"`` when it beats RMSE's
    correlation. ``stand_in``: the reference is a perceptual distance standing in for human scores (said in
    every row and note)."""
    rows, entries = [], []
    for ref_name, by_model in obs5.items():
        rmse = by_model["RMSE"]["rho_Dr"]
        best_in = max(r["rho_Din"] for m, r in by_model.items() if m != "RMSE")
        best_r = max(r["rho_Dr"] for m, r in by_model.items() if m != "RMSE")
        rows.append({"quantity": f"max ρ(D_in, {ref_name})", "paper": paper_value(REF, "fig3_rho_din_max"),
                     "book": best_in,
                     "note": f"RMSE: {rmse:.2f}; max ρ(D_r): {best_r:.2f}"
                             + (" (stand-in reference, not MOS)" if stand_in else "")})
        entries.append(_entry(f"obs5_din_{ref_name}", f"max ρ(D_in, {ref_name})",
                              paper=paper_value(REF, "fig3_rho_din_max"), ours=best_in, unit="Spearman",
                              source="Sec. 4, Fig. 3 (TID2013 MOS)",
                              status="qualitative" if best_in > rmse else "differs",
                              note=("stand-in: " if stand_in else "") + f"RMSE gives {rmse:.2f}"))
    return rows, entries


def factorized_entries(run: dict) -> list[dict[str, Any]]:
    """Status entries of the committed factorized pairs at appendix D's lower-rate widths (``ch2_factorized``):
    Observation 5 per reference (max ρ(D_in) above RMSE's) and Fig. 4 (right) (:func:`contrast_status`)."""
    smf, width = run["summary"], run["config"]["n_low"]
    src = _source(run, "ch2_factorized")
    out = [_entry(f"obs5_din_{name}_committed_run", f"max ρ(D_in, {name}) (committed run, N = {width})",
                  paper=paper_value(REF, "fig3_rho_din_max"), ours=v["max_rho_Din"], unit="Spearman",
                  source="Sec. 4, Fig. 3 (TID2013 MOS)",
                  status="qualitative" if v["max_rho_Din"] > v["rho_rmse"] else "differs",
                  note=("stand-in reference, not MOS; " if run["obs5_stand_in"] else "")
                       + f"RMSE {v['rho_rmse']:.2f}, max ρ(D_r) {v['max_rho_Dr']:.2f}; " + src)
           for name, v in smf["obs5"].items()]
    cs = {"min": smf["contrast_min"], "alpha": smf["contrast_min_alpha"], "low_mean": smf["contrast_low_mean"],
          "high_mean": smf["contrast_high_mean"]}
    out.append(contrast_entry("fig4_images_min_committed_run", cs, what=f" (committed run, N = {width})", note=src))
    return out


def rate_factor_entry(contrast: dict) -> dict[str, Any] | None:
    """Where the MS-SSIM model spends its bits along the contrast axis: the peak of bpp_MS-SSIM / bpp_MSE (mean
    over the pairs) and its value at the highest contrast. ``"qualitative"`` when it spends more on some
    low-contrast (α < 1) images and less on the highest-contrast ones, the re-allocation Sec. 5.1 describes.
    None for a record without the rate factor."""
    if "rate_ratio" not in contrast:
        return None
    a = np.asarray(contrast["alpha"])
    r_fac = np.asarray(contrast["rate_ratio"]).mean(0)
    d_fac = np.asarray(contrast["distortion_ratio"]).mean(0)
    i = int(np.argmax(r_fac))
    return _entry(
        "fig4_images_rate_factor_committed_run",
        "bits re-allocated by the MS-SSIM model along the contrast axis: peak of bpp_MS-SSIM / bpp_MSE, "
        f"and its value at alpha = {a[-1]:g} (committed run)",
        paper="more resources to the probable (low-contrast) images",
        ours=[round(float(r_fac[i]), 3), round(float(r_fac[-1]), 3)], unit="bpp ratio", source="Sec. 5.1, Fig. 4 right",
        status="qualitative" if r_fac[i] > 1 > r_fac[-1] and a[i] < 1 else "differs",
        note=f"peak at alpha={a[i]:.2f}; the MSE factor (MSE_MS-SSIM / MSE_MSE) is {d_fac.min():.2f} at its lowest "
             f"and {d_fac[0]:.2f} at alpha={a[0]:g}, so P = MSE / bpp favours the MSE model everywhere")


def kept_entry(run: dict, key: str, what: str) -> dict[str, Any]:
    """The status entry of a ``ch2_factorized_longer.py`` record (``what``: what its steps are): the mean
    ratio's minimum at the last kept step, over the pairs whose MS-SSIM model lost no colour channel
    (:func:`~.ch2_images.healthy_pairs`), judged by :func:`contrast_status` (below 1 at low contrast)."""
    healthy = img.healthy_pairs(run)
    dropped = sorted(set(run["pairs"]) - set(healthy))
    per_step = img.kept_minima(run, healthy)
    last = per_step[-1]
    return _entry(
        key, f"min mean P_MS-SSIM/P_MSE along the contrast axis after {last['steps']:,} {what} "
             f"(committed run, {len(run['alpha'])} contrasts"
             + (f"; pair(s) {', '.join(dropped)} left out: a colour channel lost, img.lost_channels)" if dropped else ")"),
        paper=paper_value(REF, "fig4_images_max_average_gain"), ours=last["min"], unit="ratio",
        source="Sec. 5.1, Fig. 4 right", status=contrast_status(last),
        note=f"at alpha={last['alpha']:g}; minimum (alpha), mean alpha<=0.1 / alpha>=1.5 per kept step: " + ", ".join(
            f"{r['steps']:,} steps {r['min']:.2f} ({r['alpha']:g}), {r['low_mean']:.2f} / {r['high_mean']:.2f}"
            for r in per_step) + f"; {run['path']}: `{run['command']}`")
