import dataclasses

import numpy as np
import pytest
import torch

from perceptual_compression.experiments import ch2_study2d as s2d
from perceptual_compression.experiments.ch2_config import Study2DConfig


def _cfg(**kw):
    base = Study2DConfig(hidden=16, steps=200, batch_size=128, lr=5e-3, lambdas=(20.0,), inverse_lambdas=(20.0,),
                         uniform_lambda=20.0, checkpoint_every=0, log_every=1)
    return dataclasses.replace(base, **kw)


def test_bank_members():
    members = s2d.bank_members(_cfg(lambdas=(1.0, 2.0)))
    assert [m.name for m in members] == ["L1-λ1", "L1-λ2", "L2-λ1", "L2-λ2", "L3-λ20", "U-λ20", "UW-λ20"]


def test_short_training_lowers_the_loss_and_codes_for_real(tmp_path):
    torch.set_num_threads(1)
    bank = s2d.train_bank(_cfg(), seed=0, progress=False, checkpoint_path=tmp_path / "bank.pt")
    loss = bank.history.values("loss")
    assert loss[-20:].mean() < 0.7 * loss[:5].mean()
    assert (tmp_path / "bank.pt").is_file() and bank.steps_done == _cfg().steps
    x = bank.source.sample(2000, generator=torch.Generator().manual_seed(1))
    rows = s2d.member_rates(bank, x)
    for r in rows:
        assert r["decoded_matches"]
        # real bytes are close to the estimate (header + rANS overhead only)
        assert r["bits_per_sample"] >= r["bits_per_sample_estimated"] * 0.95
        assert r["bits_per_sample"] <= r["bits_per_sample_estimated"] * 1.1 + 8 * 64 / 2000
    corr = s2d.sensitivity_correlations(bank, n=2000, delta=1e-3)
    assert [c["member"] for c in corr] == ["L1-λ20"] and corr[0]["rho_Ds"] < 0  # Observation 2's sign, trained
    xs, ys, labels, codes = s2d.quantization_cells(bank.model.extract(0), extent=(-4, 4, -2, 2), resolution=50)
    assert labels.shape == (50, 50) and codes.shape[1] == 2 and labels.max() + 1 == len(codes)
    rel = s2d.relative_performance_along_x(bank, n=700, x_max=35.0, window=0.5)
    assert rel["raw"].shape == (1, 70) and np.isfinite(rel["mean_fit"]).all()
    np.testing.assert_allclose(rel["x"][:2], [0.25, 0.75])
    # the profiles' first window, from the coded (rounded) model directly: mean SSE and mean bits of its points
    prof = s2d.line_profiles(bank, n=700, x_max=35.0, window=0.5)
    line = bank.source.line_along_x(700, 35.0)
    w0 = line[line[:, 0] < 0.5]
    names = [m.name for m in bank.members]
    with torch.no_grad():
        out = bank.model.extract(names.index("L1-λ20"))(w0, training=False)
    p1 = prof["members"]["L1-λ20"]
    assert p1["D"][0] == pytest.approx(float(((out["x_hat"][0] - w0) ** 2).sum(-1).mean()), rel=1e-5)
    assert p1["R"][0] == pytest.approx(float(out["bits"][0].mean()), rel=1e-5)
    p2 = prof["members"]["L2-λ20"]  # Fig. 4 (left): P = D / R of the weighted member over the plain one's
    np.testing.assert_allclose(rel["raw"][0], (p2["D"] / p2["R"]) / (p1["D"] / p1["R"]), rtol=1e-6)


def test_load_bank_gives_back_the_trained_bank(tmp_path):
    torch.set_num_threads(1)
    cfg = _cfg(steps=30)
    bank = s2d.train_bank(cfg, seed=0, progress=False, checkpoint_path=tmp_path / "bank.pt")
    loaded = s2d.load_bank(cfg, tmp_path / "bank.pt")
    assert loaded.steps_done == 30 and [m.name for m in loaded.members] == [m.name for m in bank.members]
    x = bank.source.sample(500, generator=torch.Generator().manual_seed(3))
    a, b = s2d.member_rates(bank, x), s2d.member_rates(loaded, x)
    assert [r["bits_per_sample"] for r in a] == [r["bits_per_sample"] for r in b]  # same bytes: same tables
    ca = s2d.sensitivity_correlations(bank, n=500, delta=1e-3)
    cb = s2d.sensitivity_correlations(loaded, n=500, delta=1e-3)
    assert ca[0]["rho_Dr"] == pytest.approx(cb[0]["rho_Dr"]) and ca[0]["rho_Din"] == pytest.approx(cb[0]["rho_Din"])
    with pytest.raises(ValueError, match="does not hold the bank"):
        s2d.load_bank(_cfg(lambdas=(1.0, 2.0)), tmp_path / "bank.pt")


