"""models.invariant_compressor: the paper's settings, architectures, and a short seeded run with resume."""

from __future__ import annotations

import pytest
import torch

from perceptual_compression.augment.views import banana_pair
from perceptual_compression.models.invariant_compressor import (
    BananaConfig,
    MNISTConfig,
    PyramidConvDecoder,
    ResNet18Encoder,
    train_compressor,
)
from perceptual_compression.sources.banana import Banana


pytestmark = pytest.mark.usefixtures("one_thread_per_test")  # see conftest.py



def test_paper_settings():
    b = BananaConfig.for_scale("paper")
    assert (b.hidden, b.layers, b.batchnorm, b.batch_size, b.steps, b.lr, b.lr_decay, b.seeds) == (
        1024, 2, True, 1024, 100_000, 3e-4, 1000.0, 5)
    assert len(b.betas) == 9 and b.prior == "factorized"
    m = MNISTConfig.for_scale("paper")
    assert (m.encoder, m.z_dim, m.prior, m.batch_size, m.lr) == ("resnet18", 128, "hyperprior", 128, 1e-3)
    assert len(m.betas) == 10 and m.beta_vic == pytest.approx(10.0)   # lossyless beta 0.1 (Fig. 1)
    for scale in ("small", "paper"):
        assert BananaConfig.for_scale(scale).scale == scale
    with pytest.raises(ValueError, match="valid values"):
        BananaConfig.for_scale("huge")
    with pytest.raises(ValueError, match="valid values"):
        MNISTConfig.for_scale("medium")


def test_architectures_shapes():
    x = torch.rand(2, 1, 28, 28)
    assert ResNet18Encoder(128)(x).shape == (2, 128)
    assert PyramidConvDecoder(128)(torch.randn(2, 128)).shape == (2, 1, 28, 28)
    cfg = MNISTConfig.for_scale("small")
    for obj in ("VC", "VIC", "BINCE"):
        m = cfg.build(obj)
        z_hat, bits = m(x)
        assert z_hat.shape == (2, cfg.z_dim) and bits.shape == (2,)
        if obj != "BINCE":
            assert m.decode(z_hat).shape == (2, 1, 28, 28)
        else:
            with pytest.raises(RuntimeError):
                m.decode(z_hat)
    with pytest.raises(ValueError, match="valid values"):
        cfg.build("VAE")


def _vic_run(steps, ckpt, *, stream):
    """A short VIC run on the banana. ``stream``: batches drawn from one generator passed as the Trainer's
    stream (as the chapter's runs draw them); otherwise each batch depends only on its step."""
    cfg = BananaConfig.for_scale("small").with_(hidden=16, batch_size=64)
    src = Banana()
    torch.manual_seed(0)
    model = cfg.build("VIC")
    g = torch.Generator().manual_seed(1)
    if stream:
        def batch(step):
            return banana_pair(src, "VIC", 64, g)
    else:
        def batch(step):
            return banana_pair(src, "VIC", 64, torch.Generator().manual_seed(1000 + step))
    res = train_compressor(model, "VIC", batch, beta=4.0, steps=steps, lr=3e-3, likelihood="gaussian", seed=0,
                           checkpoint_path=ckpt, progress=False, streams={"batches": g} if stream else None)
    return res.model, res.history, src


def test_short_run_is_seeded_and_resumes(tmp_path):
    full, hist, src = _vic_run(40, None, stream=False)
    assert hist.values("loss")[-1] < hist.values("loss")[0]
    ckpt = tmp_path / "vic.pt"
    _vic_run(20, ckpt, stream=False)
    resumed, _, _ = _vic_run(40, ckpt, stream=False)
    x = src.sample(100, torch.Generator().manual_seed(2))
    torch.testing.assert_close(resumed.encode_latents(x), full.encode_latents(x), rtol=1e-4, atol=1e-5)


def test_resume_continues_a_private_batch_stream(tmp_path):
    """Batches drawn from one generator: with the generator among the ``streams``, a run resumed from its
    checkpoint ends where the uninterrupted run ends."""
    full, _, _ = _vic_run(40, None, stream=True)
    _vic_run(20, tmp_path / "vic.pt", stream=True)
    resumed, _, _ = _vic_run(40, tmp_path / "vic.pt", stream=True)
    a, b = full.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
