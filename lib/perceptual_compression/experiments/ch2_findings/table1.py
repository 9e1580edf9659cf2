"""Table 1 (Sec. 5.2; appendix E): the entropy-limited autoencoders, trained on natural images and on noise,
beside the untrained reference levels (flat grey, block means)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import ch2_images as img
from ._common import TABLE1_LOSSES, _entry, _source


# ------------------------------------------------------------------------------------ images: Table 1
def _psnrs(values: dict) -> str:
    return " / ".join(f"{values[k]:.2f}" for k in TABLE1_LOSSES)


def _claim_text(claim: dict) -> str:
    return "; ".join(f"{k.replace('_', ' ')}: {'yes' if v else 'no'}" for k, v in claim.items() if k != "holds")


def table1_reading(psnr: dict[str, float], paper_psnr: dict[str, float],
                   margin_db: float = img.GREY_MARGIN_DB) -> tuple[list[dict], list[dict]]:
    """Table 1's uniform-noise rows at 0.25 bpp on the build's models: ``psnr`` maps each training loss and
    ``"flat grey"`` to Kodak PSNR (:func:`~.ch2_images.table1_uniform_claim`). The MSE model must be the worst
    of the three; each perceptual model must beat it and a flat grey image by ``margin_db``, since the paper's
    point is image structure learned from noise (its MSE model sits at the grey level)."""
    claim = img.table1_uniform_claim(psnr, margin_db=margin_db)
    rows, entries = [], []
    for loss, pv in paper_psnr.items():
        ours = float(psnr[loss])
        if loss == "mse":
            ok = ours < min(psnr["ms-ssim"], psnr["nlpd"])
            note = "paper: the worst of the three" + ("" if ok else "; not the worst here")
        else:
            beats_mse, beats_grey = claim[f"{loss}_beats_mse"], claim[f"{loss}_beats_grey_by_{margin_db:g}_db"]
            ok = beats_mse and beats_grey
            note = ("paper: better than MSE" + ("" if beats_mse else "; not better than MSE here")
                    + ("" if beats_grey else f"; not {margin_db} dB better than a flat grey image here"))
        note += f"; a flat grey image scores {psnr['flat grey']:.2f} dB"
        quantity = f"Kodak PSNR, trained on uniform noise with {loss}, 0.25 bpp"
        rows.append({"quantity": quantity, "paper": pv, "book": ours, "note": note})
        entries.append(_entry(f"sec52_psnr_uniform_{loss}", quantity, paper=pv, ours=ours, unit="dB",
                              source="Sec. 5.2 / Table 1", status="qualitative" if ok else "differs", note=note))
    return rows, entries


def block_mean_entry(scores: dict[str, float], paper_nlpd: dict[str, float], gains: dict[str, dict[str, float]],
                     test_label: str) -> dict[str, Any]:
    """The ``"info"`` entry that sets the untrained 16×16 block-mean code (``scores``:
    :func:`~.ch2_images.block_mean_scores`) beside the paper's NLPD model trained on noise (``paper_nlpd``: its
    Table 1 row, keys ``"PSNR"``, ``"MS-SSIM"``, ``"NLPD"``), with the share of each training objective that a
    perfect block-mean code removes on noise (``gains``: :func:`~.ch2_images.noise_objective_gains`). A reference
    level, not a reproduction."""
    share = {k: f"{gains[k]['block16_gain']:.1%}" for k in TABLE1_LOSSES}
    return _entry("sec52_block_mean_reference", "Kodak PSNR of the untrained 16×16 block-mean code (real bpp "
                  f"{scores['bpp']:.3f}) beside the paper's NLPD model trained on noise", paper=paper_nlpd["PSNR"],
                  ours=scores["psnr"], unit="dB", source="Sec. 5.2 / Table 1", status="info",
                  note=f"a reference level, not a reproduction; MS-SSIM {scores['ms_ssim']:.3f} (paper's NLPD model "
                       f"{paper_nlpd['MS-SSIM']}), NLPD {scores['nlpd']:.2f} ({paper_nlpd['NLPD']}); on noise a perfect "
                       f"block-mean code removes {share['mse']} of the MSE objective, {share['ms-ssim']} of "
                       f"1 − MS-SSIM, {share['nlpd']} of NLPD; evaluated on {test_label}")


def entropy_limited_steps(run: dict) -> str:
    """The training steps of a ``ch2_entropy_limited.py`` record: one number, or one per loss where a time
    budget stopped the runs at different steps."""
    done = [r.get("steps_done", run["config"]["steps"]) for r in run["rows"] if r["loss"] != "flat grey"]
    return str(done[0]) if len(set(done)) == 1 else " / ".join(map(str, done)) + " (MSE / MS-SSIM / NLPD)"


def train_quantization(run: dict) -> str:
    """How the record's models were quantized in training; runs made before the option used eq. 15's soft
    values, hence the default."""
    return run["config"].get("train_quantization", "soft")


ENTROPY_LIMITED_COLUMNS = ("bpp", "psnr", "paper_psnr", "ms_ssim", "paper_ms_ssim", "nlpd", "paper_nlpd",
                           "psnr_soft_decoder_input", "psnr_mean_restored", "psnr_soft_mean_restored")


def entropy_limited_table(run: dict) -> pd.DataFrame:
    """The record's Kodak scores per loss beside the paper's, with its diagnostics (eq. 15's soft values fed to
    the decoder; each image's channel means restored) where it has them."""
    rows = pd.DataFrame(run["rows"]).set_index("loss")
    return rows[[k for k in ENTROPY_LIMITED_COLUMNS if k in rows]].rename(index={"flat grey": "flat grey image (0 bits)"})


def entropy_limited_reading(run: dict, name: str, paper_psnr: dict) -> tuple[dict[str, Any], str]:
    """The status entry of a ``ch2_entropy_limited.py`` record saved as ``benchmarks/results/<name>.json``
    (Table 1's uniform-noise rows, :func:`~.ch2_images.table1_uniform_claim`) and one sentence saying whether
    the paper's claim holds in it."""
    rc, steps, train_q = run["config"], entropy_limited_steps(run), train_quantization(run)
    psnr = {r["loss"]: r["psnr"] for r in run["rows"]}
    claim = img.table1_uniform_claim(psnr)
    note = (_claim_text(claim) + f"; flat grey {psnr['flat grey']:.2f} dB; {steps} steps, N={rc['n']}, "
            f"train_quantization={train_q!r}; " + _source(run, name))
    suffix = name.removeprefix("ch2_entropy_limited")
    entry = _entry(f"sec52_psnr_uniform_committed_run{suffix}",
                   f"Kodak PSNR MSE / MS-SSIM / NLPD, trained on uniform noise, 0.25 bpp (committed run, N={rc['n']}, "
                   f"{steps} steps" + (", eq. 15's soft values in training)" if train_q == "soft" else ")"),
                   paper=_psnrs(paper_psnr), ours=_psnrs(psnr), unit="dB", source="Sec. 5.2 / Table 1",
                   status="qualitative" if claim["holds"] else "differs", note=note)
    said = ("The paper's claim holds" if claim["holds"] else "The paper's claim does not hold")
    return entry, f"{said} in the run of N={rc['n']}, {steps} steps: {note}"


def soft_input_reading(run: dict) -> str | None:
    """For a run trained with eq. 15's soft values: whether Table 1's claim holds when the models are scored
    with those soft values fed to the decoder (not a codec; the reading of the caption the run tests). None for
    other runs."""
    if train_quantization(run) != "soft":
        return None
    scores = {r["loss"]: r.get("psnr_soft_decoder_input", float("nan")) for r in run["rows"] if r["loss"] != "flat grey"}
    scores["flat grey"] = next(r["psnr"] for r in run["rows"] if r["loss"] == "flat grey")
    claim = img.table1_uniform_claim(scores)
    return (f"Scored with eq. 15's soft values fed to the decoder (not a codec), the claim "
            f"{'holds' if claim['holds'] else 'does not hold'} either: " + _claim_text(claim))


def noise_rows(kind: str, run: dict, gains: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """One row per model of a rescored ``ch2_entropy_limited.py`` record trained on ``kind`` noise: its Kodak
    scores, its PSNR with each image's channel means restored, the slope of its block means against the
    originals' on Kodak (``run["levels"]``), and the share of its training objective that perfect 16×16 block
    means remove on that noise (``gains``: :func:`~.ch2_images.noise_objective_gains`; None for flat grey)."""
    slopes = run["levels"]["block_means"]["test"]
    rows = []
    for r in run["rows"]:
        grey = r["loss"] == "flat grey"
        rows.append({"noise": kind, "model": r["loss"], "Kodak PSNR": r["psnr"], "MS-SSIM": r["ms_ssim"], "NLPD": r["nlpd"],
                     "PSNR, channel means restored": r["psnr_mean_restored"],
                     "block-mean slope on Kodak": slopes["flat grey" if grey else f"trained with {r['loss']}"]["slope"],
                     "block-mean share of the training loss": None if grey else gains[r["loss"]]["block16_gain"]})
    return rows


def noise_entry(kind: str, run: dict, name: str, paper_psnr: dict) -> dict[str, Any]:
    """The ``"info"`` entry of a run trained on a noise that is not the paper's (``kind``, e.g.
    ``"uniform-ranged"``): its Kodak PSNR and whether Table 1's ordering holds on it."""
    psnr = {r["loss"]: r["psnr"] for r in run["rows"]}
    claim = img.table1_uniform_claim(psnr)
    return _entry(f"sec52_noise_{kind.split('-')[1]}",
                  f"Kodak PSNR MSE / MS-SSIM / NLPD of models trained on {kind!r} noise "
                  "(NOT the paper's noise: a test of why the noise rows differ)",
                  paper=_psnrs(paper_psnr), ours=_psnrs(psnr), unit="dB", source="Sec. 5.2 / Table 1", status="info",
                  note=f"flat grey {psnr['flat grey']:.2f} dB; Table 1's ordering on this noise: "
                       + ("yes" if claim["psnr_order_as_paper"] else "no")
                       + f"; benchmarks/results/{name}.json: `{run['command']}`")
