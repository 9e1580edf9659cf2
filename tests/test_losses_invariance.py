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