def test_train_bank_keeps_checkpoints_that_load_at_their_steps(tmp_path):
    torch.set_num_threads(1)
    cfg = _cfg(steps=30)
    s2d.train_bank(cfg, seed=0, progress=False, checkpoint_path=tmp_path / "bank.pt", keep_every=10)
    kept = sorted(tmp_path.glob("bank.step*.pt"))
    assert [p.name for p in kept] == [f"bank.step{k:08d}.pt" for k in (10, 20, 30)]
    early, last = s2d.load_bank(cfg, kept[0]), s2d.load_bank(cfg, tmp_path / "bank.pt")
    assert (early.steps_done, last.steps_done) == (10, 30)
    # the step-30 copy is the final bank; the step-10 copy is an earlier one
    final = torch.load(kept[-1], weights_only=False)["modules"]["bank"]
    for k, v in last.model.state_dict().items():
        if k in final and "quantiles" not in k and v.dtype.is_floating_point:
            assert torch.equal(final[k], v.cpu()), k
    x = last.source.sample(500, generator=torch.Generator().manual_seed(3))
    assert s2d.member_rates(early, x) != s2d.member_rates(last, x)


class _HandMadeAE(torch.nn.Module):
    """e(x) = tanh(x / sigma) (its gain is largest at the mode), d(y) = 2 y, Q(y) = round(4 y) / 4."""

    def __init__(self, sigma):
        super().__init__()
        self.sigma = torch.tensor(sigma)
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def extract(self, k):
        return self

    def encode(self, x):
        self.seen_dtype = x.dtype
        return torch.tanh(x / self.sigma).unsqueeze(0)

    def decode(self, y):
        return 2 * y

    def quantize(self, y):
        return torch.round(4 * y) / 4


def test_sensitivity_correlations_follow_the_definitions_of_obs_3_4():
    """D_r = ||f(x1) - f(x2)||, D_in = ||e(x1) - e(x2)||, divided by ||x1 - x2|| / sqrt(2), Spearman with p(x1)."""
    from scipy.stats import spearmanr

    from perceptual_compression.analysis.induced_distances import perturb
    from perceptual_compression.sources.student_t import StudentT2D

    source = StudentT2D(nu=2.0, scale=(0.5, 0.2))
    bank = s2d.TrainedBank(_HandMadeAE((0.5, 0.2)), [s2d.Member("L1", 1.0)], source, None, 0.1)
    n, delta = 3000, 1e-3
    row = s2d.sensitivity_correlations(bank, n=n, delta=delta, seed=3)[0]
    g = torch.Generator().manual_seed(3)
    x1 = source.sample(n, generator=g).double()  # the maps are evaluated in float64
    x2 = perturb(x1, delta, generator=g)
    p1 = source.prob(x1).numpy()
    e1, e2 = torch.tanh(x1 / torch.tensor([0.5, 0.2])), torch.tanh(x2 / torch.tensor([0.5, 0.2]))
    rmse = (x1 - x2).norm(dim=1) / np.sqrt(2)
    d_in = ((e1 - e2).norm(dim=1) / rmse).numpy()
    d_r = ((2 * e1 - 2 * e2).norm(dim=1) / rmse).numpy()
    assert row["rho_Din"] == pytest.approx(spearmanr(d_in, p1)[0], abs=1e-9)
    assert row["rho_Dr"] == pytest.approx(spearmanr(d_r, p1)[0], abs=1e-9)
    assert bank.model.seen_dtype == torch.float64
    # the encoder stretches the plane most at the mode: both sensitivities follow p(x1)
    assert row["rho_Din"] > 0.6 and row["rho_Dr"] > 0.6
    # D_s and the *_rounded variants use the rounded code Q(e(x))
    q1 = torch.round(4 * e1) / 4
    d_s = (x1 - 2 * q1).norm(dim=1).numpy()
    assert row["rho_Ds"] == pytest.approx(spearmanr(d_s, p1)[0], abs=1e-9)
    q2 = torch.round(4 * e2) / 4
    d_r_rounded = ((2 * q1 - 2 * q2).norm(dim=1) / rmse).numpy()
    assert row["rho_Dr_rounded"] == pytest.approx(spearmanr(d_r_rounded, p1)[0], abs=1e-9)
    # median gain of the continuous f = 2 tanh(x / sigma) in the most / least probable decile
    gain = (2 * (e1 - e2).norm(dim=1) / (x1 - x2).norm(dim=1)).numpy()
    assert row["gain_f_mode"] == pytest.approx(np.median(gain[p1 >= np.quantile(p1, 0.9)]), rel=1e-6)
    assert row["gain_f_tail"] == pytest.approx(np.median(gain[p1 <= np.quantile(p1, 0.1)]), rel=1e-6)
    # near the mode the map stretches (gain between 2/0.5 and 2/0.2), in the tails tanh saturates
    assert 4.0 <= row["gain_f_mode"] <= 10.0 and row["gain_f_tail"] < 1.0
    # through the training channel d(e(x) + u): with this linear decoder the shared noise cancels exactly
    assert row["rho_Dr_noisy"] == pytest.approx(row["rho_Dr"], abs=1e-5)  # (up to float32 rounding of ranks)


