"""models.vector_prior: quantization, bit estimates, and real bitstreams (round trip, coded size vs estimate)."""

from __future__ import annotations

import math

import pytest
import torch

from perceptual_compression.models.vector_prior import FactorizedPrior, MeanScaleHyperprior, make_prior


pytestmark = pytest.mark.usefixtures("one_thread_per_test")  # see conftest.py



def test_factorized_prior_quantizes_around_medians():
    torch.manual_seed(0)
    prior = FactorizedPrior(3)
    z = torch.randn(64, 3) * 4
    prior.eval()
    z_hat, bits = prior(z)
    med = prior.entropy_bottleneck.quantiles[:, 0, 1]
    torch.testing.assert_close(z_hat, torch.round(z - med) + med)
    assert bits.shape == (64,) and torch.all(bits > 0)
    _, lik = prior.entropy_bottleneck(z.view(64, 3, 1, 1))
    torch.testing.assert_close(bits, -torch.log2(lik).flatten(1).sum(1))
    torch.testing.assert_close(prior.estimate_bits(z), bits)
    zh, elem = prior.forward_elementwise(z)
    torch.testing.assert_close(elem.sum(1), bits)
    prior.train()
    z_noisy, _ = prior(z)
    assert (z_noisy - z).abs().max() <= 0.5 + 1e-6 and not torch.equal(z_noisy, z_hat)


def test_hyperprior_uses_its_means():
    """The parameter decoder replaced by a linear map with known weights: scale ``softplus(b_c)`` and mean
    ``0.5 * s_hat[c mod 10] + m_c`` for coordinate ``c``, so that the expected codes and bits are written without
    ``gaussian_params`` (a bug such as ``means = scales`` or ``means = 0`` gives other codes and other bits)."""
    torch.manual_seed(1)
    prior = MeanScaleHyperprior(20, hidden=32).eval()
    assert prior.side_dim == 10
    raw = torch.linspace(-1.0, 2.0, 20)
    m = 0.3 + 0.07 * torch.arange(20.0)                  # fractional parts that no scale shares
    lin = torch.nn.Linear(10, 40)
    with torch.no_grad():
        lin.weight.zero_()
        lin.weight[20 + torch.arange(20), torch.arange(20) % 10] = 0.5
        lin.bias.copy_(torch.cat([raw, m]))
    prior.param_decoder = lin
    z = torch.randn(16, 20) * 3
    z_hat, bits = prior(z)
    # side information: s_hat and its bits from the side bottleneck
    s_hat, s_lik = prior.entropy_bottleneck(prior.side(z).view(16, 10, 1, 1))
    s_hat = s_hat.detach().view(16, 10)
    side_bits = -torch.log2(s_lik.detach().double()).flatten(1).sum(1)
    sigma = torch.tensor([math.log1p(math.exp(float(b))) for b in raw])   # softplus, by hand
    mu = 0.5 * s_hat[:, torch.arange(20) % 10] + m
    assert not torch.allclose(mu, sigma.expand(16, 20))
    torch.testing.assert_close(z_hat, torch.round(z - mu) + mu)
    assert not torch.equal(z_hat, torch.round(z - sigma) + sigma) and not torch.equal(z_hat, torch.round(z))
    assert torch.all(bits > 0)

    # the rate, in float64 from its definition: side bits -log2 q(s_hat) plus, per coordinate, -log2 of the
    # Gaussian N(mu, sigma) mass of the unit bin around z_hat, with CompressAI's bounds (sigma >= 0.11,
    # likelihood >= 1e-9)
    def z_bits(sd):
        v = (z_hat - mu).double().abs()
        sd = sd.double().clamp_min(0.11)
        mass = torch.special.ndtr((0.5 - v) / sd) - torch.special.ndtr((-0.5 - v) / sd)
        return -torch.log2(mass.clamp_min(1e-9)).sum(1)

    torch.testing.assert_close(bits.double(), side_bits + z_bits(sigma.expand(16, 20)), rtol=1e-4, atol=1e-3)
    assert float(side_bits.min()) > 0
    # predicted scales far below the bound (softplus(-10) = 4.5e-5) are coded as sigma = 0.11
    with torch.no_grad():
        lin.bias[:20] = -10.0
    z_hat2, bits2 = prior(z)
    torch.testing.assert_close(z_hat2, z_hat)                # the scales do not move the grid
    torch.testing.assert_close(bits2.double(), side_bits + z_bits(torch.full((16, 20), 0.11)), rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(prior.estimate_bits(z), bits2)
    # bits are per sample: permuting the batch permutes them (no batch statistics in eval mode)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(prior(z[perm])[1], bits2[perm])
    with pytest.raises(ValueError, match="valid values"):
        make_prior("gmm", 4)


def test_factorized_prior_bitstream_round_trip_and_size():
    torch.manual_seed(2)
    prior = FactorizedPrior(2)
    prior.update(force=True)          # tail quantiles by bisection on the (untrained) CDF
    prior.eval()
    z = torch.randn(4096, 2) * torch.tensor([3.0, 1.0])
    data = prior.compress(z)
    with torch.no_grad():
        z_hat, bits = prior(z)
    torch.testing.assert_close(prior.decompress(data), z_hat, rtol=0, atol=0)
    estimate = float(bits.sum())
    coded = 8 * len(data)
    assert abs(coded / estimate - 1) < 0.02, (coded, estimate)   # the whole batch is one rANS stream


def test_hyperprior_bitstream_round_trip():
    torch.manual_seed(3)
    prior = MeanScaleHyperprior(16, hidden=32)
    sigma = torch.linspace(0.3, 4.0, 16)
    opt = torch.optim.Adam(prior.main_parameters(), lr=3e-3)
    for _ in range(300):   # fit the entropy model to the source (rate only)
        _, bits = prior(torch.randn(256, 16) * sigma)
        opt.zero_grad()
        bits.mean().backward()
        opt.step()
    prior.update(force=True)
    prior.eval()
    z = torch.randn(4096, 16) * sigma
    data = prior.compress(z)
    with torch.no_grad():
        z_hat, bits = prior(z)
    torch.testing.assert_close(prior.decompress(data), z_hat, rtol=0, atol=1e-5)
    # the Gaussian scales are coded with CompressAI's 64-level scale table, a slightly coarser model
    ratio = 8 * len(data) / float(bits.sum())
    assert abs(ratio - 1) < 0.05, ratio
