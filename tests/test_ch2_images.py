import dataclasses

import numpy as np
import pytest
import torch

from perceptual_compression.experiments import ch2_images as img
from perceptual_compression.experiments.ch2_config import EntropyLimitedConfig, SmallBatchConfig
from perceptual_compression.datasets import PatchDataset, embedded_images
from perceptual_compression.models.factorized_prior import factorized_prior
from perceptual_compression.models.entropy_limited import EntropyLimitedAutoencoder


@pytest.fixture(scope="module")
def patches():
    return PatchDataset(embedded_images(), size=32, seed=0)


@pytest.fixture(scope="module")
def test_images():
    return img.center_crops(embedded_images(), 2, 64)


def test_center_crops(test_images):
    assert test_images.shape == (2, 3, 64, 64)
    whole = img.center_crops(embedded_images(), 2, None)
    assert isinstance(whole, list) and whole[0].shape == (3, 512, 512)
    with pytest.raises(ValueError):
        img.center_crops(embedded_images(), 1, 4096)


def test_entropy_limited_training_lowers_the_distortion_and_codes_at_the_bound(patches, test_images):
    torch.set_num_threads(1)
    cfg = EntropyLimitedConfig(n=8, m=16, patch_size=32, batch_size=4, steps=40, lr=5e-3, log_every=1)
    m = img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "natural", patches, seed=0, progress=False)
    loss = m.history.values("loss")
    assert loss[-10:].mean() < loss[:3].mean()
    scores = img.evaluate_codec(m, list(test_images), "t", msssim_levels="auto")
    bound = 16 * 1 / 256  # eq. 16 with M = 16, L = 2, 4 downsamplings
    assert bound <= scores["bpp"] <= bound + 8 * 64 / (64 * 64)
    assert np.isnan(scores["bpp_estimated"]) and scores["psnr"] > 5 and m.steps_done == 40
    with pytest.raises(ValueError):
        img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "natural", None, progress=False)
    # a wall-clock budget of 0 s stops after the first step, and the model says so
    short = img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "uniform", seed=0, progress=False, time_limit_s=0.0)
    assert short.steps_done == 1 and len(short.history) == 1


@pytest.mark.parametrize("mode", ["ste", "soft"])
def test_entropy_limited_training_feeds_the_decoder_centers_only_with_ste(patches, mode):
    torch.set_num_threads(1)
    seen = []
    orig = EntropyLimitedAutoencoder.__init__

    def init(self, *a, **k):  # record what the decoder receives in every training step
        orig(self, *a, **k)
        self.decoder.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].detach().clone()))

    cfg = EntropyLimitedConfig(n=4, m=8, patch_size=32, batch_size=2, steps=3, lr=1e-3, log_every=1,
                               train_quantization=mode)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(EntropyLimitedAutoencoder, "__init__", init)
        model = img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "uniform", seed=0, progress=False)
    assert len(seen) == 3
    y_in = torch.cat([v.flatten() for v in seen])
    on_centers = torch.isclose(y_in.abs(), torch.tensor(1.0)).all()
    if mode == "ste":
        assert on_centers  # the bound of eq. 16 holds in training too
    else:
        assert not on_centers and y_in.abs().max() < 1  # eq. 15 with s = 1: a convex combination, inside (-1, 1)
    # the encoder learns in both modes (eq. 15's gradient passes the rounding)
    fresh = EntropyLimitedConfig(n=4, m=8, patch_size=32, batch_size=2, steps=0, train_quantization=mode)
    init_enc = img.train_entropy_limited(fresh, "mse", (-1.0, 1.0), "uniform", seed=0, progress=False).encoder[0].weight
    assert not torch.allclose(model.encoder[0].weight, init_enc)


def test_entropy_limited_training_rejects_an_unknown_quantization_mode(patches):
    cfg = EntropyLimitedConfig(n=4, m=8, patch_size=32, batch_size=2, steps=1, train_quantization="hard")
    with pytest.raises(ValueError, match="valid values are: 'ste', 'soft'"):
        img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "uniform", progress=False)


