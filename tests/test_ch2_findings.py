"""Chapter 2's committed runs read into tables and status entries (experiments.ch2_findings): each status rule
on small records made to fall either side of it, and the committed records themselves."""

import numpy as np
import pandas as pd
import pytest

from perceptual_compression.experiments import ch2_findings as cm
from perceptual_compression.experiments import ch2_images as img
from perceptual_compression.results import ChapterResults, committed_run

RUN = {"date": "2026-01-02T03:04:05", "command": "python benchmarks/x.py --seed 0"}


def _committed(name):
    """A record committed with the repository (benchmarks/results/): its absence is a failure, not a skip."""
    run = committed_run(name)
    assert run is not None, f"benchmarks/results/{name}.json is missing from the checkout"
    return run


def _added(entries):
    """Every entry is accepted by ChapterResults.add as it is."""
    results = ChapterResults(chapter="ch2_likelihood", title="test", scale="small")
    for e in entries:
        results.add(**e)
    return {e.key: e for e in results.entries}


def _study2d(dr=(0.1, -0.2, 0.3), centre=0.9, tail=1.2):
    members = ["L1-λ2", "L1-λ6", "L1-λ20"]
    return {**RUN,
            "correlations": [{"member": m, "rho_Ds": -0.5, "rho_Dr": r, "rho_Din": d}
                             for m, r, d in zip(members, dr, (0.2, 0.8, 0.4))],
            "rates": [{"member": m, "bits_per_sample": b, "other": 0} for m, b in zip(members, (3.0, 1.0, 2.0))],
            "summary": {"fig4_centre_ratio": centre, "fig4_tail_median_ratio": tail,
                        "fig4_centre_ratio_per_lambda": {"2": 0.8, "6": 1.0}}}


def test_study2d_rows_follow_the_rate_and_its_entries_read_each_observation():
    run = _study2d()
    corr = cm.study2d_correlations(run)
    assert list(corr["member"]) == ["L1-λ6", "L1-λ20", "L1-λ2"] and list(corr["bits_per_sample"]) == [1.0, 2.0, 3.0]
    e = _added(cm.study2d_entries(run))
    assert e["fig2_ds_committed_run"].status == "qualitative" and e["fig2_ds_committed_run"].ours == [-0.5] * 3
    assert e["fig2_dr_committed_run"].ours == [-0.2, 0.3, 0.1] and e["fig2_dr_committed_run"].status == "differs"
    assert e["fig2_din_committed_run"].ours == 0.8 and e["fig2_din_committed_run"].note.startswith("at 1.00 bits; ")
    assert e["fig4_2d_centre_committed_run"].status == "qualitative"
    assert "2: 0.80, 6: 1.00" in e["fig4_2d_centre_committed_run"].note
    assert e["fig2_ds_committed_run"].note.endswith("benchmarks/results/ch2_study2d.json (2026-01-02): "
                                                     "`python benchmarks/x.py --seed 0`")
    e = _added(cm.study2d_entries(_study2d(dr=(0.1, 0.2, 0.3), centre=1.1)))
    assert e["fig2_dr_committed_run"].status == "qualitative"
    assert e["fig4_2d_centre_committed_run"].status == "differs"  # no gain at the centre
    assert cm.study2d_reading(run).startswith("max ρ(D_in/RMSE, p) 0.80 (paper 0.90); ρ(D_r/RMSE, p) -0.20 … 0.30")


