"""PIM model: front end, aligned crops (A.2), representation, and the distance's identities."""

from __future__ import annotations

import math

import pytest
import torch

from perceptual_compression.models.pim import (
    PIM,
    MixtureRepresentation,
    PIMArchitecture,
    SteerableFrontEnd,
    aligned_crop_starts,
    center_crops,
    gaussian_log_density,
)

TINY = PIMArchitecture(num_filters=(4, 4, 3), nmix=3, z_dim=4)


def test_paper_architecture_matches_reference_config():
    a = PIMArchitecture()
    assert (a.nscales, a.order, a.num_filters, a.kernel_size) == (3, 1, (64, 64, 64, 3), 5)
    assert (a.nmix, a.z_dim, a.num_distribution_layers) == (5, 10, 2)
    assert a.num_subbands == 8                       # highpass + 3 scales x 2 orientations + lowpass
    assert a.strides == (1, 1, 1, 2, 2, 4, 4, 8)
    assert a.receptive_radius == 8                   # four 5x5 convolutions


def _conv_params(c_in: int, c_out: int, k: int = 1) -> int:
    return c_in * c_out * k * k + c_out                 # kernel + bias


def test_paper_architecture_builds_the_reference_networks():
    """The built PIM() has the reference's layer widths and parameter counts (per subband, by formula)."""
    from torch import nn

    model = PIM()
    count = lambda m: sum(p.numel() for p in m.parameters())
    widths = lambda seq: [(m.in_channels, m.out_channels, m.kernel_size) for m in seq if isinstance(m, nn.Conv2d)]
    # front end: per subband four 5x5 convolutions 3 -> 64 -> 64 -> 64 -> 3
    cnn = _conv_params(3, 64, 5) + 2 * _conv_params(64, 64, 5) + _conv_params(64, 3, 5)
    assert cnn == 214_595
    assert len(model.frontend.cnns) == 8
    for c in model.frontend.cnns:
        assert widths(c) == [(3, 64, (5, 5)), (64, 64, (5, 5)), (64, 64, (5, 5)), (64, 3, (5, 5))]
        assert count(c) == cnn
    assert count(model.frontend) == 8 * cnn == 1_716_760
    # marginal encoder: means through two ReLU layers of nmix * z_dim = 50 units and a linear output layer of 50
    # (the reference declares that layer but skips it: a deliberate difference, see models/pim.py), mixture
    # logits through two ReLU layers of nmix = 5 units and a linear layer of 5
    mean_out = _conv_params(50, 50)
    marginal = _conv_params(3, 50) + _conv_params(50, 50) + mean_out + _conv_params(3, 5) + 2 * _conv_params(5, 5)
    assert (mean_out, marginal) == (2_550, 5_380)
    for h in model.marginal.heads:
        assert widths(h.mean_net) == [(3, 50, (1, 1)), (50, 50, (1, 1)), (50, 50, (1, 1))]
        assert widths(h.mix_net) == [(3, 5, (1, 1)), (5, 5, (1, 1)), (5, 5, (1, 1))]
        assert count(h) == marginal and count(h.mean_net[-1]) == mean_out
    assert count(model.marginal) == 8 * marginal == 43_040
    # joint encoder: two layers of z_dim = 10 units on f(x), each modulated by 3 -> 10 maps of f(y) (mul and add)
    joint = _conv_params(3, 10) + _conv_params(10, 10) + 2 * 2 * _conv_params(3, 10)
    assert joint == 310
    for h in model.joint.heads:
        assert widths(h.base) == [(3, 10, (1, 1)), (10, 10, (1, 1))]
        assert widths(h.mul) == widths(h.add) == [(3, 10, (1, 1))] * 2
        assert count(h) == joint
    assert count(model.joint) == 8 * joint == 2_480
    assert model.num_parameters() == 8 * (cnn + marginal + joint) == 1_762_280
    # the reference pim-5 model: the same without the means' linear output layer
    assert model.num_parameters() - 8 * mean_out == 1_741_880


def test_front_end_subband_shapes():
    bands = SteerableFrontEnd(3, 1)(torch.rand(2, 3, 64, 48))
    assert [tuple(b.shape) for b in bands] == [
        (2, 3, 64, 48), (2, 3, 64, 48), (2, 3, 64, 48), (2, 3, 32, 24), (2, 3, 32, 24),
        (2, 3, 16, 12), (2, 3, 16, 12), (2, 3, 8, 6)]
    with pytest.raises(ValueError, match="divisible"):
        SteerableFrontEnd(3, 1)(torch.rand(1, 3, 60, 64))


