"""paths: the cache directory and the names of chapter runs' checkpoints."""

from __future__ import annotations

from perceptual_compression import paths


def test_run_checkpoint_names_its_training_data(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ENV_CACHE, str(tmp_path / "cache"))
    assert paths.cache_dir() == tmp_path / "cache"
    assert paths.run_checkpoint("ch3_pim_paper_0") == tmp_path / "cache" / "runs" / "ch3_pim_paper_0.pt"
    a = paths.run_checkpoint("ch4_run", "/data/openimages/train")
    assert a == tmp_path / "cache" / "runs" / "ch4_run__data_openimages_train.pt"
    # different data, different checkpoints; the same data, the same one
    assert a != paths.run_checkpoint("ch4_run", "embedded")
    assert a == paths.run_checkpoint("ch4_run", "/data/openimages/train")
    long = paths.run_checkpoint("x", "d" * 100 + "/last")
    assert long.name == "x_" + "d" * 35 + "_last.pt"   # the last 40 characters of the setting
