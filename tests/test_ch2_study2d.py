import dataclasses

import numpy as np
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
    assert (tmp_path / "bank.pt").is_file()
    x = bank.source.sample(2000, generator=torch.Generator().manual_seed(1))
    rows = s2d.member_rates(bank, x)
    for r in rows:
        assert r["decoded_matches"]
        # real bytes are close to the estimate (header + rANS overhead only)
        assert r["bits_per_sample"] >= r["bits_per_sample_estimated"] * 0.95
        assert r["bits_per_sample"] <= r["bits_per_sample_estimated"] * 1.1 + 8 * 64 / 2000
    corr = s2d.sensitivity_correlations(bank, n=2000, delta=1e-3)
    assert len(corr) == 1 and -1 <= corr[0]["rho_Ds"] <= 1
    xs, ys, labels, codes = s2d.quantization_cells(bank.model.extract(0), extent=(-4, 4, -2, 2), resolution=50)
    assert labels.shape == (50, 50) and codes.shape[1] == 2 and labels.max() + 1 == len(codes)
    rel = s2d.relative_performance_along_x(bank, n=700, x_max=35.0, window=0.5)
    assert rel["raw"].shape == (1, 70) and np.isfinite(rel["mean_fit"]).all()
    np.testing.assert_allclose(rel["x"][:2], [0.25, 0.75])