def test_rounded_displacement_sweep_counts_code_changes_where_the_cells_are():
    """D_r through the coded map d(Q(e(x))): nonzero only where x2 leaves x1's cell; shared directions per delta."""
    from scipy.stats import spearmanr

    from perceptual_compression.analysis.induced_distances import perturb
    from perceptual_compression.sources.student_t import StudentT2D

    source = StudentT2D(nu=2.0, scale=(0.5, 0.2))
    bank = s2d.TrainedBank(_HandMadeAE((0.5, 0.2)), [s2d.Member("L1", 1.0), s2d.Member("U", 1.0)], source, None, 0.1)
    n, deltas = 4000, (0.01, 0.1)
    rows = s2d.rounded_displacement_sweep(bank, n=n, deltas=deltas, seed=7)
    assert [(r["member"], r["delta"]) for r in rows] == [("L1-λ1", 0.01), ("L1-λ1", 0.1)]  # L1 only by default
    g = torch.Generator().manual_seed(7)
    x1 = source.sample(n, generator=g).double()
    u = perturb(torch.zeros_like(x1), 1.0, generator=g)
    p1 = source.prob(x1).numpy()
    top, bottom = p1 >= np.quantile(p1, 0.9), p1 <= np.quantile(p1, 0.1)
    code = lambda x: torch.round(4 * torch.tanh(x / torch.tensor([0.5, 0.2]))) / 4  # noqa: E731
    for row, delta in zip(rows, deltas):
        x2 = x1 + delta * u
        changed = (code(x1) != code(x2)).any(dim=1).numpy()
        d_r = ((2 * code(x1) - 2 * code(x2)).norm(dim=1) / ((x1 - x2).norm(dim=1) / np.sqrt(2))).numpy()
        assert row["changed"] == pytest.approx(changed.mean()) and 0 < row["changed"] < 1
        assert row["changed_mode"] == pytest.approx(changed[top].mean())
        assert row["changed_tail"] == pytest.approx(changed[bottom].mean())
        assert row["rho_Dr_rounded"] == pytest.approx(spearmanr(d_r, p1)[0], abs=1e-9)
        # tanh's cells are narrowest at the mode: codes change there most often, and D_r follows p(x1)
        assert row["changed_mode"] > 3 * row["changed_tail"] and row["rho_Dr_rounded"] > 0.15
    assert rows[1]["changed"] > rows[0]["changed"]  # a longer step leaves its cell more often
    with pytest.raises(ValueError, match="positive"):
        s2d.rounded_displacement_sweep(bank, n=10, deltas=(0.0,))