def test_soft_quantized_psnr_feeds_the_decoder_eq15_values(test_images):
    from perceptual_compression.metrics import psnr

    torch.manual_seed(0)
    m = EntropyLimitedAutoencoder(4, 8).eval()
    ims = list(test_images)
    q = m.quantizer
    want = np.mean([float(psnr(x[None], m.decoder(q.soft(m.encoder(x[None]))).clamp(0, 1))) for x in ims])
    assert img.soft_quantized_psnr(m, ims) == pytest.approx(want, abs=1e-9)
    hard = np.mean([float(psnr(x[None], m.decoder(q.hard(m.encoder(x[None]))).clamp(0, 1))) for x in ims])
    assert img.soft_quantized_psnr(m, ims) != pytest.approx(hard, abs=1e-6)


def test_flat_grey_scores_are_the_grey_image_scored_like_a_codec(test_images):
    black = torch.zeros(3, 64, 64)
    s = img.flat_grey_scores([black, black.clone()], msssim_levels="auto")
    # PSNR on 8-bit levels (the book's convention): 0.5 -> 128, so the error is 128 on every pixel
    assert s["psnr"] == pytest.approx(20 * np.log10(255 / 128), abs=1e-9)
    assert img.flat_grey_scores([torch.full((3, 64, 64), 0.5)], msssim_levels="auto")["nlpd"] == pytest.approx(0, abs=1e-6)
    ours = img.flat_grey_scores(list(test_images), msssim_levels="auto")
    mse = ((torch.round(test_images.double() * 255) - 128) ** 2).flatten(1).mean(1)
    assert ours["psnr"] == pytest.approx(float((10 * torch.log10(255**2 / mse)).mean()), abs=1e-6)  # mean of PSNRs
    assert 0 < ours["ms_ssim"] < 1 and ours["nlpd"] > 0

def test_restore_channel_means_undoes_a_brightness_and_colour_shift():
    torch.manual_seed(0)
    x = 0.2 + 0.6 * torch.rand(2, 3, 16, 16)
    shift = torch.tensor([0.1, -0.15, 0.05]).view(1, 3, 1, 1)
    assert torch.allclose(img.restore_channel_means(x, x + shift), x, atol=1e-6)  # a pure cast is fully undone
    y = img.restore_channel_means(x, 0.5 * x)  # a contrast loss is not: only the means are restored
    assert torch.allclose(y.mean((-2, -1)), x.mean((-2, -1)), atol=1e-6)
    assert not torch.allclose(y, x, atol=1e-2)
    assert img.restore_channel_means(x, x + 2.0).max() <= 1  # clamped to [0, 1]


def test_mean_restored_psnr_of_no_model_is_the_flat_mean_image(test_images):
    from perceptual_compression.metrics import psnr

    ims = list(test_images)
    flat = np.mean([float(psnr(x[None], x.mean((-2, -1), keepdim=True).expand_as(x)[None])) for x in ims])
    assert img.mean_restored_psnr(None, ims) == pytest.approx(flat, abs=1e-9)
    assert img.mean_restored_psnr(None, ims) > img.flat_grey_scores(ims, msssim_levels="auto")["psnr"]
    torch.manual_seed(0)
    m = EntropyLimitedAutoencoder(4, 8).eval()
    for mode, q in (("hard", m.quantizer.hard), ("soft", m.quantizer.soft)):
        want = np.mean([float(psnr(x[None], img.restore_channel_means(x[None], m.decoder(q(m.encoder(x[None]))))))
                        for x in ims])
        assert img.mean_restored_psnr(m, ims, quantization=mode) == pytest.approx(want, abs=1e-9)
    with pytest.raises(ValueError, match="valid values are: 'hard', 'soft'"):
        img.mean_restored_psnr(m, ims, quantization="ste")