def test_pyramid_sample_n_sits_at_n_times_stride():
    """The convention the crop alignment relies on: an impulse at full-res position p appears at p / stride."""
    fe = SteerableFrontEnd(3, 1)
    x = torch.zeros(1, 1, 64, 64)
    x[0, 0, 24, 40] = 1.0
    for band, s in zip(fe(x), PIMArchitecture().strides):
        e = band[0, 0].pow(2)
        h, w = e.shape
        yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
        cy, cx = float((e * yy).sum() / e.sum()) * s, float((e * xx).sum() / e.sum()) * s
        assert abs(cy - 24) < 0.5 * s and abs(cx - 40) < 0.5 * s


@pytest.mark.parametrize("size", [64, 72, 128])
def test_crop_centres_align_across_scales(size):
    strides = PIMArchitecture().strides
    sizes = [size // s for s in strides]
    starts = aligned_crop_starts(sizes, strides, 8)
    anchor = (size - 1) / 2
    for n, s, a in zip(sizes, strides, starts):
        assert 0 <= a <= n - 8
        centre = (a + 3.5) * s
        assert abs(centre - anchor) <= s / 2 + 1e-9          # within half a sample of its own scale
        # and no other window of that subband is closer to the anchor
        best = min(abs((b + 3.5) * s - anchor) for b in range(n - 8 + 1))
        assert abs(centre - anchor) == pytest.approx(best)


def test_center_crops_select_the_same_image_point():
    """Tensors whose values are the full-resolution coordinate of each sample: every crop is centred alike."""
    strides = PIMArchitecture().strides
    size = 64
    tensors = []
    for s in strides:
        n = size // s
        coord = (torch.arange(n, dtype=torch.float64) * s)
        tensors.append(coord.view(1, 1, 1, n).expand(1, 1, n, n).clone())
    crops = center_crops(tensors, strides, 8)
    centres = [float(c.mean()) for c in crops]
    assert all(c.shape[-2:] == (8, 8) for c in crops)
    assert max(centres) - min(centres) <= 4.0 + 1e-9        # the coarsest stride is 8: +-4 pixels at most
    for c, s in zip(centres, strides):
        assert abs(c - 31.5) <= s / 2


def test_forward_crops_equal_full_computation_then_crop():
    torch.manual_seed(0)
    model = PIM(PIMArchitecture(num_filters=(4, 4, 4, 3), nmix=2, z_dim=3))
    x = torch.rand(2, 3, 64, 64)
    full = center_crops(model.frontend(x), model.arch.strides, 8)
    fast = model.frontend.forward_crops(x, 8)
    for a, b in zip(full, fast):
        assert a.shape == b.shape == (2, 3, 8, 8)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_representation_shapes_and_mixture_normalisation():
    torch.manual_seed(0)
    model = PIM(TINY)
    rep = model(torch.rand(2, 3, 32, 32))
    assert len(rep.means) == 8 and rep.nmix == 3
    assert rep.means[0].shape == (2, 3, 4, 32, 32) and rep.means[-1].shape == (2, 3, 4, 4, 4)
    w = rep.log_weights(0).exp().sum(1)
    torch.testing.assert_close(w, torch.ones_like(w))
    z = rep.sample(5, torch.Generator().manual_seed(1))
    assert z[0].shape == (5, 2, 4, 32, 32)
    assert rep.log_prob(z).shape == (5, 2)


def test_mixture_log_prob_is_a_normalised_density_in_one_dimension():
    means = torch.tensor([-1.0, 0.5, 3.0]).view(1, 3, 1, 1, 1)
    logits = torch.tensor([0.2, -1.0, 1.5]).view(1, 3, 1, 1)
    rep = MixtureRepresentation([means], [logits])
    grid = torch.linspace(-12, 15, 20001)
    z = grid.view(-1, 1, 1, 1, 1)                              # (S, B, D, h, w)
    dens = rep.log_prob_maps([z])[0].exp().view(-1)
    assert float(torch.trapezoid(dens, grid)) == pytest.approx(1.0, abs=1e-5)


def test_distance_is_zero_on_identical_images_and_symmetric():
    torch.manual_seed(0)
    x, y = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32)
    for nmix in (1, 3):
        model = PIM(PIMArchitecture(num_filters=(4, 4, 3), nmix=nmix, z_dim=4))
        assert torch.equal(model.distance(x, x), torch.zeros(3))
        dxy, dyx = model.distance(x, y, kld_samples=2), model.distance(y, x, kld_samples=2)
        assert torch.equal(dxy, dyx)
        assert bool((dxy != 0).all())