class _CubicDecoderAE(_HandMadeAE):
    """The same encoder with the decoder d(y) = y^3, for which the noise in d(e(x) + u) does not cancel."""

    def decode(self, y):
        return y ** 3


def test_noisy_channel_reconstruction_distance_averages_shared_noise_draws():
    from scipy.stats import spearmanr

    from perceptual_compression.analysis.induced_distances import perturb
    from perceptual_compression.sources.student_t import StudentT2D

    source = StudentT2D(nu=2.0, scale=(0.5, 0.2))
    bank = s2d.TrainedBank(_CubicDecoderAE((0.5, 0.2)), [s2d.Member("L1", 1.0)], source, None, 0.1)
    n, delta, draws = 2000, 1e-3, 3
    row = s2d.sensitivity_correlations(bank, n=n, delta=delta, seed=5, noise_draws=draws)[0]
    g = torch.Generator().manual_seed(5)
    x1 = source.sample(n, generator=g).double()  # the maps are evaluated in float64
    x2 = perturb(x1, delta, generator=g)
    u = torch.rand(draws, n, 2, generator=torch.Generator().manual_seed(6)) - 0.5  # seed + 1
    e1, e2 = torch.tanh(x1 / torch.tensor([0.5, 0.2])), torch.tanh(x2 / torch.tensor([0.5, 0.2]))
    d_noisy = torch.stack([((e1 + v) ** 3 - (e2 + v) ** 3).norm(dim=1) for v in u]).mean(0)
    rmse = (x1 - x2).norm(dim=1) / np.sqrt(2)
    want = spearmanr((d_noisy / rmse).numpy(), source.prob(x1).numpy())[0]
    assert row["rho_Dr_noisy"] == pytest.approx(want, abs=1e-6)
    assert row["rho_Dr_noisy"] != pytest.approx(row["rho_Dr"], abs=1e-3)  # the noise changes the map's gain


def _record(seed, *, lambdas=(2.0, 20.0), centre=(1.5, 0.5), dr=(-0.2, 0.3), hidden=100):
    """A record shaped like benchmarks/ch2_study2d.py's, with its members listed highest lambda first."""
    order = list(range(len(lambdas)))[::-1]
    return {
        "seed": seed, "config": {"hidden": hidden, "lambdas": list(lambdas), "steps": 10},
        "rates": [{"member": f"L1-λ{lambdas[i]:g}", "bits_per_sample": 1.0 + i + seed} for i in order]
        + [{"member": f"L2-λ{lm:g}", "bits_per_sample": 9.0} for lm in lambdas],
        "correlations": [{"member": f"L1-λ{lambdas[i]:g}", "family": "L1", "lambda": lambdas[i], "rho_Ds": -0.5,
                          "rho_Dr": dr[i] + seed, "rho_Din": 0.1 * i} for i in order],
        "summary": {"fig4_centre_ratio_per_lambda": {f"{lambdas[i]:g}": centre[i] * (1 + seed) for i in order},
                    "fig4_centre_ratio": float(np.mean(centre)) * (1 + seed), "fig4_tail_median_ratio": 2.0 + seed},
    }


def test_across_seeds_orders_by_lambda_and_summarises_over_seeds():
    out = s2d.across_seeds([_record(0), _record(1)])
    assert out["seeds"] == [0, 1] and out["lambdas"] == [2.0, 20.0]
    np.testing.assert_allclose(out["bits"], [[1.0, 2.0], [2.0, 3.0]])
    np.testing.assert_allclose(out["rho_Dr"], [[-0.2, 0.3], [0.8, 1.3]])
    np.testing.assert_allclose(out["centre_ratio"], [[1.5, 0.5], [3.0, 1.0]])
    np.testing.assert_allclose(out["centre_mean"], [1.0, 2.0])
    np.testing.assert_allclose(out["tail_median"], [2.0, 3.0])
    np.testing.assert_allclose(out["mean"]["centre_ratio"], [2.25, 0.75])
    np.testing.assert_allclose(out["sd"]["centre_ratio"], [1.5 / np.sqrt(2), 0.5 / np.sqrt(2)])  # ddof = 1
    np.testing.assert_allclose(out["mean"]["centre_mean"], 1.5)
    # the mean over rates of each seed is the mean of its per-lambda ratios (equal windows, equal weights)
    np.testing.assert_allclose(out["centre_mean"], out["centre_ratio"].mean(axis=1))


