import math

import torch

from perceptual_compression.models.pixelcnn import MaskedConv2d, PixelCNN, discretized_logistic_mixture_log_prob


def test_mask_types():
    a = MaskedConv2d(1, 1, 3, "A").mask[0, 0]
    b = MaskedConv2d(1, 1, 3, "B").mask[0, 0]
    torch.testing.assert_close(a, torch.tensor([[1.0, 1, 1], [1, 0, 0], [0, 0, 0]]))
    torch.testing.assert_close(b, torch.tensor([[1.0, 1, 1], [1, 1, 0], [0, 0, 0]]))


def test_likelihood_sums_to_one_over_the_256_levels():
    torch.manual_seed(0)
    n_mix = 3
    params = torch.randn(1, 3 * n_mix, 1, 1)
    levels = torch.arange(256, dtype=torch.float32) / 127.5 - 1.0
    x = levels.view(256, 1, 1, 1)
    lp = discretized_logistic_mixture_log_prob(x, params.expand(256, -1, -1, -1), n_mix)
    assert abs(torch.logsumexp(lp.flatten(), 0).item()) < 1e-4
    # a sharp component centred on a level puts almost all the mass there
    sharp = torch.tensor([[0.0], [0.2], [-7.0]]).view(1, 3, 1, 1)  # one component: logit, mean, log-scale
    lp1 = discretized_logistic_mixture_log_prob(x, sharp.expand(256, -1, -1, -1), 1).flatten()
    assert lp1.argmax().item() == round((0.2 + 1) * 127.5)
    assert lp1.exp().max().item() > 0.95


def test_autoregressive_causality():
    torch.manual_seed(0)
    model = PixelCNN(channels=8, layers=2, n_mix=2)
    x = torch.rand(1, 1, 8, 8, requires_grad=True)
    h = model.stem(x * 2 - 1)  # the network without the 8-bit rounding, to differentiate
    for block in model.blocks:
        h = h + block(torch.nn.functional.elu(h))
    out = model.head(h)
    i, j = 4, 3
    out[0, :, i, j].sum().backward()
    g = x.grad[0, 0].abs()
    assert g[i, j] == 0 and g[i, j + 1:].sum() == 0 and g[i + 1:].sum() == 0
    assert g[:i].sum() > 0


def test_log_prob_shapes_and_bits_per_dim():
    model = PixelCNN(channels=8, layers=1, n_mix=2)
    x = torch.rand(3, 1, 8, 8)
    lp = model.log_prob(x)
    assert lp.shape == (3,) and (lp < 0).all()
    torch.testing.assert_close(model.bits_per_dim(x), -lp / (math.log(2) * 64))
