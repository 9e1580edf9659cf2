import math

import pytest
import torch

from perceptual_compression.quantizers.soft_centers import (
    SoftCenterQuantizer,
    entropy_bound_bits,
    entropy_bound_bpp,
)


def test_two_centers_soft_is_tanh_2y():
    # eq. 15 with centers {-1, 1} and s = 1: weights prop. to exp(-(y -+ 1)^2) -> y~ = tanh(2y)
    q = SoftCenterQuantizer([-1.0, 1.0], scale=1.0)
    y = torch.linspace(-3, 3, 101)
    torch.testing.assert_close(q.soft(y), torch.tanh(2 * y))


def test_soft_tends_to_hard_as_scale_grows():
    y = torch.tensor([-2.7, -1.4, -0.2, 0.3, 0.49, 0.51, 1.6, 3.0])
    hard = SoftCenterQuantizer([-2, -1, 0, 1, 2]).hard(y)
    torch.testing.assert_close(hard, torch.tensor([-2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 2.0]))
    errs = [(SoftCenterQuantizer([-2, -1, 0, 1, 2], scale=s).soft(y) - hard).abs().max().item()
            for s in (1.0, 10.0, 100.0, 1000.0)]
    assert errs[-1] < 1e-6
    assert all(a > b for a, b in zip(errs, errs[1:]))


def test_soft_values_lie_between_the_centers_and_are_monotone():
    q = SoftCenterQuantizer([-2, -1, 0, 1, 2])
    y = torch.linspace(-10, 10, 2001)
    s = q.soft(y)
    assert s.min() >= -2 and s.max() <= 2
    assert (s.diff() >= -1e-7).all()
    # far outside the centers the soft value saturates at the extreme centers
    assert q.soft(torch.tensor([-50.0, 50.0])).tolist() == pytest.approx([-2.0, 2.0])


def test_soft_at_a_center_is_pulled_towards_it_and_midpoint_is_exact():
    q = SoftCenterQuantizer([-1.0, 1.0])
    assert q.soft(torch.tensor([0.0])).item() == pytest.approx(0.0, abs=1e-7)
    assert q.soft(torch.tensor([1.0])).item() == pytest.approx(math.tanh(2.0))


def test_modes_and_straight_through_gradient():
    q = SoftCenterQuantizer([-1.0, 1.0])
    y = torch.tensor([-0.3, 0.2, 2.0], requires_grad=True)
    out = q(y, "ste")
    torch.testing.assert_close(out.detach(), torch.tensor([-1.0, 1.0, 1.0]))
    out.sum().backward()
    torch.testing.assert_close(y.grad, 2 / torch.cosh(2 * y.detach()) ** 2)  # d tanh(2y)/dy
    q.train()
    torch.testing.assert_close(q(y).detach(), torch.tanh(2 * y.detach()))
    q.eval()
    torch.testing.assert_close(q(y).detach(), torch.tensor([-1.0, 1.0, 1.0]))
    with pytest.raises(ValueError):
        q(y, "round")


def test_symbols_round_trip():
    q = SoftCenterQuantizer([-2, -1, 0, 1, 2])
    y = torch.randn(4, 8, 3, 3) * 3
    torch.testing.assert_close(q.dequantize(q.symbols(y)), q.hard(y))
    assert q.symbols(y).min() >= 0 and q.symbols(y).max() <= 4


def test_entropy_bound_eq16():
    # the paper's two settings: M = 64, 4 stride-2 layers
    assert entropy_bound_bpp(4, 64, 2) == pytest.approx(0.25)
    assert entropy_bound_bpp(4, 64, 5) == pytest.approx(64 * math.log2(5) / 256)
    # whole-image bits: Kodak 768 x 512
    assert entropy_bound_bits(512, 768, 4, 64, 2) == pytest.approx(512 * 768 * 0.25)
    # non-multiples of 2^n are padded up
    assert entropy_bound_bits(17, 16, 4, 1, 2) == 2.0
    with pytest.raises(ValueError):
        entropy_bound_bpp(4, 0, 2)


def test_invalid_centers():
    with pytest.raises(ValueError):
        SoftCenterQuantizer([1.0, 1.0])
    with pytest.raises(ValueError):
        SoftCenterQuantizer([])
    with pytest.raises(ValueError):
        SoftCenterQuantizer([0.0, 1.0], scale=0)
