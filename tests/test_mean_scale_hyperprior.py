"""Mean-scale hyperprior autoencoder: shapes, quantization paths, freezing, update/checkpoints, layout."""

import math

import pytest
import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.models import MeanScaleHyperprior
from torch import nn

from perceptual_compression.coding import ImageCodec
from perceptual_compression.models.mean_scale_hyperprior import (
    MeanScaleHyperpriorAutoencoder,
    minnen2018_mean_scale_hyperprior,
)


def _small(seed=0):
    torch.manual_seed(seed)
    return minnen2018_mean_scale_hyperprior(n=16, m=24)


@pytest.fixture
def x():
    return torch.rand(2, 3, 64, 128, generator=torch.Generator().manual_seed(0))


def test_forward_shapes_and_bits(x):
    model = _small().eval()
    out = model(x)
    assert out["x_hat"].shape == x.shape
    assert out["y"].shape == out["y_hat"].shape == out["means"].shape == out["scales"].shape == (2, 24, 4, 8)
    assert out["likelihoods"]["y"].shape == (2, 24, 4, 8)
    assert out["likelihoods"]["z"].shape == (2, 16, 1, 2)
    expected = sum(-torch.log2(lik).flatten(1).sum(1) for lik in out["likelihoods"].values())
    assert torch.allclose(out["bits"], expected)
    assert torch.equal(out["bits_quantized"], out["bits"])
    assert model.stride == 64


def test_eval_rounds_and_training_uses_noise_and_straight_through(x):
    model = _small()
    model.eval()
    out = model(x)
    assert torch.equal(out["y_hat"], torch.round(out["y"] - out["means"]) + out["means"])
    assert torch.equal(model(x)["bits"], out["bits"])  # deterministic in eval
    model.train()
    a, b = model(x), model(x)
    assert not torch.equal(a["bits"], b["bits"])  # additive-noise rate proxy
    assert torch.equal(a["bits_quantized"], b["bits_quantized"])  # hard rate estimate: no noise
    model.eval()
    assert torch.allclose(a["bits_quantized"], model(x)["bits"])  # ... and equal to the eval-mode rate
    model.train()
    # forward value of the decoder input is rounded around the mean ...
    centered = a["y_hat"] - a["means"]
    assert torch.allclose(centered, torch.round(centered), atol=1e-4)
    # ... and its gradient with respect to y is the identity (straight-through)
    (grad,) = torch.autograd.grad(a["y_hat"].sum(), a["y"], retain_graph=True)
    assert torch.equal(grad, torch.ones_like(grad))
    # the distortion reaches the encoder through the decoder; the rate reaches it through the likelihoods
    loss = (a["x_hat"] - x).pow(2).mean() + a["bits"].mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    assert model.hyper_synthesis_scale[0].weight.grad.abs().sum() > 0


def test_frozen_parts_stay_frozen_through_train(x):
    model = _small()
    model.freeze_encoder().freeze_bottleneck()
    model.train()
    assert model.training and model.decoder.training
    assert not model.encoder.training
    assert all(not m.training for m in model.bottleneck_modules)
    assert all(not p.requires_grad for p in model.encoder.parameters())
    assert all(not p.requires_grad for m in model.bottleneck_modules for p in m.parameters())
    assert model.frozen_encoder and model.frozen_bottleneck
    trainable = {id(p) for p in model.main_parameters()}
    assert trainable == {id(p) for p in model.decoder.parameters()}
    assert model.aux_parameters() == []
    out = model(x)
    (out["x_hat"].mean()).backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    # frozen bottleneck: rounded likelihoods even while the model trains
    assert torch.equal(out["bits"].detach(), out["bits_quantized"])


