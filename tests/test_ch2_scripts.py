"""Chapter 2's image scripts (benchmarks/ch2_factorized.py, ch2_factorized_longer.py, ch2_entropy_limited.py,
ch2_pretrained_cost.py): resuming, fine-tuning from saved models, end-to-end smoke runs, and the pretrained cell's
estimated cost."""

import pytest
import torch

from perceptual_compression.experiments import ch2_images as img
from perceptual_compression.experiments.ch2_config import EntropyLimitedConfig
from perceptual_compression.datasets import PatchDataset, embedded_images
from perceptual_compression.models.factorized_prior import factorized_prior


def test_entropy_limited_script_row_says_where_a_model_resumed_and_its_time_in_all(tmp_path, monkeypatch):
    """benchmarks/ch2_entropy_limited.py: a model continued from its cached checkpoint records where it resumed
    and its training time over both invocations, and the table shows both beside this invocation's time."""
    import json

    from _benchmark_scripts import load_script
    from perceptual_compression.paths import repo_root
    from perceptual_compression.training import loop

    torch.set_num_threads(1)
    script = load_script("ch2_entropy_limited")
    cfg = EntropyLimitedConfig(n=4, m=8, patch_size=16, batch_size=2, steps=4, checkpoint_every=2, log_every=1)
    args = (cfg, "mse", (-1.0, 1.0), 0, None, 1, 176, tmp_path / "el.pt")  # 176 px: MS-SSIM's 5 scales fit
    clock = iter(float(i) for i in range(10_000))  # the Trainer's clock, one second per reading: one per step
    monkeypatch.setattr(loop, "_clock", lambda: next(clock))
    first = script.train_one(*args, 0.0)  # the budget runs out after one step
    assert first["steps_done"] == 1 and "resumed_from" not in first
    row = script.train_one(*args, None)
    assert row["steps_done"] == 4 and row["resumed_from"] == 1
    assert row["train_s_total"] == 4.0  # 1 s in the first invocation, 3 s in this one
    rec = json.loads((repo_root() / "benchmarks" / "results" / "ch2_entropy_limited.json").read_text())
    trained = next(r for r in rec["rows"] if r["loss"] == "mse")
    trained.update(train_s=90.0, resumed_from=5000, train_s_total=1800.0)
    assert "| 1.5 min (resumed at step 5,000; 30.0 min of training in all) |" in script.render_markdown(rec)
    del trained["train_s_total"]
    assert "| 1.5 min (resumed at step 5,000; earlier training time unknown) |" in script.render_markdown(rec)


def _factorized_script(name="ch2_factorized"):
    from _benchmark_scripts import load_script

    return load_script(name)


def test_factorized_script_fine_tunes_from_a_saved_mse_model_as_in_one_go(tmp_path):
    """benchmarks/ch2_factorized.py: when the MSE model is already on disk, the MS-SSIM model fine-tuned from it
    sees the batches that follow the MSE model's (the stream state saved with it), as in a run that trains both
    at once; a file saved without that state gives a warning and another model."""
    from perceptual_compression.experiments.ch2_config import FactorizedConfig

    torch.set_num_threads(1)
    script = _factorized_script()
    cfg = FactorizedConfig(n_low=8, m_low=8, patch_size=64, batch_size=2, steps=3, msssim_steps=3, checkpoint_every=2,
                           log_every=1)

    def paths(d):
        d.mkdir()
        return {"mse": d / "mse.pt", "ms-ssim": d / "ms.pt"}

    one_go, again = paths(tmp_path / "a"), paths(tmp_path / "b")
    times = script.train_rate(cfg, 0, 0, None, one_go)
    assert set(times) == {"mse", "ms-ssim"} and all(t is not None for t in times.values())
    script.train_rate(cfg, 0, 0, None, again)
    again["ms-ssim"].unlink()
    times = script.train_rate(cfg, 0, 0, None, again)  # a rerun after the MSE model was saved
    assert times["mse"] is None and times["ms-ssim"] is not None

    def weights(p):
        return torch.load(p, weights_only=False)["state_dict"]

    a, b = weights(one_go["ms-ssim"]), weights(again["ms-ssim"])
    assert all(torch.equal(a[k], b[k]) for k in a)
    old = torch.load(again["mse"], weights_only=False)
    del old["patch_stream"]
    torch.save(old, again["mse"])
    again["ms-ssim"].unlink()
    with pytest.warns(RuntimeWarning, match="holds no patch-stream state"):
        script.train_rate(cfg, 0, 0, None, again)
    c = weights(again["ms-ssim"])
    assert not all(torch.equal(a[k], c[k]) for k in a)
    # an MSE model whose training an earlier invocation left at a checkpoint: the saved file says where it
    # resumed and holds its training time over both invocations (the record shows them)
    third = paths(tmp_path / "c")
    first = img.train_factorized(cfg, "mse", cfg.lambdas_mse[0], 0, PatchDataset(embedded_images(), size=64, flip=True,
                                 seed=0), seed=0, progress=False, steps=2, checkpoint_path=third["mse"].with_suffix(".ckpt"))
    script.train_rate(cfg, 0, 0, None, third)
    saved, whole = (torch.load(p["mse"], weights_only=False) for p in (third, one_go))
    assert saved["resumed_from"] == 2 and saved["train_seconds"] > first.train_seconds > 0
    assert whole["resumed_from"] is None and whole["train_seconds"] > 0
    assert all(torch.equal(saved["state_dict"][k], v) for k, v in whole["state_dict"].items())


