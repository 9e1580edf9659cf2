"""MNIST experiment of Blau & Michaeli (2019): Table 1/3 networks, the paper's settings, training, coding."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from perceptual_compression.experiments.rdp_mnist import (
    PAPER_GRID, EpochSampler, RDPMnistConfig, constant_distortion_curve, equi_perception_curve,
    feature_term_ratios, perception_index, shannon_curve, train_classifier, train_codec)
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


def test_psi_as_the_whole_second_row():
    """psi="block": Ψ is Table 3's whole second row (max-pool, leaky ReLU; dropout off in eval), 20×4×4; the
    classifier's logits do not depend on the reading."""
    torch.manual_seed(0)
    conv = MnistClassifier().eval()
    block = MnistClassifier(psi="block").eval()
    block.load_state_dict(conv.state_dict())
    x = torch.rand(4, 1, 28, 28)
    f = conv.features(x)
    expected = torch.nn.functional.leaky_relu(torch.nn.functional.max_pool2d(f, 2), 0.2)
    assert block.features(x).shape == (4, 20, 4, 4) and torch.equal(block.features(x), expected)
    assert torch.equal(block(x), conv(x))
    assert RDPMnistConfig.for_scale("paper").psi == RDPMnistConfig.for_scale("small").psi == "conv"
    small = RDPMnistConfig.for_scale("small")
    block = dataclasses.replace(small, psi="block")
    assert small.tag() != block.tag()
    # the classifier's checkpoint is shared: its training does not depend on psi (or on the codecs' settings)
    assert small.classifier_tag() == block.classifier_tag() == dataclasses.replace(small, grid=PAPER_GRID).classifier_tag()
    assert small.classifier_tag() != dataclasses.replace(small, classifier_train_size=100).classifier_tag()
    assert small.classifier_tag() != RDPMnistConfig.for_scale("paper").classifier_tag()
    with pytest.raises(ValueError, match="'conv', 'block'"):
        MnistClassifier(psi="pooled")
    with pytest.raises(ParameterError, match="'conv', 'block'"):
        dataclasses.replace(RDPMnistConfig.for_scale("small"), psi="pooled")


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
    assert (c.epochs, c.batch_size, c.lr, c.lr_drop_epoch, c.lr_factor, c.momentum) == (30, 30, 1e-2, 20, 0.2, 0.9)
    assert c.steps(60_000) == 30 * 2000


def test_small_configuration_is_a_subset_and_invalid_scale_fails():
    small = RDPMnistConfig.for_scale("small")
    paper = {(d, L) for d, L, _ in PAPER_GRID}
    for grid in (small.grid, small.deep_feature_grid):
        for d, L, lams in grid:
            assert (d, L) in paper and lams[0] == 0
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


def _synthetic_digits(n=256, seed=0):
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
    return dataclasses.replace(base, base_epochs=20 / 8, continue_epochs=3 / 8, lr_drop_epoch=15 / 8, width=0.25,
                               batch_size=32, n_critic=1, **kw)


