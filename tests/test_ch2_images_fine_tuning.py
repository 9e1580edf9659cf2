"""experiments.ch2_images.fine_tuning: reading the records of longer and from-scratch MS-SSIM runs."""

import numpy as np
import pytest

from perceptual_compression.experiments import ch2_images as img


def test_fine_tuning_rows_read_a_longer_fine_tuning_record():
    kept = {"step": 30, "kodak": {"bpp": 0.3, "psnr": 25.0, "ms_ssim": 0.9}, "ratio": [2.0, 1.5, 0.9, 1.2],
            "distortion_ratio": [2.2, 1.4, 1.0, 1.1], "rate_ratio": [1.1, 0.93, 1.1, 0.9], "mean_share": [0.7, 0.5]}
    rec = {"alpha": [0.02, 0.1, 0.5, 2.0], "pairs": {"q3": {"kept": [kept, {**kept, "step": 60, "ratio": [1.0, 0.8, 0.95, 1.3]}]}}}
    rows = img.fine_tuning_rows(rec, at=(0.1, 2.0))
    assert [(r["pair"], r["steps"]) for r in rows] == [("q3", 30), ("q3", 60)]
    assert rows[0]["ratio α = 0.1"] == 1.5 and rows[0]["ratio α = 2"] == 1.2
    assert (rows[0]["min ratio"], rows[0]["α of min"]) == (0.9, 0.5) and (rows[1]["min ratio"], rows[1]["α of min"]) == (0.8, 0.1)
    assert rows[0]["D factor α = 0.1"] == 1.4 and rows[0]["R factor α = 0.1"] == 0.93
    assert rows[0]["means' share α = 0.02"] == 0.7 and rows[0]["means' share α = 0.1"] == 0.5
    assert "lost channels" not in rows[0]  # a record from before the channel check
    rec["pairs"]["q3"]["kept"][1]["channels"] = {"dead_channels": [2], "mean_out": [-0.3, 0.4, 0.3]}
    rec["pairs"]["q3"]["kept"][0]["channels"] = {"dead_channels": [], "mean_out": [0.4, 0.4, 0.3]}
    assert [r["lost channels"] for r in img.fine_tuning_rows(rec)] == ["", "RB"]


def test_fine_tuning_mean_ratio_averages_the_pairs_per_kept_step():
    def kept(step, ratio):
        return {"step": step, "ratio": ratio}

    rec = {"pairs": {"q3": {"kept": [kept(10, [1.0, 3.0]), kept(20, [0.5, 1.0])]},
                     "q6": {"kept": [kept(10, [2.0, 1.0]), kept(20, [0.7, 2.0])]}}}
    m = img.fine_tuning_mean_ratio(rec)
    assert list(m) == [10, 20]
    np.testing.assert_allclose(m[10], [1.5, 2.0])
    np.testing.assert_allclose(m[20], [0.6, 1.5])
    rec["pairs"]["q6"]["kept"][1]["step"] = 30
    with pytest.raises(ValueError, match="different steps"):
        img.fine_tuning_mean_ratio(rec)


def test_healthy_pairs_leave_out_a_pair_that_lost_a_channel_and_the_means_follow():
    def kept(step, ratio, mean_out=None):
        return {"step": step, "ratio": ratio,
                **({} if mean_out is None else {"channels": {"dead_channels": [], "mean_out": mean_out}})}

    ok = [0.4, 0.4, 0.3]
    rec = {"alpha": [0.1, 1.5], "pairs": {"q3": {"kept": [kept(10, [1.0, 3.0], ok), kept(20, [0.5, 1.0], ok)]},
                                          "q6": {"kept": [kept(10, [9.0, 5.0], ok), kept(20, [7.0, 9.0], [-0.5, 0.3, 0.3])]}}}
    assert img.healthy_pairs(rec) == ["q3"]
    assert img.lost_channel_names(rec["pairs"]["q6"]["kept"][1]) == "R"
    np.testing.assert_allclose(img.fine_tuning_mean_ratio(rec, ["q3"])[20], [0.5, 1.0])
    np.testing.assert_allclose(img.fine_tuning_mean_ratio(rec)[20], [3.75, 5.0])
    assert img.kept_minima(rec, ["q3"])[1]["min"] == 0.5 and img.kept_minima(rec)[1]["min"] == 3.75
    for bad in ([], ["q9"]):
        with pytest.raises(ValueError, match="non-empty subset"):
            img.fine_tuning_mean_ratio(rec, bad)
    # a record from before the check: every pair counts
    old = {"alpha": rec["alpha"], "pairs": {k: {"kept": [{"step": r["step"], "ratio": r["ratio"]} for r in p["kept"]]}
                                            for k, p in rec["pairs"].items()}}
    assert img.healthy_pairs(old) == ["q3", "q6"]


def test_kept_minima_read_the_pair_mean_per_kept_step():
    def kept(step, ratio):
        return {"step": step, "ratio": ratio}

    # contrasts 0.02, 0.1, 0.5, 1.5, 2: low = the first two, high = the last two
    rec = {"alpha": [0.02, 0.1, 0.5, 1.5, 2.0],
           "pairs": {"q3": {"kept": [kept(20, [1.0, 0.6, 2.0, 3.0, 1.0]), kept(10, [4.0, 3.0, 1.0, 2.0, 2.0])]},
                     "q6": {"kept": [kept(20, [1.0, 0.8, 1.0, 1.0, 3.0]), kept(10, [2.0, 1.0, 1.2, 2.0, 2.0])]}}}
    rows = img.kept_minima(rec)
    assert [r["steps"] for r in rows] == [10, 20]  # in step order
    assert rows[0] == pytest.approx({"steps": 10, "min": 1.1, "alpha": 0.5, "low_mean": 2.5, "high_mean": 2.0})
    assert rows[1] == pytest.approx({"steps": 20, "min": 0.7, "alpha": 0.1, "low_mean": 0.85, "high_mean": 2.0})
    with pytest.raises(ValueError, match="at or above 1.5"):
        img.kept_minima({**rec, "alpha": [0.02, 0.1, 0.5, 1.0, 1.2]})