def test_across_seeds_refuses_records_that_differ_in_more_than_the_seed():
    with pytest.raises(ValueError, match="hidden"):
        s2d.across_seeds([_record(0), _record(1, hidden=64)])
    with pytest.raises(ValueError, match="repeated seeds"):
        s2d.across_seeds([_record(0), _record(0)])
    with pytest.raises(ValueError, match="at least 2"):
        s2d.across_seeds([_record(0)])


def test_without_collapsed_pairs_drops_zero_rate_members_and_recomputes_the_means():
    rel = {"x": [0.25, 0.75], "lambdas": [2.0, 20.0, 200.0],
           "raw": [[1e11, 2e11], [1.0, 3.0], [0.5, 0.7]], "fit": [[9e10, 1e11], [1.1, 2.9], [0.6, 0.6]]}
    rates = [{"member": "L2-λ2", "bits_per_sample": 0.01}, {"member": "L2-λ20", "bits_per_sample": 1.3},
             {"member": "L2-λ200", "bits_per_sample": 5.1}, {"member": "L1-λ2", "bits_per_sample": 0.6}]
    kept, dropped = s2d.without_collapsed_pairs(rel, rates)
    assert dropped == [2.0] and kept["lambdas"] == [20.0, 200.0]
    np.testing.assert_allclose(kept["mean_raw"], [0.75, 1.85])
    np.testing.assert_allclose(kept["mean_fit"], [0.85, 1.75])
    np.testing.assert_allclose(kept["raw"], [[1.0, 3.0], [0.5, 0.7]])
    kept, dropped = s2d.without_collapsed_pairs(rel, rates, min_bits=0.0)  # nothing dropped: the input's means
    assert dropped == [] and kept["mean_raw"][0] == pytest.approx((1e11 + 1.5) / 3)
    with pytest.raises(ValueError, match="nothing to compare"):
        s2d.without_collapsed_pairs(rel, rates, min_bits=10.0)


def test_fig4_summary_reads_centre_tail_and_geometric_means():
    x = [0.25, 0.75, 3.0, 6.0, 8.0]
    raw = [[2.0, 2.0, 1.0, 4.0, 4.0], [0.5, 0.5, 1.0, 1.0, 0.25]]
    fit = [[2.0, 1.0, 1.0, 3.0, 4.0], [0.5, 0.2, 1.0, 1.0, 0.25]]
    out = s2d.fig4_summary({"x": x, "raw": raw, "fit": fit})
    np.testing.assert_allclose(out["centre_per_lambda"], [2.0, 0.5])
    assert out["centre_mean"] == pytest.approx(1.25)
    assert out["tail_median"] == pytest.approx((2.5 + 2.125) / 2)  # mean over rates at x = 6 and 8
    assert out["centre_geomean"] == pytest.approx(1.0)  # 2 and 1/2: the arithmetic mean says 1.25
    # per tail window the geometric mean over rates is sqrt(4 * 1) = 2 and sqrt(4 / 4) = 1; the median of their
    # logs (even count: the middle two averaged) gives sqrt(2)
    assert out["tail_geomedian"] == pytest.approx(np.sqrt(2.0))
    assert out["fit_min"] == pytest.approx(0.6) and out["fit_min_x"] == 0.75
    with pytest.raises(ValueError, match="no window"):
        s2d.fig4_summary({"x": x, "raw": raw, "fit": fit}, tail_above=10.0)


