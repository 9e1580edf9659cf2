"""MNIST experiment of Blau & Michaeli (2019): Table 1/3 networks, the paper's settings, training, coding."""

import dataclasses
import math

import pytest
import torch
from torch import nn

from perceptual_compression.experiments.rdp_mnist import (
    PAPER_GRID, EpochSampler, RDPMnistConfig, constant_distortion_curve, equi_perception_curve,
    perception_index, shannon_curve, train_codec)
from perceptual_compression.models.rdp_mnist import Critic, Decoder, Encoder, MnistClassifier, RDPMnistCodec
from perceptual_compression.params import ParameterError


def _shapes(module, x, kinds):
    out = []
    hooks = [m.register_forward_hook(lambda m, i, o: out.append(tuple(o.shape[1:])))
             for m in module.modules() if isinstance(m, kinds)]
    module(x)
    for h in hooks:
        h.remove()
    return out


def test_encoder_shapes_table1():
    enc = Encoder(4).eval()
    x = torch.rand(3, 1, 28, 28)
    assert _shapes(enc, x, nn.Linear) == [(512,), (256,), (128,), (128,), (4,)]
    z = enc(x)
    assert z.shape == (3, 4) and z.abs().max() <= 1  # Tanh
    assert sum(isinstance(m, nn.BatchNorm1d) for m in enc.modules()) == 5


def test_decoder_shapes_table1():
    dec = Decoder(3).eval()
    z = torch.rand(2, 3)
    assert _shapes(dec, z, nn.Linear) == [(128,), (512,)]
    assert _shapes(dec, z, nn.ConvTranspose2d) == [(64, 11, 11), (128, 25, 25), (1, 28, 28)]
    kernels = [m.kernel_size for m in dec.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert kernels == [(5, 5), (5, 5), (4, 4)]
    y = dec(z)
    assert y.shape == (2, 1, 28, 28) and 0 <= y.min() and y.max() <= 1  # Sigmoid


def test_critic_shapes_table1():
    crit = Critic()
    x = torch.rand(2, 1, 28, 28)
    assert _shapes(crit, x, nn.Conv2d) == [(64, 14, 14), (128, 7, 7), (256, 4, 4)]
    assert [m.in_features for m in crit.modules() if isinstance(m, nn.Linear)] == [4096]
    assert crit(x).shape == (2,)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in crit.modules())


def test_width_multiplier_shrinks_only_the_convolutions():
    assert _shapes(Decoder(2, 0.25).eval(), torch.rand(2, 2), nn.ConvTranspose2d) == [(16, 11, 11), (32, 25, 25),
                                                                                      (1, 28, 28)]
    assert _shapes(Critic(0.25), torch.rand(2, 1, 28, 28), nn.Conv2d) == [(16, 14, 14), (32, 7, 7), (64, 4, 4)]


def test_classifier_shapes_table3():
    clf = MnistClassifier().eval()
    x = torch.rand(4, 1, 28, 28)
    assert clf.features(x).shape == (4, 20, 8, 8)  # Ψ: output of the second convolution
    assert _shapes(clf, x, nn.MaxPool2d) == [(10, 12, 12), (20, 4, 4)]
    assert _shapes(clf, x, nn.Linear) == [(50,), (10,)]
    assert clf(x).shape == (4, 10)


def test_codec_round_trip_of_indices():
    torch.manual_seed(0)
    codec = RDPMnistCodec(4, 8).eval()
    x = torch.rand(6, 1, 28, 28)
    idx = codec.encode(x)
    assert idx.shape == (6, 4) and idx.dtype == torch.int64 and 0 <= idx.min() and idx.max() < 8
    assert codec.nominal_bits == pytest.approx(12.0)
    y1, y2 = codec.decode(idx), codec.decode(idx)
    assert y1.shape == (6, 1, 28, 28)
    assert not torch.allclose(y1, y2)  # stochastic decoder (noise input)
    # the forward pass quantizes exactly what encode() returns
    z = codec.quantizer(codec.encoder(x))
    assert torch.allclose(z, codec.quantizer.dequantize(idx))


def test_paper_configuration():
    cfg = RDPMnistConfig.for_scale("paper")
    assert sum(len(l) for _, _, l in cfg.grid) == 98
    assert len(cfg.models("mse")) == 98 and len(cfg.models("deep_feature")) == 98
    assert cfg.grid == PAPER_GRID
    assert [(d, L) for d, L, _ in cfg.grid] == [(2, 2), (3, 2), (4, 2), (4, 3), (4, 4), (4, 6), (4, 8), (4, 11), (4, 16)]
    assert all(lams[0] == 0 for _, _, lams in cfg.grid)
    assert (cfg.batch_size, cfg.lr_codec, cfg.lr_codec_deep_feature, cfg.lr_critic) == (64, 1e-2, 5e-3, 2e-4)
    assert cfg.betas == (0.5, 0.9)
    assert (cfg.base_epochs, cfg.continue_epochs, cfg.lr_drop_epoch, cfg.lr_factor) == (25, 25, 20, 0.2)
    assert (cfg.mse_scale, cfg.feature_scale) == (1e-3, 5e-5)
    assert cfg.width == 1.0 and cfg.train_size is None and cfg.eval_size is None
    assert cfg.steps(cfg.base_epochs) == 25 * 938
    c = cfg.classifier
    assert (c.epochs, c.batch_size, c.lr, c.lr_drop_epoch, c.lr_factor, c.momentum) == (30, 30, 1e-2, 20, 0.2, 0.0)
    assert c.steps(60_000) == 30 * 2000