def test_parameter_groups_and_aux_loss():
    model = _small()
    aux = model.aux_parameters()
    assert aux == [model.hyper_bottleneck.quantiles]
    main_ids = {id(p) for p in model.main_parameters()}
    assert id(model.hyper_bottleneck.quantiles) not in main_ids
    assert len(main_ids) + 1 == len(list(model.parameters()))
    loss = model.aux_loss()
    assert loss.ndim == 0 and math.isfinite(loss.item())
    loss.backward()
    assert model.hyper_bottleneck.quantiles.grad is not None


def test_update_uses_compressai_default_scale_table():
    model = _small()
    assert model.update() is True
    table = model.latent_bottleneck.scale_table
    assert table.shape == (64,)
    assert torch.allclose(table, torch.exp(torch.linspace(math.log(0.11), math.log(256), 64)))
    assert model.update() is False  # kept unless forced
    assert model.update(force=True) is True


def test_checkpoint_after_update_loads_strictly_into_fresh_model(x):
    model = _small()
    model.update()
    state = model.state_dict()
    fresh = _small(seed=5)
    fresh.load_state_dict(state, strict=True)  # CompressAI resizes the empty CDF buffers
    a = ImageCodec(model, "ckpt").compress(x[:1])
    assert ImageCodec(fresh, "ckpt").compress(x[:1]) == a
    assert torch.equal(ImageCodec(fresh, "ckpt").decompress(a), ImageCodec(model, "ckpt").decompress(a))


def test_hific_layout_names_and_shapes():
    """Same submodule names and parameter shapes as NeuralCompression's HiFiCAutoencoder (220/320)."""
    model = MeanScaleHyperpriorAutoencoder(nn.Identity(), nn.Identity(), latent_features=220, hyper_features=320)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = {
        "hyper_analysis.0.weight": (320, 220, 3, 3),
        "hyper_analysis.2.weight": (320, 320, 5, 5),
        "hyper_analysis.4.weight": (320, 320, 5, 5),
        "hyper_synthesis_mean.0.weight": (320, 320, 5, 5),
        "hyper_synthesis_mean.2.weight": (320, 320, 5, 5),
        "hyper_synthesis_mean.4.weight": (220, 320, 3, 3),
        "hyper_synthesis_scale.4.bias": (220,),
        "hyper_bottleneck.quantiles": (320, 1, 3),
    }
    for key, shape in expected.items():
        assert shapes[key] == shape, key
    assert {k.split(".")[0] for k in shapes} == {
        "hyper_analysis", "hyper_synthesis_mean", "hyper_synthesis_scale", "hyper_bottleneck", "latent_bottleneck"
    }
    assert isinstance(model.hyper_bottleneck, EntropyBottleneck)
    assert isinstance(model.latent_bottleneck, GaussianConditional)
    assert model.latent_bottleneck.scale_table.numel() == 0  # set at update(), as GaussianConditional(None)
    deconv = model.hyper_synthesis_mean[0]
    assert (deconv.stride, deconv.padding, deconv.output_padding) == ((2, 2), (2, 2), (1, 1))
    assert isinstance(model.hyper_analysis[1], nn.ReLU)
    z = torch.zeros(1, 320, 3, 5)
    assert model.hyper_synthesis_scale(z).shape == (1, 220, 12, 20)


def test_minnen2018_factory_matches_compressai_transforms():
    ours = minnen2018_mean_scale_hyperprior()
    theirs = MeanScaleHyperprior(128, 192)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(ours.encoder) == count(theirs.g_a)
    assert count(ours.decoder) == count(theirs.g_s)
    assert count(ours.hyper_analysis) == count(theirs.h_a)
    assert (ours.latent_features, ours.hyper_features, ours.stride) == (192, 128, 64)
    small = _small()
    assert small.encoder(torch.zeros(1, 3, 64, 96)).shape == (1, 24, 4, 6)


def test_compress_requires_multiple_of_stride():
    model = _small()
    model.update()
    with pytest.raises(ValueError, match="multiples of 64"):
        model.compress(torch.rand(1, 3, 70, 64))
