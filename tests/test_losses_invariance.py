"""losses.vic and losses.bince: targets, likelihoods, InfoNCE against a hand computation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from perceptual_compression.losses.bince import Critic, bince_loss, info_nce, info_nce_mutual_information_bound
from perceptual_compression.losses.vic import (
    beta_from_lossyless,
    distortion_bits,
    rate_distortion_loss,
    reconstruction_target,
    vic_loss,
)


def test_reconstruction_targets():
    x, xa = torch.zeros(2, 3), torch.ones(2, 3)
    assert reconstruction_target("VIC", x, xa) is x
    assert reconstruction_target("VC", x, xa) is xa
    with pytest.raises(ValueError, match="valid values"):
        reconstruction_target("BINCE", x, xa)


def test_distortions_in_bits():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 1.0]])
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1) / math.log(2)
    torch.testing.assert_close(distortion_bits(logits, target, "bernoulli"), expected)
    # a logit of 0 is a fair coin: exactly one bit per pixel
    assert float(distortion_bits(torch.zeros(1, 8), torch.ones(1, 8), "bernoulli")) == pytest.approx(8.0)
    mean = torch.tensor([[1.0, 2.0]])
    torch.testing.assert_close(distortion_bits(mean, torch.zeros(1, 2), "gaussian"),
                               torch.tensor([0.5 * 5 / math.log(2)]))
    with pytest.raises(ValueError, match="valid values"):
        distortion_bits(mean, mean, "laplace")


def test_vic_loss_and_beta_conversion():
    rate = torch.tensor([3.0, 5.0])
    out = vic_loss(rate, torch.zeros(2, 4), torch.ones(2, 4), torch.zeros(2, 4), 0.5, objective="VIC")
    assert float(out["distortion"]) == pytest.approx(4.0)
    assert float(out["loss"]) == pytest.approx(4.0 + 0.5 * 4.0)
    assert float(rate_distortion_loss(rate, torch.zeros(2), 3.0)) == pytest.approx(4.0)
    assert beta_from_lossyless(0.1) == pytest.approx(10.0)
    assert beta_from_lossyless(0.1, factor_beta=0.5) == pytest.approx(20.0)


def test_info_nce_hand_computation():
    s = torch.tensor([[2.0, 0.0, 1.0],
                      [1.0, 3.0, -1.0],
                      [0.5, 0.5, 0.5]])
    expected = torch.tensor([
        -math.log(math.exp(2) / (math.exp(2) + math.exp(0) + math.exp(1))),
        -math.log(math.exp(3) / (math.exp(1) + math.exp(3) + math.exp(-1))),
        math.log(3.0),
    ])
    torch.testing.assert_close(info_nce(s), expected)
    # I_NCE = log(n+1) - loss: constant scores carry no information (0 bits)
    assert float(info_nce_mutual_information_bound(info_nce(torch.full((3, 3), 0.7)), 3)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        info_nce(torch.zeros(2, 3))


def test_info_nce_bound_reaches_log_n_for_separable_codes():
    z = torch.eye(8)
    loss = info_nce(100.0 * z @ z.T)
    assert float(info_nce_mutual_information_bound(loss, 8)) == pytest.approx(3.0, abs=1e-3)


def test_symmetric_info_nce_by_hand():
    """The authors' form: each of the 2B codes against the 2B - 1 others, its pair's code the positive, the two
    anchors averaged; the effective-batch correction lowers the positive's cosine by log((2E-2)/(2B-2))."""
    from perceptual_compression.losses.bince import info_nce_symmetric

    g = torch.Generator().manual_seed(0)
    b, inv_t = 3, 7.0
    cos = torch.rand(2 * b, 2 * b, generator=g) * 2 - 1

    def by_hand(shift):
        out = []
        for i in range(2 * b):
            pos = (i + b) % (2 * b)
            others = [j for j in range(2 * b) if j != i]
            logit = {j: inv_t * (float(cos[i, j]) + (shift if j == pos else 0.0)) for j in others}
            out.append(-logit[pos] + math.log(sum(math.exp(v) for v in logit.values())))
        return torch.tensor([(out[i] + out[i + b]) / 2 for i in range(b)])

    torch.testing.assert_close(info_nce_symmetric(cos, inv_t), by_hand(0.0), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(info_nce_symmetric(cos, inv_t, effective_batch_size=b), by_hand(0.0),
                               rtol=1e-5, atol=1e-5)
    e = 1000
    torch.testing.assert_close(info_nce_symmetric(cos, inv_t, effective_batch_size=e),
                               by_hand(-math.log((2 * e - 2) / (2 * b - 2))), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        info_nce_symmetric(torch.zeros(3, 3), 1.0)
    with pytest.raises(ValueError, match="effective_batch_size"):
        info_nce_symmetric(cos, inv_t, effective_batch_size=2)


def test_bince_loss_symmetric_option():
    """The authors' form on four codes whose cosines are known (the critic's projection replaced by the identity):
    z = ((1, 0), (0, 1)), z+ = ((1, 0), (0.6, 0.8)). With inverse temperature t = 5 and E = 100, the positive's
    cosine is lowered by s = log((2E - 2) / (2B - 2)) = log 99; each code against the three others, in closed form."""
    critic = Critic(2)
    critic.projection = torch.nn.Identity()
    with torch.no_grad():
        critic.log_inverse_temperature.fill_(math.log(5.0))
    z, zp = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    rate = torch.tensor([1.0, 3.0])
    t, s = 5.0, math.log(99.0)

    def ce(pos, *others):   # -log softmax of the positive among the candidates, logits t * cosine
        return -t * pos + math.log(math.exp(t * pos) + sum(math.exp(t * o) for o in others))

    # pair 1: z1 against (z2: 0, z+1: 1 - s, z+2: 0.6); z+1 against (z1: 1 - s, z2: 0, z+2: 0.6)
    pair1 = (ce(1 - s, 0.0, 0.6) + ce(1 - s, 0.0, 0.6)) / 2
    # pair 2: z2 against (z1: 0, z+1: 0, z+2: 0.8 - s); z+2 against (z1: 0.6, z2: 0.8 - s, z+1: 0.6)
    pair2 = (ce(0.8 - s, 0.0, 0.0) + ce(0.8 - s, 0.6, 0.6)) / 2
    nce_bits = [pair1 / math.log(2), pair2 / math.log(2)]
    out = {k: v.detach() for k, v in bince_loss(rate, z, zp, critic, beta=2.0, symmetric=True,
                                                effective_batch_size=100).items()}
    assert float(out["distortion"]) == pytest.approx((nce_bits[0] + nce_bits[1]) / 2, rel=1e-5)
    assert float(out["rate"]) == pytest.approx(2.0)
    assert float(out["loss"]) == pytest.approx(((1.0 + 2.0 * nce_bits[0]) + (3.0 + 2.0 * nce_bits[1])) / 2, rel=1e-5)
    assert nce_bits[0] == pytest.approx(30.3315, abs=1e-4) and nce_bits[1] == pytest.approx(30.5400, abs=1e-4)
    # without the correction (E = B) the positive's cosine is not lowered
    plain = bince_loss(rate, z, zp, critic, beta=2.0, symmetric=True, effective_batch_size=2)
    by_hand = ((ce(1, 0, 0.6) * 2) / 2 + (ce(0.8, 0, 0) + ce(0.8, 0.6, 0.6)) / 2) / 2 / math.log(2)
    assert float(plain["distortion"].detach()) == pytest.approx(by_hand, rel=1e-5)
    # the critic's scores are its inverse temperature times the cosines of its projections
    torch.testing.assert_close(critic(z, zp).detach(), 5.0 * torch.tensor([[1.0, 0.6], [0.0, 0.8]]))
    with pytest.raises(ValueError, match="symmetric=True"):
        bince_loss(rate, z, zp, critic, beta=1.0, effective_batch_size=100)


def test_critic_and_bince_loss():
    torch.manual_seed(0)
    critic = Critic(6)
    z = torch.randn(5, 6)
    s = critic(z, z).detach()
    assert s.shape == (5, 5)
    assert float(s.abs().max()) <= float(critic.inverse_temperature()) + 1e-5  # cosine scores
    assert float(critic.inverse_temperature()) == pytest.approx(1 / 0.07, rel=1e-5)
    with torch.no_grad():
        critic.log_inverse_temperature.fill_(10.0)
    assert float(critic.inverse_temperature()) == pytest.approx(100.0)  # capped at 1 / 0.01
    perm = torch.tensor([2, 0, 1, 4, 3])
    s = critic(z, z).detach()
    torch.testing.assert_close(critic(z[perm], z[perm]).detach(), s[perm][:, perm])
    rate = torch.rand(5)
    out = bince_loss(rate, z, z, critic, beta=0.0)
    assert float(out["loss"]) == pytest.approx(float(rate.mean()))
    out = bince_loss(rate, z, z, critic, beta=2.0)
    assert float(out["loss"]) == pytest.approx(float(rate.mean() + 2.0 * info_nce(critic(z, z)).mean() / math.log(2)),
                                               rel=1e-5)