def test_clip_comparison_sets_two_banks_side_by_side_and_names_the_run_in_its_entries():
    cfg = {"hidden": 100, "steps": 10, "batch_size": 8, "lr": 1e-3, "lambdas": [2, 6, 20]}
    joint = {**_study2d(), "seed": 0, "config": cfg}
    per = {**_study2d(dr=(0.4, 0.5, 0.6)), "seed": 0, "config": {**cfg, "clip": "per-model"}}
    t = cm.clip_comparison(joint, per)
    assert list(t.index) == ["L1-λ6", "L1-λ20", "L1-λ2"]  # rate order
    assert list(t["rho_Dr (joint)"]) == [-0.2, 0.3, 0.1] and list(t["rho_Dr (per model)"]) == [0.5, 0.6, 0.4]
    assert list(t.columns[:2]) == ["bits_per_sample (joint)", "bits_per_sample (per model)"]
    with pytest.raises(ValueError, match=r"differ in \['steps'\]"):
        cm.clip_comparison(joint, {**per, "config": {**per["config"], "steps": 11}})
    with pytest.raises(ValueError, match="clips"):
        cm.clip_comparison(per, joint)  # the joint record first
    e = _added(cm.study2d_entries(per, "ch2_study2d_per_model", suffix="per_model_clip", label="each clipped alone"))
    assert set(e) == {"fig2_ds_per_model_clip", "fig2_dr_per_model_clip", "fig2_din_per_model_clip",
                      "fig4_2d_centre_per_model_clip"}
    assert e["fig2_dr_per_model_clip"].quantity.endswith("(each clipped alone)")
    assert e["fig2_dr_per_model_clip"].status == "qualitative"
    assert "benchmarks/results/ch2_study2d_per_model.json" in e["fig2_ds_per_model_clip"].note


def _spread(rho_dr):
    rho_dr = np.asarray(rho_dr, dtype=float)
    centre = np.array([[0.9, 1.0], [0.8, 1.2]])
    return {"seeds": [0, 1], "lambdas": [2.0, 6.0], "rho_Dr": rho_dr, "centre_ratio": centre,
            "centre_mean": centre.mean(1), "tail_median": np.array([1.3, 1.1]),
            "mean": {"bits": np.array([1.0, 2.0]), "rho_Dr": rho_dr.mean(0), "centre_ratio": centre.mean(0),
                     "centre_mean": centre.mean(), "tail_median": 1.2},
            "sd": {"rho_Dr": rho_dr.std(0), "centre_ratio": centre.std(0), "centre_mean": centre.mean(1).std()}}


def test_seed_entries_ask_for_every_seed_and_rate():
    runs = [RUN, {**RUN, "command": "second"}]
    spread = _spread([[0.1, 0.2], [0.3, 0.05]])
    table = cm.seed_table(spread)
    assert list(table["ρ(D_r) max"]) == [0.3, 0.2] and list(table["centre ratio min"]) == [0.8, 1.0]
    assert cm.per_seed_centres(spread) == "seed 0: 0.95, seed 1: 1.00"
    e = _added(cm.seed_entries(spread, runs))
    assert e["fig2_dr_seeds"].ours == 0.3 and e["fig2_dr_seeds"].status == "qualitative"
    assert e["fig2_dr_seeds"].note.endswith("`python benchmarks/x.py --seed 0`; `second`")
    assert e["fig4_2d_centre_seeds"].ours == pytest.approx(0.975) and e["fig4_2d_centre_seeds"].status == "qualitative"
    e = _added(cm.seed_entries(_spread([[0.1, 0.2], [0.3, -0.01]]), runs))
    assert e["fig2_dr_seeds"].status == "differs"  # one seed at one rate is enough to fail


def test_run_ends_take_the_last_step_of_each_run_at_the_batch():
    curve = pd.DataFrame({"lambda": [6, 6, 6, 20, 6], "seed": [0, 0, 1, 0, 0], "steps": [100, 900, 500, 300, 5000],
                          "batch": [4096, 4096, 4096, 4096, 256], "rho_Dr": [0.1, -0.1, 0.2, 0.3, 0.9],
                          "rho_Din": [0.5, 0.6, 0.2, 0.1, 0.9]})
    ends = cm.run_ends(curve, 4096)
    assert sorted(zip(ends["lambda"], ends["seed"], ends["steps"])) == [(6, 0, 900), (6, 1, 500), (20, 0, 300)]
    e = _added(cm.longer_entries(ends, [RUN]))
    assert e["fig2_dr_longer"].ours == 0.3 and e["fig2_dr_longer"].status == "differs"
    assert "900 steps, λ 6, seed 0: -0.10" in e["fig2_dr_longer"].note
    assert e["fig2_din_longer"].ours == 0.6 and e["fig2_din_longer"].status == "qualitative"