def test_table1_uniform_claim_needs_the_grey_margin_and_the_order():
    paper = {"flat grey": 13.17, "mse": 13.17, "ms-ssim": 18.92, "nlpd": 21.21}  # Table 1, grey at the MSE level
    assert img.table1_uniform_claim(paper) == {"ms-ssim_beats_mse": True, "nlpd_beats_mse": True,
                                                "ms-ssim_beats_grey_by_0.5_db": True, "nlpd_beats_grey_by_0.5_db": True,
                                                "psnr_order_as_paper": True, "holds": True}
    # beating grey by less than the margin is a model that has not moved from its mid-grey start
    near = {"flat grey": 12.79, "mse": 12.0, "ms-ssim": 13.0, "nlpd": 13.2}
    c = img.table1_uniform_claim(near)
    assert not c["holds"] and not c["nlpd_beats_grey_by_0.5_db"] and c["nlpd_beats_mse"] and c["psnr_order_as_paper"]
    assert img.table1_uniform_claim(near, margin_db=0.1)["holds"]
    # the order MSE < MS-SSIM < NLPD is part of the claim
    swapped = {**paper, "ms-ssim": 21.21, "nlpd": 18.92}
    assert not img.table1_uniform_claim(swapped)["holds"] and not img.table1_uniform_claim(swapped)["psnr_order_as_paper"]
    with pytest.raises(ValueError, match="flat grey"):
        img.table1_uniform_claim({"mse": 1.0, "ms-ssim": 2.0, "nlpd": 3.0})



def test_uniform_noise_batches():
    g = torch.Generator().manual_seed(0)
    x = img.uniform_noise_batch(64, 16, g)
    assert x.shape == (64, 3, 16, 16) and 0 <= x.min() and x.max() <= 1
    assert abs(x.mean().item() - 0.5) < 0.01 and abs(x.var().item() - 1 / 12) < 0.005
    # the default draws exactly torch.rand's stream (the committed runs' batches)
    assert torch.equal(img.uniform_noise_batch(2, 8, torch.Generator().manual_seed(3)),
                       torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(3)))


def test_ranged_uniform_noise_spreads_local_means_but_keeps_pixels_independent():
    x = img.uniform_noise_batch(256, 32, torch.Generator().manual_seed(0), kind="uniform-ranged")
    assert x.shape == (256, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    means = x.mean(dim=(2, 3))                      # per image channel: (lo + hi) / 2
    lo, hi = x.amin(dim=(2, 3)), x.amax(dim=(2, 3))
    np.testing.assert_allclose(means, (lo + hi) / 2, atol=0.05)
    # the midpoint of two U(0, 1) order statistics is the mean of two U(0, 1): variance 1/24
    assert abs(means.var().item() - 1 / 24) < 0.006
    iid = img.uniform_noise_batch(256, 32, torch.Generator().manual_seed(0)).mean(dim=(2, 3))
    assert iid.std().item() < 0.02 < 0.15 < means.std().item()
    # within a channel, pixels are U(lo, hi): variance (hi - lo)^2 / 12, and neighbours are uncorrelated
    var = x.var(dim=(2, 3))
    np.testing.assert_allclose(var, (hi - lo) ** 2 / 12, atol=0.01)
    c = x - x.mean(dim=(2, 3), keepdim=True)
    lag1 = (c[..., 1:] * c[..., :-1]).mean() / c.pow(2).mean()
    assert abs(lag1.item()) < 0.01


def test_tiled_uniform_noise_has_a_range_per_tile_on_a_shifted_grid():
    g = torch.Generator().manual_seed(0)
    x = img.uniform_noise_batch(64, 64, g, kind="uniform-tiled")
    assert x.shape == (64, 3, 64, 64) and 0 <= x.min() and x.max() <= 1
    t = img.NOISE_TILE
    # the range is constant on tiles of side t: find each image's grid offset as the shift at which the
    # per-tile spread of values is smallest relative to the whole image's
    found = []
    for xi in x[:8]:
        scores = {}
        for oy in range(t):
            for ox in range(t):
                inner = xi[:, oy:oy + 3 * t, ox:ox + 3 * t].unfold(1, t, t).unfold(2, t, t)  # 3 x 3 whole tiles
                scores[(oy, ox)] = (inner.amax((-1, -2)) - inner.amin((-1, -2))).mean().item()
        found.append(min(scores, key=scores.get))
    assert len(set(found)) > 1  # the grid moves from image to image
    # block means on a fixed 16x16 grid spread widely (a tile's mean alone has sd sqrt(1/24) = 0.20; a block that
    # straddles tiles averages several), the paper's noise's do not
    blocks = x.unfold(2, t, t).unfold(3, t, t).mean((-1, -2))
    assert 0.1 < blocks.std().item() < 0.21
    iid = img.uniform_noise_batch(64, 64, torch.Generator().manual_seed(0)).unfold(2, t, t).unfold(3, t, t).mean((-1, -2))
    assert iid.std().item() < 0.03
    # neighbouring pixels are uncorrelated once each tile's mean is removed (no structure inside a tile)
    oy, ox = found[0]
    tile = x[0, :, oy:oy + t, ox:ox + t]
    c = tile - tile.mean(dim=(1, 2), keepdim=True)
    assert abs(((c[..., 1:] * c[..., :-1]).mean() / c.pow(2).mean()).item()) < 0.2
    with pytest.raises(ValueError, match="valid values are: 'uniform', 'uniform-ranged', 'uniform-tiled'"):
        img.uniform_noise_batch(2, 16, g, kind="gaussian")


def test_entropy_limited_training_on_ranged_noise_and_an_unknown_source():
    cfg = EntropyLimitedConfig(n=4, m=8, patch_size=32, batch_size=2, steps=2)
    model = img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "uniform-ranged", seed=0, progress=False)
    assert model.steps_done == 2
    with pytest.raises(ValueError, match="valid values are: 'natural', 'uniform', 'uniform-ranged', 'uniform-tiled'"):
        img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "gaussian", progress=False)