def test_single_component_distance_is_mean_squared_difference_of_means():
    torch.manual_seed(0)
    model = PIM(PIMArchitecture(num_filters=(4, 4, 3), nmix=1, z_dim=4)).eval()
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        mx, my = model(x).means, model(y).means
    expected = torch.stack([(a - b).pow(2).flatten(1).mean(1) for a, b in zip(mx, my)]).mean(0)
    torch.testing.assert_close(model.distance(x, y), expected)
    assert bool((model.distance(x, y) > 0).all())


def test_monte_carlo_kl_matches_closed_form_for_degenerate_mixtures():
    """All components equal: the symmetrised KL of N(a, I) and N(b, I) is |a - b|^2 per position."""
    d, h, w = 4, 3, 3
    a, b = torch.randn(1, 1, d, h, w), torch.randn(1, 1, d, h, w)
    rx = MixtureRepresentation([a.expand(1, 2, d, h, w).clone()], [torch.zeros(1, 2, h, w)])
    ry = MixtureRepresentation([b.expand(1, 2, d, h, w).clone()], [torch.tensor([0.3, -0.2]).view(1, 2, 1, 1).expand(1, 2, h, w).clone()])
    est = PIM.representation_distance(rx, ry, kld_samples=20000, generator=torch.Generator().manual_seed(0))
    exact = (a - b).pow(2).sum(2).mean()                       # averaged over positions (reference convention)
    assert float(est[0]) == pytest.approx(float(exact), rel=0.03)


def test_gaussian_log_density():
    z = torch.tensor([[1.0, 2.0]])
    assert float(gaussian_log_density(z, torch.zeros(1, 2), dim=1)) == pytest.approx(-2.5 - math.log(2 * math.pi))


def test_ixyz_terms_shapes_on_crops():
    torch.manual_seed(0)
    model = PIM(TINY)
    t = model.ixyz_terms(torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64), crop=8)
    assert len(t["z"]) == 8
    assert all(z.shape == (3, 4, 8, 8) for z in t["z"])
    assert all(m.shape == (3, 8, 8) for key in ("log_q_x", "log_q_y", "log_p_joint") for m in t[key])


def test_pim_distance_metric_caches_the_reference_and_matches_model_distance():
    from perceptual_compression.models.pim import PIMDistance

    torch.manual_seed(0)
    model = PIM(PIMArchitecture(num_filters=(4, 4, 3), nmix=2, z_dim=3))
    x, y, w = torch.rand(5, 3, 32, 32), torch.rand(5, 3, 32, 32), torch.rand(5, 3, 32, 32)
    metric = PIMDistance(model, kld_samples=3, seed=1, batch_size=2)
    a = metric(x, y)
    ref_reps = metric._ref_reps
    b = metric(x, w)
    assert metric._ref_reps is ref_reps                       # reference encoded once
    assert a.shape == (5,) and torch.equal(metric(x, y), a)    # reproducible
    assert torch.equal(metric(x, x), torch.zeros(5))
    # with one batch covering everything it equals PIM.distance with the same seed
    one = PIMDistance(model, kld_samples=3, seed=1, batch_size=8)
    torch.testing.assert_close(one(x, y), model.distance(x, y, kld_samples=3, seed=1, batch_size=8))


def test_ixyz_terms_match_separate_evaluation_of_both_frames():
    torch.manual_seed(0)
    model = PIM(PIMArchitecture(num_filters=(4, 4, 3), nmix=2, z_dim=3))
    x, y = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    t = model.ixyz_terms(x, y, crop=8, generator=torch.Generator().manual_seed(0))
    fx, fy = model.frontend.forward_crops(x, 8), model.frontend.forward_crops(y, 8)
    mu = model.joint(fx, fy)
    z = [m + torch.randn(m.shape, generator=g) for g in [torch.Generator().manual_seed(0)] for m in mu]
    for a, b in zip(t["z"], z):
        torch.testing.assert_close(a, b)
    for a, b in zip(t["log_q_x"], model.marginal(fx).log_prob_maps(z)):
        torch.testing.assert_close(a, b)
    for a, b in zip(t["log_q_y"], model.marginal(fy).log_prob_maps(z)):
        torch.testing.assert_close(a, b)
