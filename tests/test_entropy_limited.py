import pytest
import torch

from perceptual_compression.models.entropy_limited import EntropyLimitedAutoencoder


def _model(**kw):
    torch.manual_seed(0)
    return EntropyLimitedAutoencoder(n=8, m=16, **kw)


def test_architecture_counts_and_shapes():
    m = EntropyLimitedAutoencoder()  # N = 128, M = 64 (appendix E)
    convs = [l for l in m.encoder if isinstance(l, torch.nn.Conv2d)]
    gdns = [l for l in m.encoder if l.__class__.__name__ == "GDN"]
    assert len(convs) == 5 and len(gdns) == 4
    assert len([l for l in m.decoder if isinstance(l, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]) == 5
    assert len([l for l in m.decoder if l.__class__.__name__ == "GDN" and l.inverse]) == 4
    assert convs[-1].out_channels == 64 and convs[0].out_channels == 128
    assert m.bpp_bound == pytest.approx(0.25)
    x = torch.rand(2, 3, 64, 48)
    out = _model()(x)
    assert out["y"].shape == (2, 16, 4, 3) and out["x_hat"].shape == x.shape


def test_soft_in_training_hard_in_eval():
    m = _model(centers=(-2, -1, 0, 1, 2))
    x = torch.rand(1, 3, 32, 32)
    m.eval()
    y_hat = m(x)["y_hat"]
    assert set(torch.unique(y_hat).tolist()) <= {-2.0, -1.0, 0.0, 1.0, 2.0}
    m.train()
    out = m(x)
    torch.testing.assert_close(out["y_hat"], m.quantizer.soft(out["y"]))


def test_without_quantization():
    m = _model(quantize=False)
    x = torch.rand(1, 3, 32, 32)
    out = m(x)
    torch.testing.assert_close(out["y_hat"], out["y"])
    assert m.bpp_bound == float("inf")
    with pytest.raises(RuntimeError):
        m.compress(x)


def test_real_bitstream_round_trip_and_bound():
    m = _model().eval()
    x = torch.rand(2, 3, 64, 64)
    enc = m.compress(x)
    dec = m.decompress(enc["strings"], enc["shape"])["x_hat"]
    torch.testing.assert_close(dec, m(x)["x_hat"].clamp(0, 1))
    # uniform table over 2 centers: 1 bit per symbol, 16 channels x 4 x 4 symbols, plus a header
    nbytes = len(enc["strings"][0][0])
    assert 16 * 16 / 8 <= nbytes <= 16 * 16 / 8 + 64


def test_fit_pmf_lowers_the_rate_of_a_skewed_code():
    m = _model().eval()
    x = torch.rand(4, 3, 64, 64)
    before = sum(len(s) for s in m.compress(x)["strings"][0])
    m.fit_pmf([x])
    assert torch.allclose(m.pmf.sum(1), torch.ones(16))
    # the pmf is each channel's symbol frequencies on the batches, plus the floor (1e-3), renormalised
    with torch.no_grad():
        s = m.quantizer.symbols(m.encoder(x))
    f1 = (s == 1).double().mean((0, 2, 3))
    torch.testing.assert_close(m.pmf[:, 1].double(), (f1 + 1e-3) / (1 + 2e-3), atol=1e-6, rtol=0)
    after = sum(len(s) for s in m.compress(x)["strings"][0])
    assert after < before  # a skewed code costs fewer bytes under its own frequencies than under a uniform pmf


def test_output_starts_near_grey_so_ms_ssim_has_a_gradient_on_noise():
    # With the decoder's last bias at 0 this init (N = 64, seed 0) gave an output mean below 0 in every channel:
    # the coarsest-scale SSIM was negative, MS-SSIM's ReLU made the product 0 and the loss had no gradient.
    from perceptual_compression.losses.perceptual_rate_distortion import distortion
    from perceptual_compression.training import seed_everything

    torch.set_num_threads(1)
    seed_everything(0)
    m = EntropyLimitedAutoencoder(n=64, m=64)
    torch.testing.assert_close(m.decoder[-1].bias, torch.full((3,), 0.5))
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    x_hat = m(x)["x_hat"]
    assert abs(float(x_hat.mean()) - 0.5) < 0.15
    loss = distortion("ms-ssim", x, x_hat).mean()
    assert float(loss) < 1.0
    loss.backward()
    grad = sum(float(p.grad.abs().sum()) for p in m.parameters() if p.grad is not None)
    assert grad > 0
    with torch.no_grad():  # the failure this guards against: the same network with its output shifted below 0
        assert float(distortion("ms-ssim", x, x_hat - 0.6).mean()) == 1.0