def test_ranged_noise_rewards_block_means_for_every_distortion():
    iid = img.noise_objective_gains(size=64, batch=16, distortions=("mse",))
    ranged = img.noise_objective_gains(size=64, batch=16, distortions=("mse",), noise="uniform-ranged")
    # on the paper's noise a perfect 16x16 block-mean code removes a tiny share of the MSE from grey; on the
    # ranged noise the channel means carry Var[(U1 + U2) / 2] / (that + E[(U1 - U2)^2] / 12) = (1/24) / (1/24 + 1/72)
    # = 3/4 of it in expectation (16 images: a sample of it)
    assert iid["mse"]["block16_gain"] < 0.02
    assert 0.6 < ranged["mse"]["block16_gain"] < 0.9


def test_small_batch_starts_from_the_same_network():
    cfg = SmallBatchConfig(n=4, m=4, seeds=(0, 1), steps=3, lr=1e-3, patch_size=48, eval_every=1)
    res = img.small_batch_run(cfg, lambda s: PatchDataset(embedded_images(), size=48, seed=s),
                              img.center_crops(embedded_images(), 2, 32), progress=False)
    assert res.ratio.shape == (2, 4) and list(res.steps) == [0, 1, 2, 3]
    # before the first step both networks are the same initialisation: the ratio is exactly 1
    np.testing.assert_allclose(res.ratio[:, 0], 1.0)
    assert not np.allclose(res.ratio[:, -1], 1.0)


def test_same_model_on_both_sides_gives_ratio_one_and_observation5(test_images):
    torch.manual_seed(0)
    m = factorized_prior(8, 8).eval()
    m.update(force=True)
    res = img.contrast_performance([(m, m)], list(test_images), [0.5, 1.0, 2.0])
    np.testing.assert_allclose(res["ratio"], 1.0)
    np.testing.assert_allclose(res["distortion_ratio"], 1.0)
    np.testing.assert_allclose(res["rate_ratio"], 1.0)
    refs = list(test_images)
    distorted = [(0, (refs[0] + 0.01 * k).clamp(0, 1)) for k in range(1, 6)] + [(1, (refs[1] * 0.9 ** k)) for k in range(1, 6)]
    scores = [float(((refs[i] - x) ** 2).mean()) for i, x in distorted]
    # an "autoencoder" that scales by 100, rounds, and scales back: both induced distances rank like RMSE
    lin = factorized_prior(8, 3).eval()
    lin.g_a, lin.g_s = _Scale(100.0), _Scale(0.01)
    lin.update(force=True)
    out = img.observation5({"lin": lin}, refs, distorted, {"mse": scores, "-mse": [-v for v in scores]})
    rows = out["mse"]
    assert rows[0]["model"] == "RMSE" and rows[0]["rho_Dr"] == pytest.approx(1.0)
    assert rows[1]["rho_Din"] == pytest.approx(1.0) and rows[1]["rho_Dr"] > 0.95
    assert out["-mse"][1]["rho_Din"] == pytest.approx(-1.0)


