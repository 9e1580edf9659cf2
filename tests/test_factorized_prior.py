import pytest
import torch
from compressai.layers import GDN

from perceptual_compression.models.factorized_prior import factorized_prior, inner, reconstruct, widths_for_rate


def test_widths_of_appendix_d():
    assert [widths_for_rate(i) for i in range(8)] == [(128, 192)] * 5 + [(192, 320)] * 3


def test_shapes_and_representations():
    torch.manual_seed(0)
    m = factorized_prior(16, 24).eval()
    m.update(force=True)
    x = torch.rand(1, 3, 64, 64)
    y = inner(m, x)
    assert y.shape == (1, 24, 4, 4)
    yq = inner(m, x, quantized=True)
    med = m.entropy_bottleneck._get_medians().reshape(1, -1, 1, 1)
    torch.testing.assert_close(yq - med, torch.round(yq - med))
    xh = reconstruct(m, x)
    assert xh.shape == x.shape and xh.min() >= 0 and xh.max() <= 1
    torch.testing.assert_close(xh, m(x)["x_hat"].clamp(0, 1))


def test_gdn_positivity():
    torch.manual_seed(0)
    gdn = GDN(4)
    with torch.no_grad():  # push the raw parameters negative: the reparametrisation keeps them valid
        gdn.beta.fill_(-5.0)
        gdn.gamma.fill_(-5.0)
    beta = gdn.beta_reparam(gdn.beta)
    gamma = gdn.gamma_reparam(gdn.gamma)
    assert (beta > 0).all() and (gamma >= 0).all()
    x = torch.randn(2, 4, 8, 8) * 3
    y = gdn(x)
    # y = x / sqrt(beta + gamma x^2): same sign, finite, and |y| <= |x| / sqrt(beta)
    assert torch.isfinite(y).all()
    assert ((y * x) >= 0).all()
    assert (y.abs() <= x.abs() / beta.min().sqrt() + 1e-5).all()


def test_gdn_igdn_round_trip():
    torch.manual_seed(0)
    gdn, igdn = GDN(4), GDN(4, inverse=True)
    igdn.load_state_dict(gdn.state_dict())
    errs = []
    for amp in (1.0, 0.1, 0.01):
        x = amp * torch.randn(1, 4, 8, 8)
        errs.append(((igdn(gdn(x)) - x).abs().max() / amp).item())
    # IGDN(GDN(x)) = x + O(|x|^3): the relative error falls with the square of the amplitude
    assert errs[1] < errs[0] / 50 and errs[2] < errs[1] / 50 and errs[2] < 1e-4
    # the exact inverse of GDN by the fixed point x = y sqrt(beta + gamma x^2) (IGDN's form) converges
    x = 0.5 * torch.randn(1, 4, 8, 8)
    y = gdn(x)
    beta, gamma = gdn.beta_reparam(gdn.beta), gdn.gamma_reparam(gdn.gamma)
    z = y.clone()
    for _ in range(50):
        norm = torch.nn.functional.conv2d(z**2, gamma.reshape(4, 4, 1, 1), beta)
        z = y * torch.sqrt(norm)
    torch.testing.assert_close(z, x, atol=1e-5, rtol=1e-5)


def test_invalid_widths():
    with pytest.raises(ValueError):
        factorized_prior(0, 8)
    with pytest.raises(ValueError):
        widths_for_rate(-1)