@pytest.fixture
def one_thread():
    """Small convolutions on a shared 2-core machine run far faster on one thread than on two."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.slow
def test_a_short_training_run_lowers_the_loss_and_a_finished_run_is_reloaded(tmp_path, one_thread):
    data = _synthetic_digits()
    cfg = _tiny()
    ckpt = tmp_path / "m.pt"
    codec, critic, hist = train_codec(cfg, 2, 4, 0.0, data, checkpoint=ckpt, seed=0, device=torch.device("cpu"),
                                      progress=False)
    d = hist.values("distortion")
    assert len(d) == 3 and hist.steps("distortion")[-1] == 19  # logged every 10 steps and at the last
    assert d[-1] < 0.6 * d[0]
    assert ckpt.is_file()
    # a finished checkpoint is reloaded, not retrained
    codec2, _, hist2 = train_codec(cfg, 2, 4, 0.0, data, checkpoint=ckpt, seed=0, device=torch.device("cpu"),
                                   progress=False)
    for a, b in zip(codec.state_dict().values(), codec2.state_dict().values()):
        assert torch.equal(a, b)
    # a λ > 0 run continues from the λ = 0 weights and uses the critic
    init = {"codec": codec.state_dict(), "critic": critic.state_dict()}
    _, _, hist3 = train_codec(cfg, 2, 4, 5.0, data, init=init, seed=0, device=torch.device("cpu"), progress=False)
    assert len(hist3.values("loss")) == 1 + 1  # 3 steps: logged at step 0 and at the last
    assert math.isfinite(hist3.last("w_batch"))


def test_initial_weights_depend_on_the_seed_not_on_the_callers_rng(one_thread):
    """train_codec and train_classifier seed before they build their networks: a one-step run returns the same
    weights whatever the caller drew before, and other weights for another seed."""
    data = _synthetic_digits(n=64)
    cfg = _tiny()
    cfg = dataclasses.replace(cfg, base_epochs=0.0, classifier=dataclasses.replace(cfg.classifier, epochs=0.0))
    cpu = torch.device("cpu")

    def weights(seed, caller_seed):
        torch.manual_seed(caller_seed)
        codec, critic, hist = train_codec(cfg, 2, 4, 0.0, data, seed=seed, device=cpu, progress=False)
        torch.manual_seed(caller_seed + 1)
        clf = train_classifier(cfg, data, seed=seed, device=cpu, progress=False)
        assert hist.steps("loss").tolist() == [0]  # one step (the least a run takes)
        return [t.clone() for m in (codec, critic, clf) for t in m.state_dict().values()]

    a, b, c = weights(0, 1), weights(0, 2), weights(1, 1)
    assert len(a) == len(b) == len(c) > 0
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert sum(not torch.equal(x, y) for x, y in zip(a, c)) > len(a) // 2


class _Interrupted(RuntimeError):
    pass


@pytest.mark.slow
@pytest.mark.parametrize("lam", [0.0, 5.0])
def test_a_run_interrupted_mid_way_resumes_to_the_uninterrupted_result(tmp_path, one_thread, monkeypatch, lam):
    """A 20-step run checkpointed every 10 steps crashes during step 12; run again, it resumes from the step-10
    checkpoint, runs only steps 10-19 and ends with the weights, optimizer moments and losses of an uninterrupted
    20-step run (the decoder noise and gradient-penalty draws come from the restored global RNG, the batches from
    EpochSampler's (seed, step) stream). λ = 5 also covers the critic term of the loss."""
    from perceptual_compression.experiments import rdp_mnist as mod

    data = _synthetic_digits()
    cfg = _tiny(checkpoint_every=10)
    cpu = torch.device("cpu")
    init = None
    if lam > 0:  # a λ > 0 run continues from a λ = 0 model (here, untrained weights)
        torch.manual_seed(1)
        init = {"codec": RDPMnistCodec(2, 4, cfg.width).state_dict(), "critic": Critic(cfg.width).state_dict()}
        cfg = dataclasses.replace(cfg, continue_epochs=20 / 8)
    ref_ckpt = tmp_path / "uninterrupted.pt"
    torch.manual_seed(7)  # the caller's RNG state differs between the three calls: only seed=0 may matter
    codec_ref, critic_ref, hist_ref = mod.train_codec(cfg, 2, 4, lam, data, init=init, checkpoint=ref_ckpt, seed=0,
                                                      device=cpu, progress=False)

    calls = []
    real_critic_loss = mod.critic_loss

    def counting_critic_loss(*a, **kw):  # one call per step (n_critic = 1)
        calls.append(1)
        if crash_at is not None and len(calls) == crash_at + 1:
            raise _Interrupted("simulated interruption")
        return real_critic_loss(*a, **kw)

    monkeypatch.setattr(mod, "critic_loss", counting_critic_loss)
    ckpt = tmp_path / "interrupted.pt"
    crash_at = 12
    torch.manual_seed(8)
    with pytest.raises(_Interrupted):
        mod.train_codec(cfg, 2, 4, lam, data, init=init, checkpoint=ckpt, seed=0, device=cpu, progress=False)
    assert len(calls) == 13
    assert torch.load(ckpt, map_location="cpu", weights_only=False)["step"] == 10  # the mid-run checkpoint

    calls.clear()
    crash_at = None
    torch.manual_seed(123)  # the global RNG as a fresh process might leave it: resume must restore its own
    codec, critic, hist = mod.train_codec(cfg, 2, 4, lam, data, init=init, checkpoint=ckpt, seed=0, device=cpu,
                                          progress=False)
    assert len(calls) == 10  # steps 10..19 only: resumed, not retrained
    assert [r["step"] for r in hist.rows] == [r["step"] for r in hist_ref.rows] == [0, 10, 19]
    for a, b in zip(hist.rows, hist_ref.rows):
        assert a == b  # every logged loss, bit for bit
    for got, ref in ((codec, codec_ref), (critic, critic_ref)):
        sd, sd_ref = got.state_dict(), ref.state_dict()
        assert sd.keys() == sd_ref.keys()
        for k in sd:
            assert torch.equal(sd[k], sd_ref[k]), k
    # the optimizers' and schedulers' states at the end match too
    final, final_ref = (torch.load(p, map_location="cpu", weights_only=False) for p in (ckpt, ref_ckpt))
    assert final["step"] == final_ref["step"] == 20
    for name in ("codec", "critic"):
        o, o_ref = final["optimizers"][name]["state"], final_ref["optimizers"][name]["state"]
        assert o.keys() == o_ref.keys()
        for k in o:
            for key in ("exp_avg", "exp_avg_sq", "step"):
                assert torch.equal(o[k][key], o_ref[k][key]), (name, k, key)
        assert final["schedulers"][name] == final_ref["schedulers"][name]


def test_evaluate_codes_the_whole_test_set_but_measures_eval_size_digits():
    """evaluate_codec: distortion and perception on the first eval_size test digits, the coded rate on every test
    digit with the pmf from the first pmf_size training digits (what chapter 1's text says)."""
    from perceptual_compression.experiments.rdp_mnist import _as_float, coded_rate, evaluate_codec

    data = _synthetic_digits()
    torch.manual_seed(0)
    codec, critic = RDPMnistCodec(2, 4, 0.25).eval(), Critic(0.25).eval()
    out = evaluate_codec(codec, critic, data, eval_size=40, coded=True, pmf_size=100, n_examples=2)
    assert out["eval_digits"] == 40 and out["coded_digits"] == 128 == len(data["test_x"])
    full = coded_rate(codec, data["train_x"], data["test_x"], 100)
    assert out["coded_bits"] == full["coded"] and out["estimated_bits"] == full["estimated"]
    assert out["coded_bits"] == pytest.approx(8 * full["bytes"] / 128)
    first = coded_rate(codec, data["train_x"], data["test_x"][:40], 100)
    assert first["coded"] != full["coded"]  # the same 40 digits' stream would be another rate
    assert coded_rate(codec, data["train_x"], data["test_x"])["estimated"] != full["estimated"]  # pmf_size is used
    # the distortion is over the first 40 digits only
    torch.manual_seed(0)
    with torch.no_grad():
        x_hat = codec(_as_float(data["test_x"][:40]))
    se = (x_hat - _as_float(data["test_x"][:40])).pow(2).flatten(1).sum(1)
    assert out["sq_error"] == pytest.approx(float(se.mean()), rel=1e-5)


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


def test_smoothing_spline_of_footnote_8():
    import pandas as pd

    from perceptual_compression.experiments.rdp_mnist import smoothing_spline

    # below five rates: the points themselves, sorted, the least distortion kept at a repeated rate
    few = pd.DataFrame({"rate": [4.0, 2.0, 4.0], "mse": [0.03, 0.05, 0.02]})
    d, r = smoothing_spline(few)
    assert list(r) == [2.0, 4.0] and list(d) == [0.05, 0.02]
    # the roughness penalty is on the second derivative: a straight line is reproduced whatever the smoothing
    rates = np.array([2.0, 3.0, 4.0, 6.34, 8.0, 12.0])
    exact = lambda x: 0.1 - 0.005 * x  # noqa: E731
    d, r = smoothing_spline(pd.DataFrame({"rate": rates[::-1], "mse": exact(rates[::-1])}), n=50)
    assert len(r) == 50 and r[0] == 2.0 and r[-1] == 12.0
    np.testing.assert_allclose(d, exact(r), atol=1e-6)
    # it smooths: a zig-zag is pulled towards its trend, not interpolated
    zig = exact(rates) + np.array([1, -1, 1, -1, 1, -1]) * 5e-3
    d, r = smoothing_spline(pd.DataFrame({"rate": rates, "mse": zig}), n=1001)  # a grid of step 0.01
    at_rates = d[[int(np.argmin(np.abs(r - x))) for x in rates]]
    assert np.abs(at_rates - zig).max() > 2e-3 and np.abs(at_rates - exact(rates)).max() < 5e-3


@pytest.mark.parametrize("cin,cout,k,s,hw", [(32, 16, 5, 2, 4), (16, 32, 5, 2, 11), (32, 1, 4, 1, 25)])
def test_fast_transposed_convolution_equals_pytorch(cin, cout, k, s, hw):
    from perceptual_compression.models.rdp_mnist import ConvTranspose2d

    torch.manual_seed(0)
    fast = ConvTranspose2d(cin, cout, k, stride=s)
    ref = nn.ConvTranspose2d(cin, cout, k, stride=s)
    ref.load_state_dict(fast.state_dict())
    x1 = torch.randn(3, cin, hw, hw, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    y1, y2 = fast(x1), ref(x2)
    assert y1.shape == y2.shape
    assert torch.allclose(y1, y2, atol=1e-5)
    g = torch.randn_like(y1)
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    assert torch.allclose(x1.grad, x2.grad, atol=1e-4)
    assert torch.allclose(fast.weight.grad, ref.weight.grad, atol=1e-3)
    assert torch.allclose(fast.bias.grad, ref.bias.grad, atol=1e-4)


def _mnist_or_skip(n_train=5000, n_test=2000):
    from perceptual_compression.assets import AssetUnavailableError
    from perceptual_compression.experiments.rdp_mnist import load_mnist

    from perceptual_compression.assets.locations import config_dirs

    try:
        data = load_mnist()
    except AssetUnavailableError as e:  # pragma: no cover - CI has the data
        if any((d / "mnist").is_dir() for d in config_dirs()):  # the configured shared data has it: a defect
            raise
        pytest.skip(f"MNIST not available: {e}")
    return {"train_x": data["train_x"][:n_train], "train_y": data["train_y"][:n_train],
            "test_x": data["test_x"][:n_test], "test_y": data["test_y"][:n_test]}


def test_coded_size_of_mnist_codes_and_round_trip(one_thread):
    from perceptual_compression.coding import CategoricalCodec
    from perceptual_compression.experiments.rdp_mnist import _indices, coded_rate

    data = _mnist_or_skip()
    torch.manual_seed(0)
    codec = RDPMnistCodec(4, 16).eval()
    rate = coded_rate(codec, data["train_x"], data["test_x"])
    assert rate["nominal"] == pytest.approx(16.0)
    assert rate["digits"] == 2000
    idx = _indices(codec, data["test_x"])
    counts = torch.stack([torch.bincount(idx[:, c], minlength=16) for c in range(4)]).double()
    empirical = float(-(counts / counts.sum(1, keepdim=True)).clamp_min(1e-300).log2().mul(counts).sum() / 2000)
    assert empirical < 15.0                              # the untrained encoder uses the 16 levels unevenly ...
    assert rate["coded"] < rate["nominal"]               # ... so the real bitstream beats dim * log2(L)
    assert rate["coded"] >= rate["estimated"] - 1e-9     # and cannot beat the ideal code length
    assert rate["coded"] <= rate["estimated"] + 0.2      # header + rANS overhead over 2000 digits
    assert 8 * rate["bytes"] / 2000 == pytest.approx(rate["coded"])
    # round trip through the shared codec layer
    coder = CategoricalCodec(torch.full((4, 16), 1 / 16))
    assert torch.equal(coder.decompress(coder.compress(idx)), idx)
    uniform = 8 * len(coder.compress(idx)) / 2000
    assert uniform == pytest.approx(16.0, abs=0.1)       # a uniform pmf costs the nominal rate (plus the header)


@pytest.mark.slow
def test_evaluate_on_mnist_reports_every_quantity(one_thread):
    from perceptual_compression.experiments.rdp_mnist import evaluate_codec

    data = _mnist_or_skip(2000, 400)
    torch.manual_seed(0)
    codec, critic, clf = RDPMnistCodec(2, 2, 0.25).eval(), Critic(0.25).eval(), MnistClassifier().eval()
    out = evaluate_codec(codec, critic, data, classifier=clf, n_examples=4, coded=False)
    assert out["eval_digits"] == 400 and out["nominal_bits"] == 2.0
    assert out["mse"] == pytest.approx(out["sq_error"] / 784)
    assert out["deep_feature"] == pytest.approx(out["sq_error"] + 0.05 * out["feature_error"], rel=1e-5)
    assert 0.0 <= out["accuracy"] <= 1.0
    assert out["examples"].shape == (4, 28, 28)


def test_feature_term_ratios_compare_the_two_readings_of_psi():
    """The feature term under psi="conv" over the same under psi="block": exactly 4 when the convolution's output is
    non-negative and constant on each 2×2 pooling window (max-pool keeps one of four equal values, leaky ReLU
    leaves it), above 1 for a real classifier; features(x, psi) overrides the classifier's own reading."""
    x = _synthetic_digits(n=16)["train_x"]

    class Upsampled(MnistClassifier):  # Ψ_conv: 4×4 block means of the digit, each repeated over a 2×2 window
        def _conv2(self, v):
            return nn.functional.avg_pool2d(v, 7).repeat_interleave(2, -1).repeat_interleave(2, -2)

    torch.manual_seed(0)
    ratios = feature_term_ratios(Upsampled(), x)
    assert ratios == pytest.approx({"blurred": 4.0, "mismatched": 4.0}, rel=1e-9)
    clf = MnistClassifier().train()
    real = feature_term_ratios(clf, x)
    assert clf.training  # its mode is restored
    assert set(real) == {"blurred", "mismatched"} and all(v > 1.5 for v in real.values())
    block = MnistClassifier(psi="block")
    block.load_state_dict(clf.state_dict())
    clf.eval(), block.eval()
    xf = x[:4].float() / 255
    assert torch.equal(clf.features(xf, "block"), block.features(xf))
    assert torch.equal(block.features(xf, "conv"), clf.features(xf)) and clf.features(xf).shape == (4, 20, 8, 8)
    with pytest.raises(ParameterError, match="'conv', 'block'"):
        clf.features(xf, "pool")
    with pytest.raises(ValueError, match="at least two digits"):
        feature_term_ratios(clf, x[:1])