def test_contrast_ratio_splits_into_distortion_and_rate_factors(test_images):
    from perceptual_compression.analysis.contrast import contrast_axis
    from perceptual_compression.coding import ImageCodec

    torch.manual_seed(0)
    a, b = factorized_prior(8, 8).eval(), factorized_prior(8, 8).eval()
    for m in (a, b):
        m.update(force=True)
    alphas = [0.3, 1.0, 1.7]
    one = img.contrast_performance([(a, b)], [test_images[0]], alphas)
    # one image: the ratio is exactly the distortion factor over the rate factor
    np.testing.assert_allclose(one["ratio"], one["distortion_ratio"] / one["rate_ratio"], rtol=1e-12)
    # the raw values are the real codec's: bytes of the bitstream and MSE of its decode
    xa = contrast_axis(test_images[0][None], 1.7)
    data = ImageCodec(b, "check").compress(xa)
    assert one["bpp_mse"][0, 2] == pytest.approx(8 * len(data) / (xa.shape[-1] * xa.shape[-2]))
    x_hat = ImageCodec(b, "check").decompress(data)
    assert one["mse_mse"][0, 2] == pytest.approx(((xa - x_hat) ** 2).mean().item(), rel=1e-6)
    np.testing.assert_allclose(one["ratio"][0], (one["mse_perceptual"] / one["bpp_perceptual"])[0]
                               / (one["mse_mse"] / one["bpp_mse"])[0], rtol=1e-12)
    many = img.contrast_performance([(a, b)], list(test_images), alphas)
    # several images: the quotient is the geometric mean of the per-image ratios, never above their mean
    assert many["distortion_ratio"].shape == many["rate_ratio"].shape == (1, 3)
    assert np.all(many["distortion_ratio"] / many["rate_ratio"] <= many["ratio"] * (1 + 1e-12))
    # the split table: one row per pair and quantity, columns at the grid points nearest to the requested
    # contrasts (0.2 and 0.4 both fall on 0.3), values read from the result, JSON lists accepted
    rows = img.contrast_factors({k: np.asarray(v).tolist() for k, v in many.items()}, at=(0.2, 0.4, 2.0))
    assert [r["quantity"] for r in rows][:3] == ["ratio P_MS-SSIM / P_MSE", "D factor (MSE / MSE)", "R factor (bpp / bpp)"]
    assert len(rows) == 5 and list(rows[0]) == ["pair", "quantity", "α = 0.3", "α = 1.7"]
    assert rows[1]["α = 1.7"] == pytest.approx(many["distortion_ratio"][0, 2])
    assert rows[4]["α = 0.3"] == pytest.approx(many["bpp_mse"][0, 0])
    # the mean-error diagnostic codes the same images the same way: the same MSE, never less after restoring the means
    me = img.contrast_mean_error(b, list(test_images), alphas)
    np.testing.assert_allclose(me["mse"], many["mse_mse"][0], rtol=1e-9)
    assert np.all(me["mse_means_restored"] <= me["mse"]) and np.all((0 <= me["mean_share"]) & (me["mean_share"] <= 1))


