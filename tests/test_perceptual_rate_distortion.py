import pytest
import torch

from perceptual_compression.losses.perceptual_rate_distortion import bits_per_pixel, distortion, rate_distortion_loss
from perceptual_compression.metrics import ms_ssim, nlpd


def _pair():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 48, 48, generator=g)
    return x, (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)


def test_nlpd_identities_used_here():
    x, y = _pair()
    # zero for identical images, positive otherwise, symmetric
    torch.testing.assert_close(nlpd(x, x), torch.zeros(2))
    d = nlpd(x, y)
    assert (d > 0).all()
    torch.testing.assert_close(d, nlpd(y, x))
    # finite gradient at x_hat = x (training starts near the identity) and a descent direction elsewhere
    z = x.clone().requires_grad_(True)
    nlpd(x, z).sum().backward()
    assert torch.isfinite(z.grad).all()
    w = y.clone().requires_grad_(True)
    nlpd(x, w).sum().backward()
    with torch.no_grad():
        assert (nlpd(x, w - 1e-3 * w.grad / w.grad.norm()) < nlpd(x, w)).all()
    # grows with the noise level
    assert (nlpd(x, (x + 0.1 * (y - x) / 0.05).clamp(0, 1)) > d).all()


def test_distortions():
    x, y = _pair()
    torch.testing.assert_close(distortion("mse", x, y), ((x - y) ** 2).flatten(1).mean(1))
    torch.testing.assert_close(distortion("mse", x, y, mse_scale=255.0**2), 255.0**2 * ((x - y) ** 2).flatten(1).mean(1))
    torch.testing.assert_close(distortion("ms-ssim", x, y), 1 - ms_ssim(x, y, levels="auto"))
    torch.testing.assert_close(distortion("nlpd", x, y), nlpd(x, y))
    with pytest.raises(ValueError):
        distortion("lpips", x, y)


def test_rate_distortion_loss():
    x, y = _pair()
    lik = {"y": torch.full((2, 4, 3, 3), 0.5)}
    assert bits_per_pixel(lik, 2 * 48 * 48).item() == pytest.approx(2 * 4 * 9 / (2 * 48 * 48))
    out = rate_distortion_loss({"x_hat": y, "likelihoods": lik}, x, 0.01, "mse")
    expect = 2 * 4 * 9 / (2 * 48 * 48) + 0.01 * 255**2 * ((x - y) ** 2).mean().item()
    assert out["loss"].item() == pytest.approx(expect, rel=1e-5)
    # the MS-SSIM branch: lambda (1 - MS-SSIM), unscaled, on the levels 48-pixel images allow
    from perceptual_compression.metrics import ms_ssim

    out = rate_distortion_loss({"x_hat": y, "likelihoods": lik}, x, 5.0, "ms-ssim")
    d = float((1 - ms_ssim(x, y, levels="auto")).mean())
    assert 0.0 < d < 1.0 and out["distortion"].item() == pytest.approx(d, rel=1e-6)
    assert out["loss"].item() == pytest.approx(2 * 4 * 9 / (2 * 48 * 48) + 5.0 * d, rel=1e-6)
