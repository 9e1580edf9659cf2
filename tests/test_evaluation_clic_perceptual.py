"""CLIC perceptual-track loader and scoring, on a tiny synthetic set written in the official format
(headerless oracle.csv rows O,A,B,T with T = 0 when A was preferred; PNG files named by hash)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from perceptual_compression.assets import AssetUnavailableError
from perceptual_compression.assets.registry import asset_info
from perceptual_compression.evaluation.clic_perceptual import (
    CLIC_ASSET,
    clic_distances,
    load_clic_perceptual,
    merge_ratings,
    read_clic_csv,
    score_clic,
)
from perceptual_compression.evaluation.two_afc import two_afc_score


def mse(x, y):
    return (x - y).pow(2).flatten(1).mean(1)


def _png(folder, img):
    """Save a float image and name it by its hash, as the CLIC files are."""
    arr = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    name = hashlib.md5(arr.tobytes()).hexdigest() + ".png"
    Image.fromarray(arr).save(folder / name)
    return name


def _write_clic(folder, sizes=(12, 12, 12, 16)):
    """Originals of the given sizes, each with a mildly (σ .02) and a strongly (σ .2) noised decoding.

    Rows (one per original unless said): original 0: (O, mild, strong, 0) and the same comparison again with
    A and B swapped and label 0, i.e. one rater of two preferred the strong one; original 1: (O, strong, mild, 1);
    original 2: (O, mild, strong, 1), the raters side against MSE; original 3 (another size): (O, mild, strong, 0).
    """
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for k, s in enumerate(sizes):
        o = rng.uniform(0.2, 0.8, (s, s, 3))
        mild = _png(folder, o + rng.normal(0, 0.02, o.shape))
        strong = _png(folder, o + rng.normal(0, 0.2, o.shape))
        o = _png(folder, o)
        if k == 0:
            rows += [(o, mild, strong, 0), (o, strong, mild, 0)]
        elif k == 1:
            rows.append((o, strong, mild, 1))
        elif k == 2:
            rows.append((o, mild, strong, 1))
        else:
            rows.append((o, mild, strong, 0))
    (folder / "oracle.csv").write_text("".join(f"{o},{a},{b},{t}\n" for o, a, b, t in rows))
    (folder / "validation.csv").write_text("".join(f"{o},{a},{b}\n" for o, a, b, _ in rows))
    return rows


def test_read_and_merge_repeated_and_swapped_comparisons(tmp_path):
    rows = _write_clic(tmp_path / "d")
    assert read_clic_csv(tmp_path / "d" / "oracle.csv") == rows
    triplets, judge, counts = merge_ratings(rows + [rows[2]])
    assert triplets == [r[:3] for r in rows[:1] + rows[2:]]
    # original 0: first row prefers A (vote 0), the swapped row prefers its A = the first row's B (vote 1)
    torch.testing.assert_close(judge, torch.tensor([0.5, 1.0, 1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(counts, torch.tensor([2.0, 2.0, 1.0, 1.0], dtype=torch.float64))


def test_load_and_score_a_synthetic_clic_folder(tmp_path):
    rows = _write_clic(tmp_path / "clic_2021_perceptual_valid")    # zip layout unknown: a nested folder
    data = load_clic_perceptual(tmp_path)
    assert len(data) == 4 and data.original[0].parent.name == "clic_2021_perceptual_valid"
    torch.testing.assert_close(data.judge, torch.tensor([0.5, 1.0, 1.0, 0.0], dtype=torch.float64))
    d0, d1 = clic_distances(mse, data)
    # MSE prefers the mildly noised decoding everywhere: A in triplets 0, 2, 3 and B in triplet 1
    assert torch.equal(d1 < d0, torch.tensor([False, True, False, False]))
    # agreement: 1/2 (split raters), 1 (raters chose B), 0 (raters chose B, MSE A), 1
    assert score_clic(mse, data) == pytest.approx((0.5 + 1 + 0 + 1) / 4)
    assert score_clic(lambda x, y: -mse(x, y), data, similarity=True) == pytest.approx(score_clic(mse, data))
    assert score_clic(mse, data, batch_size=1) == pytest.approx(score_clic(mse, data))
    # without repeated comparisons the score is the organisers' eval_csv accuracy: predicted T == oracle T
    single = data.subset([1, 2, 3])
    a, b = clic_distances(mse, single)
    predicted = (a > b).long()
    oracle = torch.tensor([t for *_, t in rows[2:]])
    assert score_clic(mse, single) == pytest.approx(float((predicted == oracle).double().mean()))
    assert two_afc_score(a, b, single.judge) == pytest.approx(2 / 3)


def test_batches_split_at_size_changes_and_limit_is_evenly_spaced(tmp_path):
    _write_clic(tmp_path / "d")
    data = load_clic_perceptual(tmp_path / "d")
    sizes = [(len(b), b.ref.shape[-1]) for b in data.batches(batch_size=8)]
    assert sizes == [(3, 12), (1, 16)]
    assert [len(b) for b in data.batches(batch_size=2)] == [2, 1, 1]
    small = load_clic_perceptual(tmp_path / "d", limit=2)
    assert [p.name for p in small.original] == [data.original[0].name, data.original[3].name]


def test_images_found_by_name_and_clear_errors(tmp_path):
    rows = _write_clic(tmp_path / "d")
    (tmp_path / "d" / "images").mkdir()
    for f in (tmp_path / "d").glob("*.png"):
        f.rename(tmp_path / "d" / "images" / f.name)
    assert len(load_clic_perceptual(tmp_path / "d")) == 4      # CSV names bare files, PNGs in a sub-folder
    (tmp_path / "d" / "images" / rows[0][1]).unlink()
    with pytest.raises(FileNotFoundError, match=rows[0][1]):
        load_clic_perceptual(tmp_path / "d")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="oracle.csv"):
        load_clic_perceptual(tmp_path / "empty")
    bad = tmp_path / "bad.csv"
    bad.write_text("o.png,a.png,b.png\n")
    with pytest.raises(ValueError, match="4 columns"):
        read_clic_csv(bad)
    bad.write_text("o.png,a.png,b.png,2\n")
    with pytest.raises(ValueError, match="0 or 1"):
        read_clic_csv(bad)


def test_registry_entry_and_missing_asset(monkeypatch, tmp_path):
    asset = asset_info(CLIC_ASSET)
    assert asset.kind == "dataset" and "ch3" in asset.used_by and not asset.verifiable
    (f,) = asset.files
    assert f.url == "https://storage.googleapis.com/clic2021_public/perceptual/clic_2021_perceptual_valid.zip"
    assert f.archive == "zip" and asset.expect_count == 2730
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(tmp_path))
    with pytest.raises(AssetUnavailableError, match=CLIC_ASSET):
        load_clic_perceptual()


def test_oracle_found_by_glob_skipping_three_column_csvs(tmp_path):
    _write_clic(tmp_path / "d")
    (tmp_path / "d" / "oracle.csv").rename(tmp_path / "d" / "zz_ratings.csv")   # undocumented name
    data = load_clic_perceptual(tmp_path, csv_name="*.csv")                       # validation.csv is skipped
    assert len(data) == 4
    (tmp_path / "d" / "zz_ratings.csv").unlink()
    with pytest.raises(FileNotFoundError, match="validation.csv"):
        load_clic_perceptual(tmp_path, csv_name="*.csv")


def test_test_set_entry_carries_the_published_md5s():
    asset = asset_info("clic2021-perceptual-test")
    files = {f.name: f for f in asset.files}
    assert len(files) == 18 and not asset.verifiable          # clic_2021_test.zip has no published checksum
    assert str(files["clic_2021_perceptual_oracle.zip"].checksum) == "md5:c8f73bb863dfed677fe897dade35c89a"
    assert str(files["0.tar"].checksum) == "md5:1051e8adc4763c7f43a8bdde4007b08a"
    assert all(f.url.startswith("https://storage.googleapis.com/clic2021_public/perceptual/test/") for f in files.values())