def _committed_pair(tmp_path, mse_steps: int, checkpoint_every: int):
    """A tiny committed run of ch2_factorized.py (quality index 1, seed 0): the MSE model trained for
    ``mse_steps``, then the MS-SSIM model fine-tuned from it for 3 steps. Returns (script, longer script, cfg,
    paths of the two saved models)."""
    from perceptual_compression.experiments.ch2_config import FactorizedConfig

    torch.set_num_threads(1)
    script, longer = _factorized_script(), _factorized_script("ch2_factorized_longer")
    cfg = FactorizedConfig(n_low=8, m_low=8, patch_size=64, batch_size=2, steps=mse_steps, msssim_steps=3,
                           checkpoint_every=checkpoint_every, log_every=1, msssim_from_mse=True)
    paths = {"mse": tmp_path / "mse.pt", "ms-ssim": tmp_path / "ms.pt"}
    script.train_rate(cfg, 1, 0, None, paths)
    return script, longer, cfg, paths


def test_longer_fine_tuning_starts_where_the_committed_one_started(tmp_path):
    """benchmarks/ch2_factorized_longer.py: the patch stream it rebuilds is the one ch2_factorized.py saved with
    the MSE model, and its kept checkpoint at the committed run's length is that run's MS-SSIM model, weight for
    weight; the checkpoint after it is another model."""
    from perceptual_compression.training import kept_checkpoint_path

    script, longer, cfg, paths = _committed_pair(tmp_path, mse_steps=3, checkpoint_every=2)
    saved = torch.load(paths["mse"], weights_only=False)["patch_stream"]
    assert longer.stream_after_mse(cfg, 1, 0).state_dict() == saved
    assert longer.stream_after_mse(cfg, 1, 1).state_dict() != saved
    longer.fine_tune(cfg, 1, 0, None, paths["mse"], tmp_path / "long.pt", 6, 3)
    committed = script._load(cfg, paths["ms-ssim"])
    at3, at6 = (longer.load_kept(cfg, kept_checkpoint_path(tmp_path / "long.pt", k)) for k in (3, 6))
    assert longer.parameter_difference(at3, committed) == 0.0
    assert longer.parameter_difference(at6, committed) > 0.0
    with pytest.raises(ValueError, match="different parameters"):
        longer.parameter_difference(at3, factorized_prior(8, 4))


