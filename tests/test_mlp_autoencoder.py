import pytest
import torch

from perceptual_compression.models.mlp_autoencoder import BankedLinear, MLPAutoencoder


def test_shapes_and_bits():
    torch.manual_seed(0)
    m = MLPAutoencoder(n_models=3)
    x = torch.randn(17, 2)
    out = m(x)
    assert out["y"].shape == (3, 17, 2) and out["x_hat"].shape == (3, 17, 2)
    assert out["bits"].shape == (3, 17)
    torch.testing.assert_close(out["bits"], -torch.log2(out["likelihoods"]).sum(-1))
    assert (out["likelihoods"] > 0).all() and (out["likelihoods"] <= 1).all()


def test_architecture_of_appendix_c():
    m = MLPAutoencoder()
    sizes = [(layer.in_features, layer.out_features) for layer in m.encoder.layers]
    assert sizes == [(2, 100), (100, 100), (100, 2)]
    assert [(layer.in_features, layer.out_features) for layer in m.decoder.layers] == [(2, 100), (100, 100), (100, 2)]
    # softplus on the two hidden layers, a linear output: e(x) = W3 sp(W2 sp(W1 x + b1) + b2) + b3, written out
    torch.manual_seed(0)
    x = torch.randn(9, 2)
    for mlp in (m.encoder, m.decoder):
        (w1, b1), (w2, b2), (w3, b3) = [(layer.weight[0], layer.bias[0]) for layer in mlp.layers]
        sp = torch.nn.functional.softplus
        want = sp(sp(x @ w1 + b1) @ w2 + b2) @ w3 + b3
        torch.testing.assert_close(mlp(x.unsqueeze(0))[0], want)
    # a linear output can leave the softplus range: negative latents and reconstructions occur
    assert (m.encode(x) < 0).any() and (m.decode(m.encode(x)) < 0).any()


def test_noise_in_training_rounding_in_eval():
    torch.manual_seed(0)
    m = MLPAutoencoder(n_models=2)
    x = torch.randn(64, 2)
    m.eval()
    out = m(x)
    med = m.entropy_bottleneck._get_medians().reshape(-1)
    flat = out["y_hat"].permute(1, 0, 2).reshape(64, 4)
    torch.testing.assert_close(flat - med, torch.round(flat - med))
    torch.testing.assert_close(out["y_hat"], m.quantize(out["y"]))
    m.train()
    out_t = m(x)
    d = out_t["y_hat"] - out_t["y"]
    assert d.abs().max() <= 0.5 and d.abs().max() > 0.05


def test_bank_members_are_independent():
    torch.manual_seed(0)
    m = MLPAutoencoder(n_models=3, hidden=8)
    x = torch.randn(32, 2)
    loss = m.loss(x, torch.tensor([1.0, 2.0, 3.0]))
    # the gradient of model 1's objective touches only model 1's parameters
    m.zero_grad()
    assert loss["objective"].shape == (3,) and not loss["objective"].requires_grad  # detached per-model values
    out = m(x)
    sse = ((out["x_hat"] - x) ** 2).sum(-1)
    (out["bits"][1] + sse[1]).mean().backward()
    for layer in list(m.encoder.layers) + list(m.decoder.layers):
        g = layer.weight.grad
        assert g[0].abs().sum() == 0 and g[2].abs().sum() == 0 and g[1].abs().sum() > 0


def test_extract_matches_bank_member():
    torch.manual_seed(0)
    bank = MLPAutoencoder(n_models=4, hidden=16).eval()
    x = torch.randn(50, 2)
    out = bank(x)
    for k in (0, 3):
        single = bank.extract(k)
        o = single(x)
        torch.testing.assert_close(o["x_hat"][0], out["x_hat"][k])
        torch.testing.assert_close(o["bits"][0], out["bits"][k])
    with pytest.raises(IndexError):
        bank.extract(4)


def test_loss_weights():
    torch.manual_seed(0)
    m = MLPAutoencoder(n_models=2, hidden=8).eval()
    x = torch.randn(20, 2)
    base = m.loss(x, 1.0)
    out = m(x)
    sse = ((out["x_hat"] - x) ** 2).sum(-1)
    torch.testing.assert_close(base["objective"], (out["bits"] + sse).mean(1))
    w = torch.rand(20)
    wd = m.loss(x, 3.0, distortion_weight=w)
    torch.testing.assert_close(wd["objective"], (out["bits"] + 3.0 * w * sse).mean(1))
    wt = m.loss(x, 3.0, weight=w)
    torch.testing.assert_close(wt["objective"], (w * (out["bits"] + 3.0 * sse)).mean(1))


def test_banked_linear_matches_per_model_linear():
    torch.manual_seed(0)
    layer = BankedLinear(5, 3, n_models=2)
    x = torch.randn(2, 7, 5)
    y = layer(x)
    for k in range(2):
        torch.testing.assert_close(y[k], x[k] @ layer.weight[k] + layer.bias[k])


def test_invalid_inputs():
    m = MLPAutoencoder(n_models=2)
    with pytest.raises(ValueError):
        m(torch.randn(3, 4, 2))
    with pytest.raises(ValueError):
        MLPAutoencoder(n_models=0)


def _bank_gradients(lmbdas, seed=0):
    torch.manual_seed(0)
    m = MLPAutoencoder(hidden=16, n_models=len(lmbdas))
    x = torch.randn(64, 2) * 3
    torch.manual_seed(seed)  # the same training noise for every call
    m.loss(x, torch.tensor(lmbdas)).get("loss").backward()
    return m


def _model_grad(m, k):
    return [p.grad[idx(k)].clone() for p, idx in m._model_slices()]


def test_per_model_clipping_is_each_models_own_clip():
    """Each model's gradient is clipped as torch's clip_grad_norm_ clips it in a separate run, and a model's
    clipped gradient does not depend on another model's gradient (a joint clip would scale all by one factor)."""
    m = _bank_gradients([1.0, 30.0, 1000.0])
    raw = [_model_grad(m, k) for k in range(3)]
    norms = m.clip_grad_norm_per_model_(20.0)
    for k in range(3):
        ref = [g.clone().requires_grad_() for g in raw[k]]
        for r, g in zip(ref, raw[k]):
            r.grad = g.clone()
        torch_norm = torch.nn.utils.clip_grad_norm_(ref, 20.0)
        assert norms[k].item() == pytest.approx(torch_norm.item(), rel=1e-5)
        for r, g in zip(ref, _model_grad(m, k)):
            torch.testing.assert_close(g, r.grad)
    assert norms[0] < 20.0 < norms[2]  # model 0 is left as it is, model 2 is clipped
    after = torch.sqrt(sum(g.pow(2).sum() for g in _model_grad(m, 2)))
    assert after.item() == pytest.approx(20.0, rel=1e-4)
    # model 0's clipped gradient is the same whether model 2's lambda is 1000 or 10^6; a joint clip changes it
    m2 = _bank_gradients([1.0, 30.0, 1e6])
    m2.clip_grad_norm_per_model_(20.0)
    for a, b in zip(_model_grad(m, 0), _model_grad(m2, 0)):
        torch.testing.assert_close(a, b)
    m3, m4 = _bank_gradients([1.0, 30.0, 1000.0]), _bank_gradients([1.0, 30.0, 1e6])
    torch.nn.utils.clip_grad_norm_(list(m3.parameters()), 20.0)
    torch.nn.utils.clip_grad_norm_(list(m4.parameters()), 20.0)
    assert not torch.allclose(_model_grad(m3, 0)[0], _model_grad(m4, 0)[0])
