"""Fixed-center quantizer (supplement E, eq. 55): hard forward, soft backward, decoder noise."""

import pytest
import torch

from perceptual_compression.quantizers.fixed_centers import FixedCenterQuantizer, fixed_centers


def test_centers():
    assert torch.allclose(fixed_centers(2), torch.tensor([-1.0, 1.0]))
    assert torch.allclose(fixed_centers(3), torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.allclose(fixed_centers(5), torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))
    for bad in (1, 0, 2.5):
        with pytest.raises(ValueError, match="L"):
            fixed_centers(bad)


def test_defaults_follow_the_paper():
    q = FixedCenterQuantizer(4)
    assert q.sigma == pytest.approx(2 / 4)
    assert q.noise_width == pytest.approx(2 / 3)
    assert FixedCenterQuantizer(16).noise_width == pytest.approx(2 / 15)


def test_hard_forward_values():
    q = FixedCenterQuantizer(3)
    z = torch.tensor([-0.9, -0.4, -0.1, 0.2, 0.6, 1.0])
    assert torch.equal(q.indices(z), torch.tensor([0, 1, 1, 1, 2, 2]))
    assert torch.allclose(q(z), torch.tensor([-1.0, 0.0, 0.0, 0.0, 1.0, 1.0]))
    assert torch.allclose(q.dequantize(q.indices(z)), q.hard(z))


def test_soft_assignment_is_eq55():
    q = FixedCenterQuantizer(4)
    z = torch.tensor([-0.7, 0.1, 0.95])
    c = fixed_centers(4)
    w = torch.exp(-q.sigma * (z[:, None] - c).abs())
    expected = (w / w.sum(1, keepdim=True) * c).sum(1)
    assert torch.allclose(q.soft(z), expected)


def test_backward_is_the_gradient_of_the_soft_path():
    q = FixedCenterQuantizer(5)
    z = torch.linspace(-0.95, 0.95, 11, requires_grad=True)
    weights = torch.randn(11)
    (q(z) * weights).sum().backward()
    g_hard = z.grad.clone()
    z2 = z.detach().clone().requires_grad_(True)
    (q.soft(z2) * weights).sum().backward()
    assert torch.allclose(g_hard, z2.grad)
    assert torch.all(z2.grad.abs() > 0)  # the hard path alone would give zero gradient


def test_decoder_noise_never_mixes_codes():
    torch.manual_seed(0)
    for L in (2, 3, 8, 16):
        q = FixedCenterQuantizer(L)
        idx = torch.randint(0, L, (20_000,))
        noisy = q.add_noise(q.dequantize(idx))
        dev = noisy - q.dequantize(idx)
        assert dev.abs().max() <= q.noise_width / 2 + 1e-6
        assert dev.abs().max() > 0.45 * q.noise_width  # uniform over the whole (-a/2, a/2)
        # every noisy value is still (weakly) closest to its own center
        assert (q.indices(noisy) == idx).float().mean() > 0.999