def test_from_scratch_ms_ssim_model_trains_on_the_mse_models_batches_from_its_weights(tmp_path, monkeypatch):
    """benchmarks/ch2_factorized_longer.py --start scratch: the MS-SSIM model starts from the MSE model's initial
    weights (same seed), not from the trained MSE model, on the MSE model's own batches from the first (not the
    fine-tuning's), so the distortion is the only difference; an unknown start fails at once naming the valid
    ones."""
    from perceptual_compression.training import kept_checkpoint_path, seed_everything

    _, longer, cfg, paths = _committed_pair(tmp_path, mse_steps=12, checkpoint_every=4)
    fresh = PatchDataset(embedded_images(), size=64, flip=True, seed=1).state_dict()
    assert longer.training_stream(cfg, 1, 0, "scratch").state_dict() == fresh
    after = longer.stream_after_mse(cfg, 1, 0).state_dict()
    assert longer.training_stream(cfg, 1, 0, "mse").state_dict() == after != fresh
    with pytest.raises(ValueError, match="'mse', 'scratch'"):
        longer.training_stream(cfg, 1, 0, "imagenet")
    from perceptual_compression.training import loop

    clock = iter(float(i) for i in range(10_000))  # the Trainer's clock, one second per reading: one per step
    monkeypatch.setattr(loop, "_clock", lambda: next(clock))
    first = longer.fine_tune(cfg, 1, 0, None, paths["mse"], tmp_path / "scratch.pt", 2, 1, start="scratch")
    assert first[1] is None and first[2] == 2.0  # a fresh run: all its training is this call's (2 steps)
    at1 = longer.load_kept(cfg, kept_checkpoint_path(tmp_path / "scratch.pt", 1))
    seed_everything(0)
    init = factorized_prior(8, 8)  # the weights train_factorized starts from with seed 0
    trained_mse = longer.load_model(cfg, paths["mse"])
    one_step = 1e-3 * 1.001  # Adam's first step moves a parameter by at most its lr (main 5e-4, quantiles 1e-3)
    assert 0.0 < longer.parameter_difference(at1, init) <= one_step
    assert longer.parameter_difference(trained_mse, init) > 2 * one_step  # 12 steps: far from its start
    # a rerun with more steps continues the cached run: the same weights as one uninterrupted run
    # (each call says where it resumed: the record then tells the training time of this invocation apart)
    # and its training time in all adds the earlier invocation's
    more = longer.fine_tune(cfg, 1, 0, None, paths["mse"], tmp_path / "scratch.pt", 4, 1, start="scratch")
    assert more[1] == 2 and more[2] == 4.0  # resumed at step 2; 2 s before and 2 s in this call
    assert longer.fine_tune(cfg, 1, 0, None, paths["mse"], tmp_path / "one_go.pt", 4, 1, start="scratch")[1] is None
    for k in (1, 3, 4):
        a, b = (longer.load_kept(cfg, kept_checkpoint_path(tmp_path / f"{n}.pt", k)) for n in ("scratch", "one_go"))
        assert longer.parameter_difference(a, b) == 0.0


def test_factorized_script_runs_end_to_end_and_summarises_its_own_contrast_curve(tmp_path):
    """benchmarks/ch2_factorized.py's smoke run (its docstring's command, 5 contrasts), in a fresh cache: the
    record it writes summarises Fig. 4 (right) as contrast_summary reads its own curve."""
    import json
    import os
    import subprocess
    import sys

    from perceptual_compression.paths import repo_root

    root = repo_root()
    env = {**os.environ, "PERCEPTUAL_COMPRESSION_CACHE": str(tmp_path / "cache")}
    subprocess.run([sys.executable, str(root / "benchmarks" / "ch2_factorized.py"), "--steps", "5", "--msssim-steps", "5",
                    "--n", "16", "--m", "16", "--eval-images", "2", "--obs5-references", "1", "--contrast-images", "1",
                    "--n-alpha", "5", "--threads", "1", "--out", str(tmp_path / "fp")],
                   check=True, cwd=root, env=env, capture_output=True)
    rec = json.loads((tmp_path / "fp.json").read_text())
    assert rec["contrast"]["alpha"] == [0.02, 0.5, 1.0, 1.5, 2.0] and len(rec["contrast"]["mean"]) == 5
    # Observation 5's data: TID2013 when the registry resolves it, otherwise the stand-in, flagged as such
    from perceptual_compression.assets import AssetUnavailableError
    from perceptual_compression.datasets.tid2013 import tid2013

    try:
        tid2013()
        tid_here = True
    except AssetUnavailableError:
        tid_here = False
    assert rec["obs5_stand_in"] is (not tid_here) and rec["obs5_data"].startswith("a STAND-IN") is (not tid_here)
    cs = img.contrast_summary(rec["contrast"])
    sm = rec["summary"]
    assert (sm["contrast_min"], sm["contrast_min_alpha"], sm["contrast_low_mean"], sm["contrast_high_mean"]) == (
        cs["min"], cs["alpha"], cs["low_mean"], cs["high_mean"])
    assert sm["contrast_min"] == min(rec["contrast"]["mean"]) and (tmp_path / "fp.md").exists()


