"""WGAN-GP pieces and eq. (10)/(11) losses."""

import pytest
import torch
from torch import nn

from perceptual_compression.losses.deep_feature import DeepFeatureDistortion, feature_squared_error, squared_error
from perceptual_compression.losses.wgan_gp import (
    DISTORTION_SCALE, critic_loss, gradient_penalty, rdp_generator_loss, wasserstein_estimate)


class _Linear(nn.Module):
    def __init__(self, norm):
        super().__init__()
        self.w = nn.Parameter(torch.randn(1, 1, 4, 4))
        with torch.no_grad():
            self.w.mul_(norm / self.w.norm())

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1)


def test_gradient_penalty_of_linear_critics():
    real, fake = torch.rand(8, 1, 4, 4), torch.rand(8, 1, 4, 4)
    assert gradient_penalty(_Linear(1.0), real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert gradient_penalty(_Linear(3.0), real, fake).item() == pytest.approx(4.0, rel=1e-5)


def test_gradient_penalty_reaches_the_critic_parameters():
    critic = _Linear(3.0)
    gradient_penalty(critic, torch.rand(4, 1, 4, 4), torch.rand(4, 1, 4, 4)).backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    assert torch.allclose(critic.w.grad, 2 * 2.0 * critic.w.detach() / 3.0, atol=1e-5)


def test_critic_loss_and_wasserstein_estimate():
    critic = _Linear(1.0)
    real, fake = torch.rand(16, 1, 4, 4), torch.rand(16, 1, 4, 4)
    loss, w = critic_loss(critic, real, fake, gp_weight=0.0)
    expected = (critic(real).mean() - critic(fake).mean()).item()
    assert w.item() == pytest.approx(expected)
    assert loss.item() == pytest.approx(-expected)
    assert wasserstein_estimate(critic, real, fake) == pytest.approx(expected)


def test_rdp_generator_loss_is_eq10():
    d = torch.tensor(0.3)
    h_fake, h_real = torch.tensor([1.0, 2.0]), torch.tensor([4.0, 6.0])
    assert rdp_generator_loss(d, h_fake, 2.0).item() == pytest.approx(0.3 - 2 * 1.5)
    assert rdp_generator_loss(d, h_fake, 2.0, h_real).item() == pytest.approx(0.3 + 2 * (5.0 - 1.5))
    assert DISTORTION_SCALE == {"mse": 1e-3, "deep_feature": 5e-5}


class _Feat(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)

    def features(self, x):
        return self.conv(x)


def test_deep_feature_distortion_is_eq11():
    net = _Feat()
    x, y = torch.rand(5, 1, 8, 8), torch.rand(5, 1, 8, 8)
    se = ((x - y) ** 2).sum((1, 2, 3))
    fe = ((net.features(x) - net.features(y)) ** 2).sum((1, 2, 3))
    assert torch.allclose(squared_error(x, y), se)
    assert torch.allclose(feature_squared_error(net.features, x, y), fe)
    dist = DeepFeatureDistortion(net, 1e-3, 5e-5)
    assert torch.allclose(dist(x, y), 1e-3 * se + 5e-5 * fe)
    # the classifier is frozen and stays in eval mode
    assert all(not p.requires_grad for p in net.parameters())
    dist.train()
    assert not net.training
    y.requires_grad_(True)
    dist(x, y).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
