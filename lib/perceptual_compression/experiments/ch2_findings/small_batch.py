"""Appendix E.1 (Fig. 20): batch-size-1 training with NLPD against MSE."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import _entry, _source


# ------------------------------------------------------------------------------------ images: batch size 1
def small_batch_reading(res, steps: int) -> tuple[list[dict], dict[str, Any]]:
    """Appendix E.1 (Fig. 20) on the build's runs
    (:class:`~perceptual_compression.experiments.ch2_images.SmallBatchResult`, ``steps`` batch-size-1 steps per
    seed): the test-MSE ratio NLPD model / MSE model averaged over seeds and evaluations after the first,
    ``"qualitative"`` below 1."""
    ratio = np.asarray(res.ratio)
    mean_ratio = float(ratio[:, 1:].mean())
    final_mse = {k: float(np.asarray(v)[:, -1].mean()) for k, v in res.test_mse.items()}
    rows = [{"quantity": "mean test-MSE ratio NLPD/MSE during training", "paper": "< 1 on average", "book": mean_ratio,
             "note": f"final ratio per seed: {', '.join(f'{v:.3f}' for v in ratio[:, -1])}"}]
    entry = _entry("e1_ratio", "mean E_test MSE(NLPD model) / E_test MSE(MSE model), batch size 1", paper="< 1 on average",
                   ours=mean_ratio, unit="ratio", source="Appendix E.1, Fig. 20",
                   status="qualitative" if mean_ratio < 1 else "differs",
                   note=f"{ratio.shape[0]} seeds, {steps} steps; final test MSE (mean over seeds): MSE model "
                        f"{final_mse['mse']:.4f}, NLPD model {final_mse['nlpd']:.4f}")
    return rows, entry


def small_batch_rows(summary: dict) -> list[dict[str, Any]]:
    """The paper-vs-book rows of a ``ch2_small_batch.py`` record (appendix E.1, Fig. 20)."""
    first = summary["first_step_below_1"]
    final = summary["final_test_mse"]
    return [
        {"quantity": "mean test-MSE ratio NLPD/MSE during training", "paper": "< 1 on average",
         "book": summary["mean_ratio"], "note": f"second half of training: {summary['mean_ratio_second_half']:.3f}"},
        {"quantity": "seed-mean ratio below 1", "paper": "on average",
         "book": f"{100 * summary['fraction_of_evals_below_1']:.0f}% of evaluations",
         "note": f"first at step {first}" if first is not None else "never"},
        {"quantity": "final ratio per seed", "paper": "",
         "book": ", ".join(f"{v:.3f}" for v in summary["final_ratio_per_seed"]),
         "note": f"final test MSE: MSE model {final['mse']:.5f}, NLPD model {final['nlpd']:.5f}"}]


def small_batch_entry(run: dict) -> dict[str, Any]:
    """The status entry of a ``ch2_small_batch.py`` record: ``"qualitative"`` when the NLPD model's test MSE is
    below the MSE model's on average over training, as Fig. 20 shows."""
    rc, sm = run["config"], run["summary"]
    return _entry("e1_ratio_committed_run",
                  "mean E_test MSE(NLPD model) / E_test MSE(MSE model), batch size 1 (committed run)",
                  paper="< 1 on average", ours=sm["mean_ratio"], unit="ratio", source="Appendix E.1, Fig. 20",
                  status="qualitative" if sm["mean_ratio"] < 1 else "differs",
                  note=f"{len(run['rows'])} seeds, {rc['steps']} steps, N={rc['n']}, lr {rc['lr']:g}; second half "
                       f"{sm['mean_ratio_second_half']:.3f}; " + _source(run, "ch2_small_batch"))