class _Scale(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        return self.c * x


def test_block_mean_scores_code_for_real_and_beat_grey(test_images):
    from perceptual_compression.coding import BlockMeanCodec, header_size

    ims = list(test_images)
    s = img.block_mean_scores(ims, 16, msssim_levels="auto")
    nbytes = 3 * 4 * 4 + header_size((64, 64, 3), [48])  # 4 x 4 blocks of 16 px, one byte per mean
    assert s["bpp"] == pytest.approx(8 * nbytes / 64**2, abs=1e-12)
    codec = BlockMeanCodec(16)
    psnrs = [float(img.image_quality(x[None], codec.decompress(codec.compress(x)), "auto")["psnr"]) for x in ims]
    assert s["psnr"] == pytest.approx(float(np.mean(psnrs)), abs=1e-9)
    grey = img.flat_grey_scores(ims, msssim_levels="auto")
    assert s["psnr"] > grey["psnr"] + 3 and s["nlpd"] < grey["nlpd"] and s["ms_ssim"] > grey["ms_ssim"]
    finer = img.block_mean_scores(ims, 8, msssim_levels="auto")
    assert finer["psnr"] > s["psnr"] and finer["bpp"] > s["bpp"]


def test_noise_objective_gains_mse_barely_rewards_the_low_pass_code():
    g = img.noise_objective_gains(size=64, batch=4, seed=0)
    assert set(g) == {"mse", "ms-ssim", "nlpd"}
    assert g["mse"]["grey"] == pytest.approx(1 / 12, rel=0.02)  # Var U(0, 1): a flat grey guess of i.i.d. noise
    for row in g.values():
        assert 0 < row["block16_gain"] < row["block8_gain"] < 1  # finer means remove more of the loss
        assert row["block16_gain"] == pytest.approx(1 - row["block16"] / row["grey"], abs=1e-12)
    # the block means of 256 i.i.d. pixels have variance (1/12)/256: a perfect code of them removes < 1 % of
    # the MSE on noise, while NLPD's normalisation makes the same code worth several per cent
    assert g["mse"]["block16_gain"] < 0.01
    assert g["nlpd"]["block16_gain"] > 0.05 and g["nlpd"]["block16_gain"] > 10 * g["mse"]["block16_gain"]
    with pytest.raises(ValueError, match="valid values are"):
        img.noise_objective_gains(distortions=("l1",))


def test_nlpd_level_profiles_locate_the_block_means_in_the_coarse_bands():
    from perceptual_compression.metrics.nlpd import nlpd_levels

    x = img.uniform_noise_batch(4, 64, torch.Generator().manual_seed(0))
    coders = img.reference_coders(((16, 8),))
    assert list(coders) == ["flat grey", "16×16 block means, 8 bit"]
    prof = img.nlpd_level_profiles(x, coders | {"identity": lambda v: v})
    assert prof["identity"] == pytest.approx([0.0] * 6, abs=1e-6)
    want = torch.cat([nlpd_levels(v[None], torch.full_like(v[None], 0.5)) for v in x]).mean(0)
    assert prof["flat grey"] == pytest.approx(want.tolist(), abs=1e-6)
    grey, block = np.array(prof["flat grey"]), np.array(prof["16×16 block means, 8 bit"])
    # the block means leave the two finest bands as grey does and lower the coarse ones
    assert np.allclose(block[:2], grey[:2], rtol=0.02) and np.all(block[3:] < 0.9 * grey[3:])


def test_block_mean_fidelity_reads_the_amplitude_of_the_coarse_structure():
    x = img.uniform_noise_batch(3, 64, torch.Generator().manual_seed(1))
    fid = img.block_mean_fidelity(x, {"identity": lambda v: v,
                                      "damped": lambda v: 0.5 + 0.1 * (v - 0.5),  # a tenth of every deviation
                                      "brighter": lambda v: v + 0.05,  # an overall shift does not count
                                      "grey": lambda v: torch.full_like(v, 0.5)}, factor=16)
    assert fid["identity"] == pytest.approx({"slope": 1.0, "std_ratio": 1.0, "corr": 1.0}, abs=1e-9)
    assert fid["damped"] == pytest.approx({"slope": 0.1, "std_ratio": 0.1, "corr": 1.0}, abs=1e-6)
    assert fid["brighter"]["slope"] == pytest.approx(1.0, abs=0.02)  # up to the clamp at 1
    assert fid["grey"] == pytest.approx({"slope": 0.0, "std_ratio": 0.0, "corr": 0.0}, abs=1e-9)
    # the 16x16 block-mean code reproduces the block means up to its 8-bit quantization
    code = img.reference_coders(((16, 8),))["16×16 block means, 8 bit"]
    assert img.block_mean_fidelity(x, {"c": code})["c"]["corr"] > 0.9


# ----------------------------------------------------------------------------- resume = uninterrupted
def _equal_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_factorized_training_resumed_from_a_checkpoint_is_the_uninterrupted_run(tmp_path):
    """A run stopped at a checkpoint and resumed in a fresh process (new PatchDataset) ends with the weights
    of the run that never stopped: the patch stream continues instead of restarting from its seed."""
    from perceptual_compression.experiments.ch2_config import FactorizedConfig

    torch.set_num_threads(1)
    cfg = FactorizedConfig(n_low=8, m_low=8, patch_size=16, batch_size=2, steps=6, checkpoint_every=3, log_every=1)

    def run(**kw):
        return img.train_factorized(cfg, "mse", 0.01, 0, PatchDataset(embedded_images(), size=16, seed=5), seed=0,
                                    progress=False, **kw)

    whole = run()
    first = run(steps=3, checkpoint_path=tmp_path / "c.pt")
    resumed = run(checkpoint_path=tmp_path / "c.pt")
    assert _equal_weights(whole, resumed)
    # the resumed model knows where it resumed, and its training time includes the first invocation's
    assert first.resumed_from is None and resumed.resumed_from == 3
    assert resumed.train_seconds > first.train_seconds > 0
    np.testing.assert_array_equal(resumed.history.values("loss"), whole.history.values("loss"))
    assert not _equal_weights(whole, run(steps=3))  # (the comparison can fail)


@pytest.mark.parametrize("data", ["natural", "uniform"])
def test_entropy_limited_training_resumed_is_the_uninterrupted_run(tmp_path, data):
    torch.set_num_threads(1)
    cfg = EntropyLimitedConfig(n=8, m=8, patch_size=16, batch_size=2, steps=6, checkpoint_every=2, log_every=1)

    def run(**kw):
        return img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), data, PatchDataset(embedded_images(), size=16, seed=2),
                                         seed=0, progress=False, **kw)

    whole = run()
    assert run(checkpoint_path=tmp_path / "c.pt", time_limit_s=0.0).steps_done == 1  # stopped after one step
    resumed = run(checkpoint_path=tmp_path / "c.pt")
    assert resumed.steps_done == 6 and _equal_weights(whole, resumed)


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