def test_eq13_as_printed_inverts_every_ratio_and_refits():
    rng = np.random.default_rng(0)
    x = np.arange(0.25, 35.0, 0.5)
    raw = np.exp(rng.normal(0.0, 1.0, size=(3, x.size)))
    from perceptual_compression.analysis.relative_performance import polynomial_smooth
    rel = {"x": x, "lambdas": [2, 20, 200], "raw": raw, "fit": np.array([polynomial_smooth(x, r) for r in raw])}
    printed = s2d.as_printed_eq13(rel)
    np.testing.assert_allclose(printed["raw"] * raw, 1.0)
    np.testing.assert_allclose(printed["fit"][1], polynomial_smooth(x, 1.0 / raw[1]))
    assert not np.allclose(printed["fit"], 1.0 / rel["fit"])  # the fit of the reciprocal, not 1 / fit
    np.testing.assert_allclose(printed["mean_raw"], (1.0 / raw).mean(0))
    back = s2d.as_printed_eq13(printed)
    np.testing.assert_allclose(back["raw"], raw)
    np.testing.assert_allclose(back["fit"], rel["fit"], rtol=1e-6, atol=1e-8)
    text, inv = s2d.fig4_summary(rel), s2d.fig4_summary(printed)
    # geometric summaries invert exactly; arithmetic ones do not (Jensen: both exceed 1 / the other)
    assert inv["centre_geomean"] == pytest.approx(1.0 / text["centre_geomean"])
    assert inv["tail_geomedian"] == pytest.approx(1.0 / text["tail_geomedian"])
    assert text["centre_mean"] * inv["centre_mean"] > 1.0


def _profiles():
    x = np.array([0.25, 0.75, 3.0, 6.0, 8.0])
    members = {"L1-λ1": {"D": np.full(5, 4.0), "R": np.full(5, 1.0)},
               "L1-λ10": {"D": np.full(5, 1.0), "R": np.full(5, 3.0)},
               "L2-λ1": {"D": np.array([1.0, 2.0, 2.0, 4.0, 8.0]), "R": np.full(5, 2.0)},
               "L2-λ10": {"D": np.full(5, 1.0), "R": np.full(5, 3.0)},
               "L2-λ100": {"D": np.full(5, 0.1), "R": np.full(5, 6.0)}}
    rates = [{"member": "L1-λ1", "bits_per_sample": 1.0}, {"member": "L1-λ10", "bits_per_sample": 3.0},
             {"member": "L2-λ1", "bits_per_sample": 2.0}, {"member": "L2-λ10", "bits_per_sample": 3.0},
             {"member": "L2-λ100", "bits_per_sample": 6.5}]
    return {"x": x, "members": members}, rates


def test_relative_from_profiles_pairs_equal_lambdas():
    prof, _ = _profiles()
    rel = s2d.relative_from_profiles(prof, degree=2)
    assert rel["lambdas"] == [1.0, 10.0]  # L2-λ100 has no L1 partner
    np.testing.assert_allclose(rel["raw"][0], (prof["members"]["L2-λ1"]["D"] / 2.0) / (4.0 / 1.0))
    np.testing.assert_allclose(rel["raw"][1], 1.0)


def test_rate_matched_relative_interpolates_the_plain_family_at_the_weighted_rate():
    prof, rates = _profiles()
    out = s2d.rate_matched_relative(prof, rates, degree=2)
    assert out["lambdas"] == [1.0, 10.0] and out["skipped"] == ["L2-λ100"]  # 6.5 bits: beyond L1's range
    assert out["between"][0] == ["L1-λ1", "L1-λ10"] and out["bits"] == [2.0, 3.0]
    # L2-λ1 codes 2 bits, half-way between 1 and 3: D = sqrt(4 * 1) = 2 (log-linear), R = (1 + 3) / 2 = 2
    np.testing.assert_allclose(out["raw"][0], (prof["members"]["L2-λ1"]["D"] / 2.0) / (2.0 / 2.0))
    # a member at an L1 member's rate with that member's profile is equal to it: ratio 1
    np.testing.assert_allclose(out["raw"][1], 1.0)
    np.testing.assert_allclose(out["mean_raw"], out["raw"].mean(0))
    # the equal-lambda pairing puts L2-λ1 against the 1-bit L1 member (P = 4 / 1 rather than 2 / 2): a quarter
    np.testing.assert_allclose(s2d.relative_from_profiles(prof, degree=2)["raw"][0], out["raw"][0] / 4)
    with pytest.raises(ValueError, match="nothing to compare"):
        s2d.rate_matched_relative(prof, [dict(r, bits_per_sample=9.0) if r["member"].startswith("L2") else r
                                         for r in rates])
    with pytest.raises(ValueError, match="distinct coded rates"):
        s2d.rate_matched_relative(prof, [dict(r, bits_per_sample=1.0) if r["member"].startswith("L1") else r
                                         for r in rates])