def test_small_configuration_is_a_subset_and_invalid_scale_fails():
    small = RDPMnistConfig.for_scale("small")
    paper = dict((d, L) for d, L, _ in PAPER_GRID)
    for grid in (small.grid, small.deep_feature_grid):
        for d, L, lams in grid:
            assert (d, L) in paper.items() and lams[0] == 0
    assert len(small.models()) < 98
    assert small.tag() != RDPMnistConfig.for_scale("paper").tag()
    with pytest.raises(ParameterError, match="small"):
        RDPMnistConfig.for_scale("huge")


def test_epoch_sampler_is_a_permutation_per_epoch_and_deterministic():
    s = EpochSampler(10, 3, seed=1)
    first = torch.cat([s.indices(k) for k in range(3)])
    assert len(set(first.tolist())) == 9
    again = EpochSampler(10, 3, seed=1)
    assert torch.equal(again.indices(4), s.indices(4)) and torch.equal(again.indices(1), s.indices(1))


def _synthetic_digits(n=512, seed=0):
    """Blurry strokes: a tiny stand-in training set for the loop tests (the real-data tests use MNIST)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    c = torch.rand(n, 2, generator=g) * 12 + 8
    img = torch.exp(-((xx - c[:, :1, None]) ** 2 + (yy - c[:, 1:, None]) ** 2) / 18.0)
    x = (img * 255).clamp(0, 255).to(torch.uint8).unsqueeze(1)
    return {"train_x": x, "train_y": torch.zeros(n, dtype=torch.int64), "test_x": x[:128],
            "test_y": torch.zeros(128, dtype=torch.int64)}


def _tiny(**kw):
    base = RDPMnistConfig.for_scale("small")
    return dataclasses.replace(base, base_epochs=60 / 8, continue_epochs=10 / 8, lr_drop_epoch=50 / 8, width=0.25,
                               batch_size=64, n_critic=1, **kw)


@pytest.mark.slow
def test_a_short_training_run_lowers_the_loss_and_resumes(tmp_path):
    data = _synthetic_digits()
    cfg = _tiny()
    ckpt = tmp_path / "m.pt"
    codec, critic, hist = train_codec(cfg, 2, 4, 0.0, data, checkpoint=ckpt, seed=0, device=torch.device("cpu"),
                                      progress=False)
    d = hist.values("distortion")
    assert len(d) == 6 and hist.steps("distortion")[-1] == 59
    assert d[-2:].mean() < 0.6 * d[:1].mean()
    assert ckpt.is_file()
    # a finished checkpoint is reloaded, not retrained
    codec2, _, hist2 = train_codec(cfg, 2, 4, 0.0, data, checkpoint=ckpt, seed=0, device=torch.device("cpu"),
                                   progress=False)
    for a, b in zip(codec.state_dict().values(), codec2.state_dict().values()):
        assert torch.equal(a, b)
    # a λ > 0 run continues from the λ = 0 weights and uses the critic
    init = {"codec": codec.state_dict(), "critic": critic.state_dict()}
    _, _, hist3 = train_codec(cfg, 2, 4, 5.0, data, init=init, seed=0, device=torch.device("cpu"), progress=False)
    assert len(hist3.values("loss")) == 1 + 1  # 10 steps, logged every 10 + the last
    assert math.isfinite(hist3.last("w_batch"))


def test_perception_index_uses_disjoint_halves():
    class Mean(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return x.flatten(1).mean(1)

    x = torch.zeros(10, 1, 28, 28, dtype=torch.uint8)
    x[:5] = 255
    x_hat = torch.full((10, 1, 28, 28), 0.25)
    # real: first half (all ones) -> mean 1; fake: reconstructions of the second half -> 0.25
    assert perception_index(Mean(), x, x_hat) == pytest.approx(0.75)


def test_curves():
    import pandas as pd

    df = pd.DataFrame({
        "dim": [2, 2, 2, 4, 4, 4], "L": [2, 2, 2, 2, 2, 2], "lam": [0, 5, 20, 0, 5, 20],
        "nominal_bits": [2, 2, 2, 4, 4, 4], "coded_bits": [1.9, 1.9, 1.9, 3.8, 3.8, 3.8],
        "mse": [0.05, 0.06, 0.08, 0.03, 0.035, 0.05], "perception": [3.0, 1.5, 0.5, 2.0, 1.0, 0.4],
    })
    sh = shannon_curve(df)
    assert list(sh["rate"]) == [2, 4] and list(sh["mse"]) == [0.05, 0.03]
    eq = equi_perception_curve(df, 1.0)
    assert list(eq["rate"]) == [2, 4] and list(eq["mse"]) == [0.08, 0.035]
    assert list(equi_perception_curve(df, 0.45)["rate"]) == [4]
    assert list(equi_perception_curve(df, 1.0, rate="coded")["rate"]) == [1.9, 3.8]
    cd = constant_distortion_curve(df, 0.05)
    assert list(cd["perception"]) == [3.0, 0.4]