def test_lost_channels_are_the_negative_means_and_the_zero_scores():
    assert img.lost_channels({"dead_channels": [], "mean_out": [0.4, 0.4, 0.3]}) == []
    assert img.lost_channels({"dead_channels": [2], "mean_out": [-0.1, 0.4, 0.3]}) == [0, 2]
    assert img.lost_channels({"dead_channels": [0], "mean_out": [-0.1, 0.4, 0.3]}) == [0]


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


class _Reconstruction(torch.nn.Module):
    """A stand-in codec: a fixed map of the input (``x_hat = 0.9 x + 0.05 - shift`` per channel)."""

    def __init__(self, shift=(0.0, 0.0, 0.0)):
        super().__init__()
        self.shift = torch.nn.Parameter(torch.tensor(shift).view(1, 3, 1, 1))

    def forward(self, x):
        return {"x_hat": 0.9 * x + 0.05 - self.shift}


def test_msssim_channels_flag_a_lost_channel_and_training_warns():
    """A channel reconstructed at a negative mean is lost (msssim_channels names it; here it also scores 0);
    a freshly initialised factorized model already has such channels (its output means are near 0, of either
    sign); and MS-SSIM training that ends with one warns."""
    from perceptual_compression.experiments.ch2_config import FactorizedConfig

    torch.set_num_threads(1)
    patches = PatchDataset(embedded_images(), size=64, flip=True, seed=0)
    images = patches.batch(3)
    healthy = img.msssim_channels(_Reconstruction(), images)
    assert healthy["lost_channels"] == healthy["dead_channels"] == [] and healthy["dead_share"].tolist() == [0.0, 0.0, 0.0]
    assert np.all(healthy["ms_ssim"] > 0.9)
    np.testing.assert_allclose(healthy["mean_in"], images.mean((0, 2, 3)).double().numpy(), rtol=1e-6)
    np.testing.assert_allclose(healthy["mean_out"], 0.9 * healthy["mean_in"] + 0.05, rtol=1e-6)
    lost = img.msssim_channels(_Reconstruction((1.0, 0.0, 0.0)), images)
    assert lost["lost_channels"] == lost["dead_channels"] == [0] and lost["dead_share"].tolist() == [1.0, 0.0, 0.0]
    assert lost["ms_ssim"][0] == 0.0 and lost["mean_out"][0] < 0
    np.testing.assert_allclose(lost["ms_ssim"][1:], healthy["ms_ssim"][1:])
    torch.manual_seed(0)
    fresh = factorized_prior(8, 8).eval()
    at_init = img.msssim_channels(fresh, images)
    assert at_init["lost_channels"] and at_init["lost_channels"] == [c for c in range(3) if at_init["mean_out"][c] < 0]
    cfg = FactorizedConfig(n_low=8, m_low=8, patch_size=64, batch_size=2, steps=2, checkpoint_every=0, log_every=1)
    with torch.no_grad():
        fresh.g_s[-1].bias[0] -= 3.0
    with pytest.warns(RuntimeWarning, match=r"channel\(s\) \[0[,\]].* negative mean"):
        broken = img.train_factorized(cfg, "ms-ssim", cfg.lambdas_msssim[1], 1, patches, seed=0, progress=False,
                                      init_from=fresh)
    # the model keeps what was lost, and the chapter's visible report names it (and nothing for healthy models)
    assert broken.lost_channels[0] == 0
    mse = img.train_factorized(cfg, "mse", cfg.lambdas_mse[1], 1, patches, seed=0, progress=False)
    assert mse.lost_channels == [] and img.lost_channel_report({"mse-1": mse}) is None
    report = img.lost_channel_report({"mse-1": mse, "ms-ssim-1": broken})
    assert report.startswith("Lost colour channel(s): ms-ssim-1: R") and "mse-1" not in report


