"""Chapter 2, Fig. 4 (right) over training: reading the records of ``benchmarks/ch2_factorized_longer.py``
(MS-SSIM models fine-tuned longer, or trained from scratch, kept at several steps)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .contrast import contrast_summary
from .factorized import channel_letters, lost_channels


def fine_tuning_rows(record: dict, at: Sequence[float] = (0.02, 0.1, 0.5, 2.0)) -> list[dict]:
    """Rows (pair, steps) of a ``benchmarks/ch2_factorized_longer.py`` record (MS-SSIM models fine-tuned
    longer, or trained from scratch with ``--start scratch``): each kept MS-SSIM model's Kodak
    scores, its Fig. 4 (right) ratio against the MSE model at the contrasts nearest to ``at`` and its minimum
    over the record's contrasts, the distortion and rate factors and the means' share of its MSE at
    ``alpha = 0.1`` (and the means' share at 0.02)."""
    alpha = np.asarray(record["alpha"], dtype=np.float64)
    cols = [int(np.argmin(np.abs(alpha - a))) for a in at]
    j01 = int(np.argmin(np.abs(alpha - 0.1)))
    rows = []
    for pair, p in record["pairs"].items():
        for k in p["kept"]:
            ratio = np.asarray(k["ratio"], dtype=np.float64)
            i_min = int(np.argmin(ratio))
            rows.append({"pair": pair, "steps": k["step"], "Kodak bpp": k["kodak"]["bpp"], "Kodak PSNR": k["kodak"]["psnr"],
                         "Kodak MS-SSIM": k["kodak"]["ms_ssim"], **{f"ratio α = {alpha[j]:g}": ratio[j] for j in cols},
                         "min ratio": ratio[i_min], "α of min": alpha[i_min], "D factor α = 0.1": k["distortion_ratio"][j01],
                         "R factor α = 0.1": k["rate_ratio"][j01], "means' share α = 0.02": k["mean_share"][0],
                         "means' share α = 0.1": k["mean_share"][1],
                         **({"lost channels": lost_channel_names(k)} if "channels" in k else {})})
    return rows


def lost_channel_names(kept: dict) -> str:
    """The colour channels (``"R"``, ``"G"``, ``"B"``) of a kept row's :func:`msssim_channels` numbers that
    :func:`lost_channels` names, joined (``""``: none)."""
    return channel_letters(lost_channels(kept["channels"]))


def healthy_pairs(record: dict) -> list[str]:
    """The pairs of a ``benchmarks/ch2_factorized_longer.py`` record whose MS-SSIM model lost no colour channel
    (:func:`lost_channels`) at any kept step (all of them where the record predates that check)."""
    return [name for name, p in record["pairs"].items()
            if not any("channels" in k and lost_channels(k["channels"]) for k in p["kept"])]


def fine_tuning_mean_ratio(record: dict, pairs: Sequence[str] | None = None) -> dict[int, np.ndarray]:
    """Per kept step of a ``benchmarks/ch2_factorized_longer.py`` record, the ratio averaged over its pairs
    (``pairs``: those named only; default all) ("average across rates", as in Fig. 4 right) at each of the
    record's contrasts."""
    if pairs is not None and (not pairs or set(pairs) - set(record["pairs"])):
        raise ValueError(f"pairs must be a non-empty subset of {sorted(record['pairs'])}, got {pairs!r}")
    pairs = [p for name, p in record["pairs"].items() if pairs is None or name in pairs]
    steps = [k["step"] for k in pairs[0]["kept"]]
    if any([k["step"] for k in p["kept"]] != steps for p in pairs):
        raise ValueError("the pairs of the record were kept at different steps")
    return {s: np.mean([np.asarray(p["kept"][i]["ratio"], dtype=np.float64) for p in pairs], axis=0)
            for i, s in enumerate(steps)}


def kept_minima(record: dict, pairs: Sequence[str] | None = None) -> list[dict]:
    """Per kept step of a ``benchmarks/ch2_factorized_longer.py`` record, in step order: the minimum over the
    contrasts of the ratio averaged over the pairs (``pairs``: those named only; :func:`fine_tuning_mean_ratio`),
    the contrast where it falls, and the mean ratio at low (``alpha <= 0.1``) and high (``alpha >= 1.5``)
    contrast."""
    alpha = np.asarray(record["alpha"], dtype=np.float64)
    if not (alpha <= 0.1 + 1e-12).any() or not (alpha >= 1.5 - 1e-12).any():
        raise ValueError("the record's contrasts must include some at or below 0.1 and some at or above 1.5")
    return [{"steps": step, **contrast_summary({"alpha": alpha, "mean": ratio}, low_below=0.1 + 1e-12,
                                               high_above=1.5 - 1e-12)}
            for step, ratio in sorted(fine_tuning_mean_ratio(record, pairs).items())]