def test_eq13_and_rate_matched_entries_use_the_committed_banks_when_there_are_any():
    readings = pd.DataFrame({"bank": ["build", "seed 0", "seed 1"], cm.EQ13_PRINTED: [5.0, 0.8, 1.0],
                             "geometric centre (P_L2/P_L1)": [0.1, 1.1, 1.2]})
    assert cm.eq13_entry(readings.iloc[:1]) is None
    e = cm.eq13_entry(readings)
    assert e["ours"] == pytest.approx(0.9) and e["status"] == "info" and "Per seed: 0.80, 1.00" in e["note"]

    def bank(name, centre, tail):
        return {"bank": name, "centre, equal rate": centre, "tail, equal rate": tail, "geometric, equal rate": 1.0,
                "centre, equal λ (same members)": centre, "not compared": []}

    assert cm.rate_matched_entry([]) is None
    only_build = cm.rate_matched_entry([bank("build", 0.5, 2.0)])
    assert only_build["ours"] == 0.5 and only_build["status"] == "qualitative" and only_build["quantity"].endswith("(build bank)")
    e = cm.rate_matched_entry([bank("build", 0.5, 2.0), bank("seed 0", 1.1, 2.0), bank("seed 1", 1.3, 2.0)])
    assert e["ours"] == pytest.approx(1.2) and e["status"] == "differs" and "2 committed seeds" in e["quantity"]
    assert e["note"].startswith("build: centre 0.50")  # every bank in the note, the build's too
    _added([only_build, e, cm.eq13_entry(readings)])


def test_gamma1_reads_the_centre_and_the_tail():
    rel = {"x": np.array([0.0, 0.5, 2.0, 6.0, 7.0]), "lambdas": [2.0, 6.0],
           "raw": np.array([[0.5, 0.7, 1.0, 2.0, 2.0], [1.5, 1.3, 1.0, 0.5, 0.5]]),
           "mean_raw": np.array([1.0, 1.0, 1.0, 1.25, 1.25])}
    assert cm.centre_tail(rel) == (1.0, 1.25)
    e = cm.gamma1_entry(rel, [20.0], RUN)
    assert e["status"] == "differs" and "lambdas [20.0] left out" in e["note"] and "2: 0.60, 6: 1.40" in e["note"]
    rel["mean_raw"] = np.array([0.9, 0.9, 1.0, 1.25, 1.25])
    assert cm.gamma1_entry(rel, [], RUN)["status"] == "qualitative"


def test_contrast_status_rows_note_and_entry():
    s = {"min": 0.6, "alpha": 0.1, "low_mean": 0.65, "high_mean": 1.3}
    assert cm.contrast_status(s) == "qualitative"
    assert cm.contrast_status({**s, "min": 1.2}) == "differs"  # lower at low contrast, yet above 1 everywhere
    assert cm.contrast_status({**s, "alpha": 0.8}) == "differs"  # the MS-SSIM model is ahead only at mid contrast
    assert cm.contrast_status({**s, "low_mean": 1.3}) == "qualitative"  # the minimum decides, not the means
    rows = cm.contrast_rows(s, label=", pretrained")
    assert rows[0] == {"quantity": "min mean P_MS-SSIM/P_MSE, pretrained", "paper": 0.64, "book": 0.6,
                       "note": "at α = 0.10 (paper: α = 0.08)"}
    assert rows[1]["book"] == "0.65 vs 1.30"
    assert cm.contrast_note(s) == "at alpha=0.10; mean ratio alpha<0.5: 0.65, alpha>1.5: 1.30"
    e = cm.contrast_entry("k", s, what=", pretrained models", note="q3")
    assert (e["ours"], e["status"], e["paper"]) == (0.6, "qualitative", 0.64)
    assert e["quantity"] == "min mean P_MS-SSIM/P_MSE along the contrast axis, pretrained models"
    assert e["note"] == "at alpha=0.10; mean ratio alpha<0.5: 0.65, alpha>1.5: 1.30; q3"
    absent = cm.contrast_entry("k", None, note="needs the weights")
    assert (absent["ours"], absent["status"], absent["note"]) == (None, "not-run", "needs the weights")
    _added([e, absent])