def test_contrast_summary_reads_the_minimum_and_the_two_ends_of_the_axis():
    res = {"alpha": np.array([0.02, 0.1, 0.5, 1.0, 1.6, 2.0]), "mean": np.array([0.7, 0.6, 0.9, 1.0, 1.2, 1.4])}
    s = img.contrast_summary(res)
    assert s == {"min": 0.6, "alpha": 0.1, "low_mean": pytest.approx(0.65), "high_mean": pytest.approx(1.3)}
    assert img.contrast_summary(res, low_below=0.05)["low_mean"] == pytest.approx(0.7)


def test_zoo_models_load_both_metrics_per_quality_and_pair_them(monkeypatch):
    """The chapter's pretrained path: names, order and pairing (the loader itself: test_factorized_prior)."""
    calls = []

    def fake(q, metric, device=None, download=None):
        calls.append((q, metric))
        return f"{metric}{q}"

    monkeypatch.setattr(img.contrast, "load_zoo_factorized", fake)  # where zoo_models looks it up
    models = img.zoo_models((3, 6))
    assert calls == [(3, "mse"), (3, "ms-ssim"), (6, "mse"), (6, "ms-ssim")]
    assert models == {"mse-q3": "mse3", "ms-ssim-q3": "ms-ssim3", "mse-q6": "mse6", "ms-ssim-q6": "ms-ssim6"}
    assert img.zoo_pairs(models, (6, 3)) == [("ms-ssim6", "mse6"), ("ms-ssim3", "mse3")]


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
    cs = img.contrast_summary(rec["contrast"])
    sm = rec["summary"]
    assert (sm["contrast_min"], sm["contrast_min_alpha"], sm["contrast_low_mean"], sm["contrast_high_mean"]) == (
        cs["min"], cs["alpha"], cs["low_mean"], cs["high_mean"])
    assert sm["contrast_min"] == min(rec["contrast"]["mean"]) and (tmp_path / "fp.md").exists()


def test_the_package_exports_every_public_name_of_its_modules():
    """``ch2_images`` is one module per experiment; the chapter and the scripts use it as one namespace, so a
    public function added to a module and not exported would be out of their reach."""
    import importlib
    import pkgutil
    import types

    public = set()
    for info in pkgutil.iter_modules(img.__path__):
        mod = importlib.import_module(f"{img.__name__}.{info.name}")
        public |= {n for n, v in vars(mod).items()
                   if not n.startswith("_") and (getattr(v, "__module__", None) == mod.__name__
                                                     or (n.isupper() and not isinstance(v, types.ModuleType)))}
    assert public == set(img.__all__)
    assert all(getattr(img, n) is not None for n in img.__all__)