def test_pretrained_cost_counts_the_cells_operations_and_multiplies_them(tmp_path):
    """benchmarks/ch2_pretrained_cost.py: the pretrained cell's operations at the paper's scale (8 qualities,
    an MSE and an MS-SSIM model each: 10 models of N = 128 and 6 of N = 192), and a smoke run whose total is
    the sum of its rows."""
    import json
    import subprocess
    import sys

    from _benchmark_scripts import load_script
    from perceptual_compression.experiments.ch2_config import Ch2Config
    from perceptual_compression.paths import repo_root

    script = load_script("ch2_pretrained_cost")
    rows = script.cell_counts(Ch2Config.for_scale("paper").evaluation)
    ops = {(r["part"], r["widths"]): r["operations"] for r in rows}
    assert ops[("evaluate_codec", (128, 192))] == 10 * 24 and ops[("evaluate_codec", (192, 320))] == 6 * 24
    assert ops[("Fig. 4 (right)", (128, 192))] == 10 * 200 * 24 and ops[("Fig. 4 (right)", (192, 320))] == 6 * 200 * 24
    assert ops[("Observation 5", (128, 192))] == 10 * 24 * (1 + 8 * 5)  # each reference and its 40 distortions
    assert {r["size"] for r in rows} == {(512, 768)}  # whole Kodak images
    small = script.cell_counts(Ch2Config.for_scale("small").evaluation)  # qualities 3 and 6, crops
    assert {(r["widths"], r["size"]) for r in small if r["kind"] == "code"} == {((128, 192), (192, 192)),
                                                                                ((192, 320), (192, 192))}
    assert script.duration(59) == "59 s" and script.duration(600) == "10 min" and script.duration(36000) == "10.0 h"

    root = repo_root()
    subprocess.run([sys.executable, str(root / "benchmarks" / "ch2_pretrained_cost.py"), "--scale", "small",
                    "--repeat", "1", "--threads", "1", "--out", str(tmp_path / "cost")], check=True, cwd=root,
                   capture_output=True)
    rec = json.loads((tmp_path / "cost.json").read_text())
    assert [r["operations"] for r in rec["rows"]] == [r["operations"] for r in small]
    assert all(r["seconds"] == pytest.approx(r["operations"] * r["seconds_each"], rel=1e-2, abs=0.1) for r in rec["rows"])
    assert rec["total_s"] == pytest.approx(sum(r["seconds"] for r in rec["rows"]), abs=0.1)
    assert "Estimated total" in (tmp_path / "cost.md").read_text()


def test_run_records_name_the_measuring_device_where_it_differs():
    """A record trained on a GPU and measured on the CPU says both; records without the field (or measured where
    they trained) read as before."""
    from _benchmark_scripts import load_script
    from perceptual_compression.paths import repo_root

    rr = load_script("run_record")
    base = {"machine": "x86_64, 16 cores visible", "torch_threads": 1, "python": "3.11", "torch": "2.5"}
    gpu = dict(base, device="cuda:0", gpu="NVIDIA H100", measured_on="cpu")
    assert rr.RunRecord.machine_line(gpu) == ("Machine: x86_64, 16 cores visible; trained on cuda:0 (NVIDIA H100), "
                                               "measured on cpu, 1 thread(s); Python 3.11, torch 2.5.")
    for rec in (dict(base, device="cpu"), dict(base, device="cpu", measured_on="cpu")):
        assert rr.RunRecord.machine_line(rec) == "Machine: x86_64, 16 cores visible; cpu, 1 thread(s); Python 3.11, torch 2.5."
    # the scripts that train and then move their models to the CPU to measure them say so in their records; those
    # that train nothing record the CPU as their device
    for name in ("ch2_study2d", "ch2_factorized", "ch2_factorized_longer"):
        assert 'run.environment(measured_on="cpu")' in (repo_root() / "benchmarks" / f"{name}.py").read_text(), name
    for name in ("ch2_study2d_trajectory", "ch2_factorized_mean_error"):
        assert 'run.device = torch.device("cpu")' in (repo_root() / "benchmarks" / f"{name}.py").read_text(), name
