"""2AFC scoring and the BAPPS folder loader, on a tiny synthetic 2AFC set."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from perceptual_compression.evaluation.two_afc import (
    TwoAFCSet,
    find_2afc_subsets,
    human_ceiling,
    load_bapps_2afc,
    load_2afc_dir,
    score_metric,
    two_afc_agreement,
    two_afc_score,
)


def mse(x, y):
    return (x - y).pow(2).flatten(1).mean(1)


def test_agreement_formula_including_ties():
    d0 = [1.0, 2.0, 1.0]
    d1 = [2.0, 1.0, 1.0]
    judge = [0.25, 0.75, 0.9]           # fraction of raters preferring p1
    # triplet 0: metric prefers p0 -> agrees with 75 %; triplet 1: prefers p1 -> 75 %; tie -> 50 %
    np.testing.assert_allclose(two_afc_agreement(d0, d1, judge), [0.75, 0.75, 0.5])
    assert two_afc_score(d0, d1, judge) == pytest.approx(2.0 / 3.0)
    assert human_ceiling(judge) == pytest.approx((0.75 + 0.75 + 0.9) / 3)


def _write_subset(root, name, n, seed):
    """ref: random patch; p0: small noise; p1: large noise; judge: most raters prefer p0 (j = 0.2) except
    the last triplet, where p1 is the small-noise one and j = 0.9."""
    rng = np.random.default_rng(seed)
    d = root / name
    for sub in ("ref", "p0", "p1", "judge"):
        (d / sub).mkdir(parents=True)
    judges = []
    for i in range(n):
        ref = rng.uniform(0.2, 0.8, (16, 16, 3))
        small = np.clip(ref + rng.normal(0, 0.02, ref.shape), 0, 1)
        large = np.clip(ref + rng.normal(0, 0.2, ref.shape), 0, 1)
        p0, p1, j = (small, large, 0.2) if i < n - 1 else (large, small, 0.9)
        for sub, img in (("ref", ref), ("p0", p0), ("p1", p1)):
            Image.fromarray((img * 255).round().astype(np.uint8)).save(d / sub / f"{i:06d}.png")
        np.save(d / "judge" / f"{i:06d}.npy", np.array([j], dtype=np.float32))
        judges.append(j)
    return judges


def test_load_and_score_a_synthetic_bapps_folder(tmp_path):
    root = tmp_path / "2afc" / "val"
    _write_subset(root, "traditional", 5, 0)
    _write_subset(root, "cnn", 3, 1)
    found = find_2afc_subsets(tmp_path)
    assert set(found) == {"traditional", "cnn"}
    sets = load_bapps_2afc(tmp_path)
    assert list(sets) == ["traditional", "cnn"]                # BAPPS order
    t = sets["traditional"]
    assert len(t) == 5 and t.ref.shape == (5, 3, 16, 16) and 0 <= float(t.ref.min()) and float(t.ref.max()) <= 1
    torch.testing.assert_close(t.judge, torch.tensor([0.2, 0.2, 0.2, 0.2, 0.9]))
    # MSE always picks the small-noise patch: agreement 0.8 on the first four triplets, 0.9 on the last
    assert score_metric(mse, t) == pytest.approx((4 * 0.8 + 0.9) / 5, abs=1e-6)
    # a similarity used as a distance by mistake inverts every choice
    assert score_metric(lambda a, b: -mse(a, b), t) == pytest.approx((4 * 0.2 + 0.1) / 5, abs=1e-6)
    assert score_metric(lambda a, b: -mse(a, b), t, similarity=True) == pytest.approx(score_metric(mse, t))
    assert score_metric(mse, t, batch_size=2) == pytest.approx(score_metric(mse, t))
    assert len(load_2afc_dir(found["cnn"], limit=2)) == 2


def test_loader_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="lacks"):
        load_2afc_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_bapps_2afc(tmp_path)


def test_set_validation():
    x = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError):
        TwoAFCSet("bad", x, x, x, torch.tensor([0.5, 1.5]))
