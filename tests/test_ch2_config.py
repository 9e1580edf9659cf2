import pytest

from perceptual_compression.experiments.ch2_config import Ch2Config
from perceptual_compression.params import ParameterError


def test_paper_settings():
    c = Ch2Config.for_scale("paper")
    s = c.study2d
    assert (s.nu, s.scale, s.hidden, s.steps, s.batch_size, s.lr, s.final_lr_factor, s.gamma) == (
        2.0, (0.5, 0.2), 100, 500_000, 4096, 1e-3, 1.0, 0.1)
    e = c.entropy_limited
    assert (e.n, e.m, e.soft_scale) == (128, 64, 1.0)
    assert e.centers == ((-1.0, 1.0), (-2.0, -1.0, 0.0, 1.0, 2.0))
    assert set(e.losses) == {"mse", "ms-ssim", "nlpd"}
    f = c.factorized
    assert (f.n_low, f.m_low, f.n_high, f.m_high, f.n_low_rates) == (128, 192, 192, 320, 5)
    assert len(f.lambdas_mse) == len(f.lambdas_msssim) == 8
    b = c.small_batch
    assert b.seeds == (0, 1, 2, 3, 4) and (b.n, b.m, b.eval_every, b.eval_images) == (128, 64, 1, 24)
    assert (b.steps, b.lr, b.patch_size) == (2500, 1e-4, 128)  # not stated in the paper: the committed run's values
    assert c.evaluation.n_alpha == 200


def test_small_scale_keeps_the_structure():
    c = Ch2Config.for_scale("small")
    assert c.scale == "small"
    assert len(c.study2d.lambdas) >= 3 and c.study2d.steps < 10_000
    assert c.entropy_limited.m == 64  # keeps the 0.25 bpp bound of eq. 16
    assert len(c.small_batch.seeds) == 5
    assert len(c.factorized.lambdas_mse) == len(c.factorized.lambdas_msssim) >= 2


def test_invalid_scale():
    with pytest.raises(ParameterError, match="small"):
        Ch2Config.for_scale("huge")
