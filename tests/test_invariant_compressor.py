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
    # bin/banana/banana_RD.sh: VC with a 2-D latent, VIC with a 1-D one, Adam; config/main.yaml: MNIST with AdamW
    # 1e-3 and weight decay 1e-5
    assert (b.latent_dim("VC"), b.latent_dim("VIC"), b.weight_decay) == (2, 1, 0.0)
    assert b.build("VIC").prior.dim == 1 and b.build("VC").prior.dim == 2
    assert b.build("VIC").encode_latents(torch.randn(5, 2)).shape == (5, 1)
    assert m.weight_decay == 1e-5 and MNISTConfig.for_scale("small").weight_decay == 0.0
    small = BananaConfig.for_scale("small")
    assert small.latent_dim("VC") == small.latent_dim("VIC") == 2   # one ensemble needs one latent size
    with pytest.raises(ValueError, match="'VC', 'VIC'"):
        b.latent_dim("BINCE")


def test_weight_decay_trains_with_adamw(monkeypatch):
    """``weight_decay > 0`` gives AdamW with that decoupled decay (the authors' MNIST optimizer); 0 gives Adam."""
    import perceptual_compression.models.invariant_compressor as ic

    p = [torch.nn.Parameter(torch.ones(3))]
    assert type(ic.adam(p, 1e-3)) is torch.optim.Adam
    opt = ic.adam(p, 1e-3, 1e-5)
    assert type(opt) is torch.optim.AdamW and opt.defaults["weight_decay"] == 1e-5
    # one AdamW step with a zero gradient only decays: p <- p (1 - lr wd)
    p[0].grad = torch.zeros(3)
    ic.adam(p, 0.5, 0.1).step()
    torch.testing.assert_close(p[0].detach(), torch.full((3,), 1 - 0.05))
    made = []
    monkeypatch.setattr(ic, "adam", lambda params, lr, wd=0.0: made.append(wd) or torch.optim.Adam(params, lr=lr))
    cfg = BananaConfig.for_scale("small").with_(hidden=8, batch_size=16)
    src, g = Banana(), torch.Generator().manual_seed(0)
    train_compressor(cfg.build("VIC"), "VIC", lambda s: banana_pair(src, "VIC", 16, g), beta=1.0, steps=2, lr=1e-3,
                     likelihood="gaussian", progress=False, weight_decay=1e-5)
    assert made == [1e-5]


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
