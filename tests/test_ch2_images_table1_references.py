"""experiments.ch2_images.table1_references: Table 1's untrained reference levels and its uniform-noise claim."""

import numpy as np
import pytest
import torch

from perceptual_compression.experiments import ch2_images as img
from _ch2_images_shared import test_images  # noqa: F401 (fixtures)


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


def test_ranged_noise_rewards_block_means_for_every_distortion():
    iid = img.noise_objective_gains(size=64, batch=16, distortions=("mse",))
    ranged = img.noise_objective_gains(size=64, batch=16, distortions=("mse",), noise="uniform-ranged")
    # on the paper's noise a perfect 16x16 block-mean code removes a tiny share of the MSE from grey; on the
    # ranged noise the channel means carry Var[(U1 + U2) / 2] / (that + E[(U1 - U2)^2] / 12) = (1/24) / (1/24 + 1/72)
    # = 3/4 of it in expectation (16 images: a sample of it)
    assert iid["mse"]["block16_gain"] < 0.02
    assert 0.6 < ranged["mse"]["block16_gain"] < 0.9


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


def test_block_mean_spread_of_noise_and_of_a_two_level_image():
    """The centred block means' RMS: sqrt(1/12)/16 * sqrt(1 - 1/16) = 0.0175 for 64² U(0, 1) noise (16 blocks per
    image), the half-step for an image whose left and right halves differ by one step, 0 for a flat one."""
    x = img.uniform_noise_batch(512, 64, torch.Generator().manual_seed(0))
    assert img.block_mean_spread(x) == pytest.approx((1 / 12) ** 0.5 / 16 * (15 / 16) ** 0.5, rel=0.01)
    halves = torch.zeros(1, 3, 32, 64)
    halves[..., 32:] = 0.4
    assert img.block_mean_spread(halves) == pytest.approx(0.2, abs=1e-6)  # float32 means
    assert img.block_mean_spread([torch.full((3, 32, 32), 0.7)]) == 0.0
    assert img.block_mean_spread(halves + 0.1) == pytest.approx(0.2, abs=1e-6)  # the image's mean does not count
    # the same centred block means as block_mean_fidelity's: a tenth of every deviation, a tenth of the spread
    damped = 0.5 + 0.1 * (x[:8] - 0.5)
    assert img.block_mean_spread(damped) == pytest.approx(0.1 * img.block_mean_spread(x[:8]), rel=1e-4)  # float32


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