def test_factorized_entries_and_the_rate_factor():
    run = {**RUN, "config": {"n_low": 128}, "obs5_stand_in": True,
           "summary": {"obs5": {"nlpd": {"max_rho_Din": 0.9, "rho_rmse": 0.8, "max_rho_Dr": 0.7},
                                "ms-ssim": {"max_rho_Din": 0.5, "rho_rmse": 0.8, "max_rho_Dr": 0.7}},
                       "contrast_min": 1.2, "contrast_min_alpha": 0.05, "contrast_low_mean": 1.4, "contrast_high_mean": 1.6}}
    e = _added(cm.factorized_entries(run))
    assert e["obs5_din_nlpd_committed_run"].status == "qualitative" and e["obs5_din_ms-ssim_committed_run"].status == "differs"
    assert e["obs5_din_nlpd_committed_run"].note.startswith("stand-in reference, not MOS; RMSE 0.80")
    f4 = e["fig4_images_min_committed_run"]
    assert f4.ours == 1.2 and f4.status == "differs" and "(committed run, N = 128)" in f4.quantity
    assert f4.note.startswith("at alpha=0.05; mean ratio alpha<0.5: 1.40, alpha>1.5: 1.60; benchmarks/results/ch2_factorized")

    alpha = [0.1, 0.5, 2.0]
    assert cm.rate_factor_entry({"alpha": alpha}) is None
    moved = {"alpha": alpha, "rate_ratio": [[1.2, 1.0, 0.8], [1.0, 1.0, 0.9]], "distortion_ratio": [[2.0, 1.5, 1.2]] * 2}
    r = cm.rate_factor_entry(moved)
    assert r["ours"] == [1.1, 0.85] and r["status"] == "qualitative" and r["note"].startswith("peak at alpha=0.10")
    flat = {**moved, "rate_ratio": [[0.9, 1.0, 1.2]] * 2}  # more bits at high contrast: no re-allocation
    assert cm.rate_factor_entry(flat)["status"] == "differs"


def test_kept_entry_reads_the_last_kept_step_of_the_committed_fine_tuning():
    run = _committed("ch2_factorized_longer")
    e = cm.kept_entry(run, "k", "MS-SSIM fine-tuning steps")
    # the committed record (benchmarks/results/ch2_factorized_longer.json): at its last kept step, 4,500, the
    # mean ratio is lowest at alpha = 0.5, 1.24, above 1: the MS-SSIM model is ahead nowhere
    assert e["ours"] == pytest.approx(1.2406, abs=1e-4) and e["key"] == "k" and e["status"] == "differs"
    assert e["note"].startswith("at alpha=0.5; ")
    assert "after 4,500 MS-SSIM fine-tuning steps" in e["quantity"]
    assert e["note"].endswith(f"`{run['command']}`")


def _table1_run(psnr, **config):
    rows = [{"loss": k, "psnr": v, "psnr_soft_decoder_input": v + 10, "bpp": 0.2} for k, v in psnr.items()]
    return {**RUN, "config": {"n": 64, "steps": 5000, **config}, "rows": rows}