def test_compare_pairings_sets_both_pairings_side_by_side():
    prof, rates = _profiles()
    eq = s2d.relative_from_profiles(prof, degree=2)
    mt = s2d.rate_matched_relative(prof, rates, degree=2)
    rows, summary = s2d.compare_pairings(eq, mt)
    assert [r["L2 λ"] for r in rows] == [1.0, 10.0] and rows[0]["L1 on either side"] == "L1-λ1, L1-λ10"
    # L2-λ1's centre windows: D 1 and 2 over R 2 -> P 0.5, 1; equal lambda divides by 4 / 1, equal rate by 2 / 2
    assert rows[0]["centre, equal λ"] == pytest.approx(0.75 / 4) and rows[0]["centre, equal rate"] == pytest.approx(0.75)
    assert rows[1]["centre, equal λ"] == rows[1]["centre, equal rate"] == pytest.approx(1.0)
    assert summary["centre, equal λ (same members)"] == pytest.approx((0.75 / 4 + 1) / 2)
    assert summary["centre, equal rate"] == pytest.approx((0.75 + 1) / 2) and summary["not compared"] == "L2-λ100"


def test_compare_banks_labels_each_bank_and_reads_a_record_as_its_arrays():
    prof, rates = _profiles()
    eq = s2d.relative_from_profiles(prof, degree=2)
    mt = s2d.rate_matched_relative(prof, rates, degree=2)
    as_json = lambda d: {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}  # noqa: E731
    members, banks = s2d.compare_banks([("build", eq, mt), ("record", as_json(eq), as_json(mt))])
    rows, summary = s2d.compare_pairings(eq, mt)
    assert members == [{"bank": "build", **r} for r in rows] + [{"bank": "record", **r} for r in rows]
    assert banks == [{"bank": "build", **summary}, {"bank": "record", **summary}]
    assert s2d.compare_banks([]) == ([], [])


def test_correlations_by_samples_reads_end_of_run_and_checkpoint_records():
    corr = lambda lam, v: {"member": f"L1-λ{lam:g}", "family": "L1", "lambda": lam, "rho_Ds": -0.5, "rho_Dr": v,  # noqa: E731
                           "rho_Din": 0.1, "gain_f_mode": 0.2, "gain_f_tail": 0.9}
    end = {"seed": 0, "config": {"batch_size": 1024, "steps": 15000},
           "correlations": [corr(6.0, -0.6), corr(60.0, -0.7), {**corr(6.0, 0.0), "member": "L2-λ6", "family": "L2"}],
           "rates": [{"member": "L1-λ6", "bits_per_sample": 1.7}, {"member": "L1-λ60", "bits_per_sample": 5.1},
                     {"member": "L2-λ6", "bits_per_sample": 1.4}]}
    stopped = {**end, "seed": 1, "steps_done": 700, "config": {"batch_size": 4096, "steps": 10 ** 6}}
    traj = {"seed": 1, "config": {"batch_size": 4096, "steps": 10 ** 6},
            "checkpoints": [{"steps": 500, "members": [{**corr(6.0, -0.3), "bits_per_sample": 2.0}]}]}
    rows = s2d.correlations_by_samples([end, stopped, traj])
    assert len(rows) == 5  # L2 members are left out
    first = rows[0]  # sorted by lambda, seed, samples
    assert (first["lambda"], first["seed"], first["samples"], first["bits"], first["rho_Dr"]) == (6.0, 0, 15_360_000, 1.7, -0.6)
    seed1 = [r for r in rows if r["seed"] == 1 and r["lambda"] == 6.0]
    assert [r["samples"] for r in seed1] == [500 * 4096, 700 * 4096] and [r["rho_Dr"] for r in seed1] == [-0.3, -0.6]
    assert {r["lambda"] for r in s2d.correlations_by_samples([end], lambdas=[60])} == {60.0}


