"""IXYZ objective (appendix eq. 4): a hand-computed case, the minibatch marginal, β schedule."""

from __future__ import annotations

import math

import pytest
import torch

from perceptual_compression.losses.ixyz import beta_schedule, ixyz_loss, ixyz_objective, log_minibatch_marginal
from perceptual_compression.models.pim import PIM, MixtureRepresentation, PIMArchitecture

C = 0.5 * math.log(2 * math.pi)


def _hand_terms():
    """B = 2, z of dimension 1, one subband with one position.

    Full-encoder means mu = (0, 2), samples z = (0.5, 1); q(z|x) means (0, 1), q(z|y) means (1, 2).
    """
    v = lambda *a: torch.tensor(a).view(2, 1, 1)              # (B, h, w)
    return {
        "z": [torch.tensor([0.5, 1.0]).view(2, 1, 1, 1)],
        "joint_means": [torch.tensor([0.0, 2.0]).view(2, 1, 1, 1)],
        "log_p_joint": [v(-0.125 - C, -0.5 - C)],
        "log_q_x": [v(-0.125 - C, 0.0 - C)],
        "log_q_y": [v(-0.125 - C, -0.5 - C)],
    }


def test_objective_on_a_hand_computed_case():
    out = ixyz_objective(_hand_terms(), beta=0.5)
    # log p(z|x,y) - log p_hat(z): sample 0 -> log 2 - log(1 + e^-1); sample 1 -> 0 (both means equidistant)
    i_zxy = 0.5 * (math.log(2.0) - math.log(1.0 + math.exp(-1.0)))
    i_xz_y = 0.5 * (0.0 + 0.0)               # log p - log q(z|y)
    i_yz_x = 0.5 * (0.0 + (-0.5))             # log p - log q(z|x)
    assert float(out["i_zxy"]) == pytest.approx(i_zxy, abs=1e-6)
    assert float(out["i_xz_y"]) == pytest.approx(i_xz_y, abs=1e-6)
    assert float(out["i_yz_x"]) == pytest.approx(i_yz_x, abs=1e-6)
    assert float(out["objective"]) == pytest.approx(i_zxy - 0.5 * (i_xz_y + i_yz_x), abs=1e-6)
    assert float(out["objective"]) == pytest.approx(0.314943, abs=1e-6)
    assert float(out["ixyz"]) == pytest.approx(i_zxy + 0.25, abs=1e-6)


def test_objective_endpoints_beta_zero_and_one():
    t = _hand_terms()
    o0, o1 = ixyz_objective(t, 0.0), ixyz_objective(t, 1.0)
    assert float(o0["objective"]) == pytest.approx(float(o0["i_zxy"]))        # beta = 0: I(Z; X, Y)
    assert float(o1["objective"]) == pytest.approx(float(o1["ixyz"]))         # beta = 1: bound on I(X; Y; Z)
    with pytest.raises(ValueError):
        ixyz_objective(t, 1.5)


def test_log_q_from_the_representation_matches_the_hand_values():
    rep = MixtureRepresentation([torch.tensor([0.0, 1.0]).view(2, 1, 1, 1, 1)], [None])
    got = rep.log_prob_maps(_hand_terms()["z"])[0]
    torch.testing.assert_close(got, _hand_terms()["log_q_x"][0])


def test_minibatch_marginal_shape_and_value():
    z = torch.randn(5, 3, 4, 4)
    mu = torch.randn(5, 3, 4, 4)
    out = log_minibatch_marginal(z, mu)
    assert out.shape == (5, 4, 4)
    # brute force at one position
    i, r, c = 2, 1, 3
    dens = [math.exp(-0.5 * float((z[i, :, r, c] - mu[j, :, r, c]).pow(2).sum()) - 3 * C) for j in range(5)]
    assert float(out[i, r, c]) == pytest.approx(math.log(sum(dens) / 5), abs=1e-5)


@pytest.mark.parametrize("dim", [1, 2])
def test_minibatch_marginal_integrates_to_one(dim):
    torch.manual_seed(0)
    mu = torch.randn(4, dim, 1, 1) * 2
    g = torch.linspace(-10, 10, 801 if dim == 1 else 301, dtype=torch.float64)
    if dim == 1:
        pts = g.view(-1, 1, 1, 1)
        dens = log_minibatch_marginal(pts, mu.double()).exp().view(-1)
        total = torch.trapezoid(dens, g)
    else:
        yy, xx = torch.meshgrid(g, g, indexing="ij")
        pts = torch.stack([yy.reshape(-1), xx.reshape(-1)], 1).view(-1, 2, 1, 1)
        dens = log_minibatch_marginal(pts, mu.double()).exp().view(len(g), len(g))
        total = torch.trapezoid(torch.trapezoid(dens, g, dim=1), g)
    assert float(total) == pytest.approx(1.0, abs=1e-6)


def test_contrastive_bound_never_exceeds_log_batch_size():
    torch.manual_seed(0)
    b = 8
    mu = torch.randn(b, 10, 2, 2) * 50                         # far-apart components: the bound saturates
    z = mu + torch.randn_like(mu)
    lp = -0.5 * (z - mu).pow(2).sum(1) - 10 * C
    gap = lp - log_minibatch_marginal(z, mu)
    assert float(gap.max()) <= math.log(b) + 1e-5
    assert float(gap.mean()) == pytest.approx(math.log(b), abs=1e-3)


def test_beta_schedule_ramps_linearly_over_anneal_steps():
    assert beta_schedule(0, 10_000) == 0.0
    assert beta_schedule(2_500, 10_000) == 0.25
    assert beta_schedule(10_000, 10_000) == 1.0
    assert beta_schedule(99_999, 10_000) == 1.0
    assert beta_schedule(5, 0) == 1.0


def test_loss_backpropagates_into_every_part_of_the_model():
    torch.manual_seed(0)
    model = PIM(PIMArchitecture(num_filters=(4, 4, 3), nmix=2, z_dim=3))
    out = ixyz_loss(model, torch.rand(4, 3, 64, 64), torch.rand(4, 3, 64, 64), beta=0.5)
    out["loss"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert out["loss"].item() == pytest.approx(-out["objective"].item())