def test_entropy_limited_readings_judge_table1_as_the_build_does():
    paper = {"mse": 13.17, "ms-ssim": 18.92, "nlpd": 21.21}
    near_grey = {"mse": 13.0, "ms-ssim": 13.5, "nlpd": 13.4, "flat grey": 13.1}
    run = _table1_run(near_grey)
    entry, reading = cm.entropy_limited_reading(run, "ch2_entropy_limited_20k", paper)
    assert entry["key"] == "sec52_psnr_uniform_committed_run_20k" and entry["status"] == "differs"
    assert entry["ours"] == "13.00 / 13.50 / 13.40" and entry["paper"] == "13.17 / 18.92 / 21.21"
    assert "eq. 15's soft values in training" in entry["quantity"]  # a record without the option trained soft
    assert reading.startswith("The paper's claim does not hold in the run of N=64, 5000 steps: ms-ssim beats mse: yes")
    assert "train_quantization='soft'" in entry["note"]
    # fed eq. 15's soft values, every trained model gains 10 dB over grey; the order stays MS-SSIM > NLPD: no
    assert cm.soft_input_reading(run).endswith("psnr order as paper: no")
    as_paper = _table1_run({"mse": 13.0, "ms-ssim": 18.0, "nlpd": 21.0, "flat grey": 13.1}, train_quantization="round")
    entry, reading = cm.entropy_limited_reading(as_paper, "ch2_entropy_limited", paper)
    assert entry["key"] == "sec52_psnr_uniform_committed_run" and entry["status"] == "qualitative"
    assert reading.startswith("The paper's claim holds") and cm.soft_input_reading(as_paper) is None
    table = cm.entropy_limited_table(as_paper)
    assert list(table.columns) == ["bpp", "psnr", "psnr_soft_decoder_input"]
    assert list(table.index)[-1] == "flat grey image (0 bits)"
    uneven = _table1_run(near_grey)
    for r, done in zip(uneven["rows"], (5000, 4200, 3900)):
        r["steps_done"] = done
    assert cm.entropy_limited_steps(uneven) == "5000 / 4200 / 3900 (MSE / MS-SSIM / NLPD)"
    assert cm.entropy_limited_steps(run) == "5000"
    e = cm.noise_entry("uniform-ranged", as_paper, "ch2_entropy_limited_ranged", paper)
    assert e["key"] == "sec52_noise_ranged" and e["status"] == "info" and "ordering on this noise: yes" in e["note"]
    _added([entry, e])


def test_small_batch_rows_and_entry():
    summary = {"mean_ratio": 0.97, "mean_ratio_second_half": 0.95, "fraction_of_evals_below_1": 0.625,
               "first_step_below_1": None, "final_ratio_per_seed": [0.9, 1.05],
               "final_test_mse": {"mse": 0.01, "nlpd": 0.009}}
    rows = cm.small_batch_rows(summary)
    assert rows[1]["book"] == "62% of evaluations" and rows[1]["note"] == "never"
    assert rows[2]["book"] == "0.900, 1.050"
    run = {**RUN, "config": {"steps": 2500, "n": 128, "lr": 1e-4}, "rows": [{}, {}, {}], "summary": summary}
    e = cm.small_batch_entry(run)
    assert e["status"] == "qualitative" and e["note"].startswith("3 seeds, 2500 steps, N=128, lr 0.0001; second half 0.950")
    assert cm.small_batch_entry({**run, "summary": {**summary, "mean_ratio": 1.01}})["status"] == "differs"