def test_bank_training_resumed_from_a_checkpoint_is_the_uninterrupted_run(tmp_path):
    """The bank's private sample generator is saved in its checkpoints: a run stopped by its time limit and
    resumed ends with the weights of a run that never stopped."""
    torch.set_num_threads(1)
    cfg = _cfg(steps=12, checkpoint_every=4)
    whole = s2d.train_bank(cfg, seed=0, progress=False)
    first = s2d.train_bank(cfg, seed=0, progress=False, checkpoint_path=tmp_path / "b.pt", time_limit_s=0.0)
    assert first.steps_done == 1 and first.resumed_from is None
    resumed = s2d.train_bank(cfg, seed=0, progress=False, checkpoint_path=tmp_path / "b.pt")
    assert resumed.steps_done == 12 and resumed.resumed_from == 1
    assert resumed.train_seconds > first.train_seconds > 0  # the first invocation's time is counted
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_package_exports_every_public_name_of_its_modules():
    """``ch2_study2d`` is one module per part of the study; the chapter and the scripts use it as one namespace."""
    from _package_exports import public_names_of_modules

    assert public_names_of_modules(s2d) == set(s2d.__all__)


def test_bank_clips_each_autoencoder_alone_unless_asked_for_the_joint_clip():
    """With cfg.clip="per-model" a member trains as it would beside other members (the bank's other lambdas do
    not change it); the joint clip of the committed runs couples them. An unknown mode fails at once."""
    import dataclasses

    def l1_lambda3_weights(lambdas, clip):
        cfg = dataclasses.replace(_cfg(), lambdas=lambdas, inverse_lambdas=(), steps=6, clip=clip,
                                  clip_grad_norm=5.0)
        bank = s2d.train_bank(cfg, seed=0, progress=False, device="cpu")
        return bank.model.encoder.layers[0].weight[bank.members.index(next(m for m in bank.members if m.name == "L1-λ3"))]

    a, b = l1_lambda3_weights((3.0, 20.0), "per-model"), l1_lambda3_weights((3.0, 5000.0), "per-model")
    torch.testing.assert_close(a, b)
    a, b = l1_lambda3_weights((3.0, 20.0), "joint"), l1_lambda3_weights((3.0, 5000.0), "joint")
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="'per-model', 'joint'"):
        s2d.train_bank(dataclasses.replace(_cfg(), clip="member"), progress=False)
    assert s2d.record_clip({"config": {"clip": "per-model"}}) == "per-model"
    assert s2d.record_clip({"config": {}}) == "joint"  # the records made before the setting
    # the command shown for a record says what repeating it needs today
    old = {"config": {}, "command": "python benchmarks/ch2_study2d.py --steps 15000"}
    assert s2d.record_command(old) == old["command"] + "  (recorded before --clip existed: repeat it with --clip joint)"
    for rec in ({"config": {"clip": "per-model"}, "command": "python benchmarks/ch2_study2d.py"},
                {"config": {"clip": "joint"}, "command": "python benchmarks/ch2_study2d.py --clip joint"}):
        assert s2d.record_command(rec) == rec["command"]


def test_distortion_weight_normalisers_are_the_means_of_the_weights_under_the_source():
    """E_p[p(x)^gamma] = integral of p^(1 + gamma), by quadrature over the plane with scipy's Student-t."""
    from scipy import integrate
    from scipy.stats import multivariate_t

    from perceptual_compression.sources.student_t import StudentT2D

    source = StudentT2D(nu=2.0, scale=(0.5, 0.2))
    ref = multivariate_t(loc=[0.0, 0.0], shape=np.diag([0.25, 0.04]), df=2)

    def mean_weight(gamma):
        return integrate.dblquad(lambda y, x: ref.pdf([x, y]) ** (1 + gamma), -np.inf, np.inf, -np.inf, np.inf)[0]

    norm = {gamma: s2d.distortion_weight_normalisers(source, gamma) for gamma in (0.1, 1.0)}
    for gamma, n in norm.items():
        assert n["L2"] == pytest.approx(mean_weight(gamma), rel=3e-3)
    assert norm[0.1]["L2"] == pytest.approx(0.873, abs=1e-3) and norm[0.1]["L3"] == pytest.approx(1.19, abs=5e-3)
    # the normalised weight p / E_p[p] (the gamma = 1 run): 0.75 at the median, below 0.1 for 18 % of the samples
    x = source.sample(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    w = (source.prob(x) / norm[1.0]["L2"]).numpy()
    assert np.median(w) == pytest.approx(0.75, abs=0.01) and (w < 0.1).mean() == pytest.approx(0.18, abs=0.01)
