"""Cells of chapter 2 run in-process on the notebook's own source, for branches the default build cannot reach:
the pretrained-model cell ("The paper's setting: pretrained models"; CompressAI's weights cannot be had here, so
it runs with small stand-in models and with a missing asset), and the cells that read committed runs continuing
the factorized pairs (with the committed records, and without the models they continue)."""

from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from perceptual_compression.assets import AssetUnavailableError  # noqa: E402
from perceptual_compression.datasets import PatchDataset, embedded_images  # noqa: E402
from perceptual_compression.experiments import ch2_findings as findings  # noqa: E402
from perceptual_compression.experiments import ch2_images as img  # noqa: E402
from perceptual_compression.experiments import ch2_plots as plots  # noqa: E402
from perceptual_compression.models.factorized_prior import factorized_prior  # noqa: E402
from perceptual_compression.notebook import paper_vs_book  # noqa: E402
from perceptual_compression.reference import paper_value  # noqa: E402
from perceptual_compression.results import ChapterResults  # noqa: E402

from _notebook_cells import cell_source  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED_CELL = "9b3e6c40"


def _cell_source(cell_id: str) -> str:
    return cell_source(ROOT / "book" / "ch2_likelihood.ipynb", cell_id)


def _namespace(shown, notices):
    torch.manual_seed(0)
    crops = PatchDataset(embedded_images(), size=192, seed=0).batch(2)
    refs = [c[:, :64, :64] for c in crops]
    pairs = [(i, (r + s * torch.randn_like(r)).clamp(0, 1)) for i, r in enumerate(refs) for s in (0.02, 0.1)]
    return {
        "ev": SimpleNamespace(zoo_qualities=(3, 6), contrast_images=1, contrast_low=0.0, contrast_high=2.0),
        "img": img, "findings": findings, "plots": plots, "plt": plt, "pd": pd, "np": np, "paper_value": paper_value,
        "paper_vs_book": paper_vs_book, "AssetUnavailableError": AssetUnavailableError, "REF": "ch2_likelihood",
        "results": ChapterResults(chapter="ch2_likelihood", title="test", scale="small"),
        "display": shown.append, "notice": lambda kind, text, title=None: notices.append((kind, text, title)),
        "test_images": crops, "refs": refs, "pairs": pairs, "stand_in": True,
        "references": {"noise": [float((refs[i] - x).pow(2).mean()) for i, x in pairs]},
        "a_grid": np.array([0.02, 0.5, 1.0, 2.0]),
    }


def test_with_the_pretrained_models_the_cell_measures_observation5_and_fig4(monkeypatch):
    def small_zoo(qualities, **kw):
        out = {}
        for q in qualities:
            for metric in ("mse", "ms-ssim"):
                torch.manual_seed(q + (metric == "mse"))
                m = factorized_prior(8, 8).eval()
                m.update(force=True)
                out[f"{metric}-q{q}"] = m
        return out

    monkeypatch.setattr(img, "zoo_models", small_zoo)
    shown, notices = [], []
    ns = _namespace(shown, notices)
    exec(_cell_source(PRETRAINED_CELL), ns)
    plt.close("all")
    assert notices == []
    assert list(shown[0].index) == ["mse-q3", "ms-ssim-q3", "mse-q6", "ms-ssim-q6"]  # the codec scores
    assert list(shown[1].index) == ["RMSE", "mse-q3", "ms-ssim-q3", "mse-q6", "ms-ssim-q6"]  # Observation 5
    entry = {e.key: e for e in ns["results"].entries}["fig4_images_min_pretrained"]
    assert entry.paper == 0.64 and entry.status == findings.contrast_status(ns["zs"])  # the cell's own summary
    assert np.isfinite(entry.ours) and entry.ours == pytest.approx(shown[-1]["book"][0])
    assert "qualities [3, 6]" in entry.note


def test_without_the_pretrained_models_the_cell_says_so_and_reports_not_run(monkeypatch):
    def missing(qualities, **kw):
        raise AssetUnavailableError("Asset 'compressai-bmshj2018-factorized-q3' is unavailable. To provide it: ...",
                                    asset_id="compressai-bmshj2018-factorized-q3")

    monkeypatch.setattr(img, "zoo_models", missing)
    shown, notices = [], []
    ns = _namespace(shown, notices)
    exec(_cell_source(PRETRAINED_CELL), ns)
    assert shown == [] and len(notices) == 1
    kind, text, title = notices[0]
    assert kind == "missing" and title == "Pretrained models absent" and "To provide it" in text
    (entry,) = ns["results"].entries
    assert entry.key == "fig4_images_min_pretrained" and entry.status == "not-run" and entry.ours is None
    assert "compressai-bmshj2018-factorized-q3 missing" in entry.note


LONGER_CELL, SCRATCH_CELL = "c818b4fd", "9be67fb1"  # the committed runs that continue the factorized pairs


def _committed_namespace(run_fp, shown, notices):
    from perceptual_compression.results import committed_run

    return {"committed_run": committed_run, "run_fp": run_fp, "findings": findings, "img": img, "pd": pd,
            "results": ChapterResults(chapter="ch2_likelihood", title="test", scale="small"),
            "display": shown.append, "notice": lambda kind, text, title=None: notices.append((kind, text, title))}


@pytest.mark.parametrize("cell, key", [(LONGER_CELL, "fig4_images_min_longer_fine_tuning"),
                                       (SCRATCH_CELL, "fig4_images_min_from_scratch")])
def test_the_continued_factorized_runs_are_read_beside_their_models_or_said_absent(cell, key):
    from perceptual_compression.results import committed_run

    run_fp = committed_run("ch2_factorized")
    assert run_fp is not None, "benchmarks/results/ch2_factorized.json is missing from the checkout"
    shown, notices = [], []
    ns = _committed_namespace(run_fp, shown, notices)
    exec(_cell_source(cell), ns)
    assert notices == [] and [e.key for e in ns["results"].entries] == [key]
    assert list(shown[0].index.names) == ["pair", "steps"]
    # without the models they continue (no committed factorized run, or one made with other settings): a notice
    for other in (None, {**run_fp, "settings_tag": "other"}):
        shown, notices = [], []
        ns = _committed_namespace(other, shown, notices)
        exec(_cell_source(cell), ns)
        assert shown == [] and ns["results"].entries == []
        assert [(k, t) for k, _, t in notices] == [("missing", "Committed run absent")]
        assert "Make it with `python benchmarks/ch2_factorized_longer.py" in notices[0][1]