def test_the_committed_records_read_as_the_chapter_reports_them():
    """Regression on the committed records: the findings the chapter's text states."""
    run = _committed("ch2_study2d")
    e = {x["key"]: x for x in cm.study2d_entries(run)}
    assert e["fig2_ds_committed_run"]["status"] == "qualitative"  # Observation 2 holds
    assert e["fig2_dr_committed_run"]["status"] == "differs"  # Observation 3 does not (see the chapter)
    assert e["fig2_din_committed_run"]["status"] == "qualitative"
    # the same bank with each autoencoder clipped alone: what the chapter's reading of the comparison says
    pm = _committed("ch2_study2d_per_model")
    t = cm.clip_comparison(run, pm)  # raises unless the two differ only in the clip
    assert pm["command"] == ("python benchmarks/ch2_study2d.py --threads 1 --steps 15000 "
                             "--out benchmarks/results/ch2_study2d_per_model")
    assert (t["rho_Ds (per model)"] - t["rho_Ds (joint)"]).abs().max() < 0.02
    assert (t["rho_Dr (per model)"] < 0).all() and (t["rho_Dr (joint)"] < 0).all()  # Observation 3 absent both ways
    din = t.loc["L1-λ20", ["rho_Din (joint)", "rho_Din (per model)"]]
    assert din.iloc[0] < 0 < din.iloc[1]  # positive one rate earlier with the per-autoencoder clip
    assert abs(t["rho_Din (per model)"].max() - t["rho_Din (joint)"].max()) < 0.02


# ------------------------------------------------------------------------------------ the build's own results
def test_observation1_reading_takes_the_paper_noise_level():
    obs1 = [{"distance": d, "sigma": s, "rho_sensitivity_logp": v, "rho_rmse_logp": s / 10}
            for d, s, v in [("NLPD", 1.0, 0.4), ("NLPD", 5.0, -0.9), ("MS-SSIM", 1.0, 0.1), ("MS-SSIM", 5.0, 0.9)]]
    rows, entries = cm.observation1_reading(obs1, 1.0, {"NLPD": 0.55, "MS-SSIM": 0.35})
    e = _added(entries)
    assert e["obs1_nlpd"].ours == 0.4 and e["obs1_nlpd"].status == "qualitative" and e["obs1_nlpd"].paper == 0.55
    assert e["obs1_ms-ssim"].ours == 0.1 and e["obs1_ms-ssim"].status == "differs"  # 0.2 is the threshold
    assert [r["quantity"] for r in rows] == ["ρ(NLPD/RMSE, log p) at σ=1", "ρ(MS-SSIM/RMSE, log p) at σ=1",
                                              "ρ(RMSE/RMSE, log p)"]
    # RMSE's own row reports no invented number: the ratio is constant; it gives RMSE's correlation at sigma = 1
    assert rows[2]["book"] == "— (constant)" and rows[2]["note"].endswith("RMSE itself vs log p: 0.10 (Fig. 6, blue)")
    rows, _ = cm.observation1_reading([{k: v for k, v in r.items() if k != "rho_rmse_logp"} for r in obs1], 1.0,
                                      {"NLPD": 0.55})
    assert rows[1]["note"] == "constant ratio: ρ undefined, 0 by definition"


def _corr(dr):
    return pd.DataFrame({"rho_Ds": [-0.6, -0.2], "rho_Dr": dr, "rho_Din": [0.1, 0.7], "rho_Din_xaxis": [0.3, 0.4],
                         "rho_Dr_rounded": [0.0, 0.05], "gain_f_mode": [0.2, 0.9], "gain_f_tail": [1.0, 1.0],
                         "bits_per_sample": [1.5, 4.0]})


def test_fig2_reading_of_the_build_bank():
    rows, entries = cm.fig2_reading(_corr([-0.3, 0.1]))
    e = _added(entries)
    assert e["fig2_ds"].status == "qualitative" and e["fig2_ds"].note == "Observation 2; our rates: 1.50, 4.00"
    assert e["fig2_dr"].status == "differs" and e["fig2_dr"].ours == [-0.3, 0.1]
    assert "median gain is 0.20, 0.90 at the 10% most probable" in e["fig2_dr"].note
    assert e["fig2_din"].ours == 0.7 and e["fig2_din"].status == "qualitative"
    assert rows[1]["book"] == "-0.30 … 0.10" and rows[1]["note"].startswith("our continuous D_r is anti-correlated")
    assert rows[2]["note"] == "at 4.00 bits; along the x-axis only: 0.40"
    rows, entries = cm.fig2_reading(_corr([0.3, 0.1]))
    assert _added(entries)["fig2_dr"].status == "qualitative" and rows[1]["note"] == ""


def test_fig4_2d_reading_of_the_build_bank():
    rel = {"x": np.array([0.0, 0.5, 6.0]), "lambdas": [2.0, 6.0], "raw": np.array([[0.6, 0.8, 2.0], [0.9, 0.9, 1.0]]),
           "mean_raw": np.array([0.75, 0.85, 1.5])}
    rows, entry = cm.fig4_2d_reading(rel)
    assert entry["ours"] == pytest.approx(0.8) and rows[1]["book"] == 1.5 and entry["status"] == "qualitative"
    assert entry["note"] == "tail (x>5) median ratio 1.50; centre ratio per lambda 2: 0.70, 6: 0.90"
    rel["mean_raw"] = np.array([0.75, 0.85, 0.95])  # a gain everywhere: not the paper's trade-off
    assert cm.fig4_2d_reading(rel)[1]["status"] == "differs"


def test_observation5_reading_compares_the_best_inner_distance_with_rmse():
    obs5 = {"NLPD": {"RMSE": {"rho_Dr": 0.5}, "mse-0": {"rho_Dr": 0.4, "rho_Din": 0.6}, "mse-1": {"rho_Dr": 0.45, "rho_Din": 0.55}},
            "1 − MS-SSIM": {"RMSE": {"rho_Dr": 0.8}, "mse-0": {"rho_Dr": 0.3, "rho_Din": 0.7}}}
    rows, entries = cm.observation5_reading(obs5, stand_in=True)
    e = _added(entries)
    assert e["obs5_din_NLPD"].ours == 0.6 and e["obs5_din_NLPD"].status == "qualitative"
    assert e["obs5_din_1 − MS-SSIM"].status == "differs" and e["obs5_din_1 − MS-SSIM"].note == "stand-in: RMSE gives 0.80"
    assert rows[0]["note"] == "RMSE: 0.50; max ρ(D_r): 0.45 (stand-in reference, not MOS)"
    assert cm.observation5_reading(obs5, stand_in=False)[0][0]["note"] == "RMSE: 0.50; max ρ(D_r): 0.45"


def test_table1_reading_asks_for_structure_not_only_for_beating_mse():
    paper = {"mse": 13.17, "ms-ssim": 18.92, "nlpd": 21.21}
    rows, entries = cm.table1_reading({"mse": 13.0, "ms-ssim": 13.4, "nlpd": 20.0, "flat grey": 13.1}, paper, margin_db=1.0)
    e = _added(entries)
    assert e["sec52_psnr_uniform_mse"].status == "qualitative"  # the worst of the three
    assert e["sec52_psnr_uniform_ms-ssim"].status == "differs"  # beats MSE, but not grey by 1 dB
    assert e["sec52_psnr_uniform_ms-ssim"].note == ("paper: better than MSE; not 1.0 dB better than a flat grey image "
                                                     "here; a flat grey image scores 13.10 dB")
    assert e["sec52_psnr_uniform_nlpd"].status == "qualitative" and e["sec52_psnr_uniform_nlpd"].paper == 21.21
    rows, entries = cm.table1_reading({"mse": 14.0, "ms-ssim": 13.4, "nlpd": 20.0, "flat grey": 13.1}, paper, margin_db=1.0)
    e = _added(entries)
    assert e["sec52_psnr_uniform_mse"].status == "differs" and "not the worst here" in e["sec52_psnr_uniform_mse"].note
    assert "not better than MSE here" in e["sec52_psnr_uniform_ms-ssim"].note


def test_small_batch_reading_averages_after_the_first_evaluation():
    res = img.SmallBatchResult(np.array([0, 10, 20]), {"mse": np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 2.0]]),
                                                       "nlpd": np.array([[5.0, 0.9, 0.8], [5.0, 1.8, 1.9]])})
    rows, entry = cm.small_batch_reading(res, 20)
    assert entry["ours"] == pytest.approx((0.9 + 0.8 + 0.9 + 0.95) / 4) and entry["status"] == "qualitative"
    assert rows[0]["note"] == "final ratio per seed: 0.800, 0.950"
    assert entry["note"] == "2 seeds, 20 steps; final test MSE (mean over seeds): MSE model 1.5000, NLPD model 1.3500"
    res.test_mse["nlpd"][:, 1:] *= 1.5
    assert cm.small_batch_reading(res, 20)[1]["status"] == "differs"


def test_block_mean_entry_is_a_reference_level():
    gains = {"mse": {"block16_gain": 0.01}, "ms-ssim": {"block16_gain": 0.125}, "nlpd": {"block16_gain": 0.5}}
    e = cm.block_mean_entry({"bpp": 0.0625, "psnr": 21.37, "ms_ssim": 0.8, "nlpd": 0.4},
                            {"PSNR": 21.21, "MS-SSIM": 0.75, "NLPD": 0.45}, gains, "Kodak")
    assert (e["paper"], e["ours"], e["status"]) == (21.21, 21.37, "info") and "(real bpp 0.062)" in e["quantity"]
    assert e["note"] == ("a reference level, not a reproduction; MS-SSIM 0.800 (paper's NLPD model 0.75), NLPD 0.40 "
                         "(0.45); on noise a perfect block-mean code removes 1.0% of the MSE objective, 12.5% of "
                         "1 − MS-SSIM, 50.0% of NLPD; evaluated on Kodak")
    _added([e])


def test_noise_rows_put_each_model_beside_its_block_means():
    run = {"rows": [{"loss": "mse", "psnr": 13.0, "ms_ssim": 0.3, "nlpd": 0.9, "psnr_mean_restored": 15.0},
                    {"loss": "flat grey", "psnr": 12.9, "ms_ssim": 0.2, "nlpd": 1.0, "psnr_mean_restored": 14.0}],
           "levels": {"block_means": {"test": {"trained with mse": {"slope": 0.25}, "flat grey": {"slope": 0.0}}}}}
    rows = cm.noise_rows("uniform-ranged", run, {"mse": {"block16_gain": 0.4}})
    assert rows[0] == {"noise": "uniform-ranged", "model": "mse", "Kodak PSNR": 13.0, "MS-SSIM": 0.3, "NLPD": 0.9,
                       "PSNR, channel means restored": 15.0, "block-mean slope on Kodak": 0.25,
                       "block-mean share of the training loss": 0.4}
    assert rows[1]["block-mean slope on Kodak"] == 0.0 and rows[1]["block-mean share of the training loss"] is None


def test_the_three_observation_rules_over_a_bank():
    assert cm.obs2_status([-0.6, -0.1]) == "qualitative" and cm.obs2_status([-0.6, 0.0]) == "differs"
    assert cm.obs3_status(np.array([[0.1, 0.2], [0.3, 0.01]])) == "qualitative"
    assert cm.obs3_status(pd.Series([0.5, -0.01])) == "differs"
    assert cm.obs4_status([0.1, cm.DIN_MIN_RHO + 0.01]) == "qualitative"
    assert cm.obs4_status([0.1, cm.DIN_MIN_RHO]) == "differs"  # strictly above


def test_the_package_exports_every_public_name_of_its_modules():
    """``ch2_findings`` is one module per part of the paper; the chapter uses it as one namespace."""
    from _package_exports import public_names_of_modules

    assert public_names_of_modules(cm) == set(cm.__all__)
