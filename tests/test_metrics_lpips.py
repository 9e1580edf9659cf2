"""LPIPS: stand-in trunks, the registry weight path, agreement with the lpips package, safe gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from perceptual_compression.metrics import LPIPS
from perceptual_compression.metrics.lpips import LPIPS_TRUNKS

from _metrics_helpers import add_noise, one_thread, photo_crops, registry_with  # noqa: F401


class TinyTrunk(nn.Module):
    """A stand-in trunk: strided convs + ReLU, returning every stage's feature map (like lpips' slices).

    A negative bias makes many ReLU outputs exactly zero, the situation that breaks lpips' gradient.
    """

    def __init__(self, channels=(4, 8, 8), seed=0):
        super().__init__()
        torch.manual_seed(seed)
        layers, c_in = [], 3
        for c in channels:
            conv = nn.Conv2d(c_in, c, 3, stride=2, padding=1)
            nn.init.constant_(conv.bias, -0.3)
            layers.append(nn.Sequential(conv, nn.ReLU()))
            c_in = c
        self.stages = nn.ModuleList(layers)

    def forward(self, x):
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


def _images(b=2, size=32):
    x = photo_crops(size, b)
    return x, add_noise(x, 0.1)


def test_stand_in_trunk_shapes_identity_and_order():
    metric = LPIPS(backbone=TinyTrunk(), lin=False)
    x, y = _images()
    d = metric(x, y)
    assert d.shape == (2,)
    assert (d > 0).all()
    assert torch.equal(metric(x, x), torch.zeros(2))
    assert metric.layer_distances(x, y).shape == (2, 3)
    assert torch.allclose(metric.layer_distances(x, y).sum(1), d)
    assert torch.allclose(metric(x, y), metric(y, x))
    # more noise, larger distance
    assert (metric(x, add_noise(x, 0.3)) > d).all()
    assert metric.label == "LPIPS-Alex (stand-in backbone)"


def test_gradient_is_finite_at_identity():
    trunk = TinyTrunk()
    x, _ = _images(b=1)
    # the trunk really produces all-zero feature vectors somewhere
    assert any((f.pow(2).sum(1) == 0).any() for f in trunk(x))
    x_hat = x.clone().requires_grad_(True)
    with torch.autograd.detect_anomaly():  # raises on any NaN produced inside backward
        LPIPS(backbone=trunk, lin=False)(x, x_hat).sum().backward()
    assert torch.isfinite(x_hat.grad).all()
    assert x_hat.grad.abs().max() == 0  # the minimum of the distance


def test_normalisation_gradient_is_safe_where_the_lpips_package_is_not():
    import lpips

    # a zero feature vector and vectors whose squared norm underflows (the lpips issue #69 situation)
    f = torch.full((1, 4, 2, 2), 1e-30)
    f[..., 0, 0] = 0
    g = torch.rand(1, 4, 2, 2, generator=torch.Generator().manual_seed(0))
    f_pkg = f.clone().requires_grad_(True)
    (lpips.normalize_tensor(f_pkg) - lpips.normalize_tensor(g)).pow(2).sum().backward()
    assert not torch.isfinite(f_pkg.grad).all()  # eps outside the square root: NaN / inf

    metric = LPIPS(backbone=nn.Identity(), lin=False)
    f_ours = f.clone().requires_grad_(True)
    (metric._normalise(f_ours) - metric._normalise(g)).pow(2).sum().backward()
    assert torch.isfinite(f_ours.grad).all()
    # forward values agree with the package's away from zero
    assert torch.allclose(metric._normalise(g), lpips.normalize_tensor(g), rtol=1e-6)


def test_stand_in_with_alex_channels_uses_calibrated_linear_layers():
    channels = LPIPS_TRUNKS["alex"]["channels"]
    metric = LPIPS("alex", backbone=TinyTrunk(channels))
    x, y = _images()
    lin_d = metric.layer_distances(x, y)
    assert lin_d.shape == (2, 5)
    assert torch.equal(metric(x, x), torch.zeros(2))
    # the linear weights are lpips' non-negative calibrated weights, not a random init
    import lpips
    from pathlib import Path

    shipped = torch.load(Path(lpips.__file__).parent / "weights/v0.1/alex.pth", map_location="cpu", weights_only=True)
    assert torch.equal(metric.lins[2].model[1].weight, shipped["lin2.model.1.weight"])
    assert metric.label == "LPIPS-Alex-lin (stand-in backbone)"
    with pytest.raises(ValueError, match="expect .*lin=False"):
        LPIPS("alex", backbone=TinyTrunk())(x, y)


def test_module_is_frozen_and_stays_in_eval_mode():
    metric = LPIPS("alex", backbone=TinyTrunk(LPIPS_TRUNKS["alex"]["channels"]))
    metric.train()
    assert not metric.training and not any(m.training for m in metric.modules())
    assert not any(p.requires_grad for p in metric.parameters())


def _alexnet_features_file(tmp_path, lpips_model):
    """lpips' random AlexNet trunk saved in torchvision's key layout (features.<i>.*), with a classifier key."""
    state = {}
    for key, value in lpips_model.net.state_dict().items():
        state["features." + key.split(".", 1)[1]] = value.clone()
    state["classifier.1.weight"] = torch.zeros(2, 2)  # ignored, as the real file's classifier is
    path = tmp_path / "alexnet-test.pth"
    torch.save(state, path)
    return path


def test_registry_trunk_weights_reproduce_the_lpips_package(tmp_path, monkeypatch):
    import lpips

    torch.manual_seed(0)
    reference = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)  # random trunk, shipped lin weights
    path = _alexnet_features_file(tmp_path, reference)
    assets = registry_with(tmp_path, monkeypatch, {"torchvision-alexnet": path})
    assert LPIPS.available("alex")
    assert assets.resolve("torchvision-alexnet").name == "alexnet-owt-7be5be79.pth"

    metric = LPIPS("alex")  # trunk weights through the real resolver (found locally, checksum verified)
    x, y = _images(b=2, size=64)
    with torch.no_grad():
        expected = reference(x, y, normalize=True).flatten()
    assert torch.allclose(metric(x, y), expected, rtol=1e-4, atol=1e-7)
    # the plain (lin=False) variant equals lpips' baseline mode
    baseline = lpips.LPIPS(net="alex", lpips=False, pnet_rand=True, verbose=False)
    baseline.net.load_state_dict(reference.net.state_dict())
    with torch.no_grad():
        expected_plain = baseline(x, y, normalize=True).flatten()
    plain = LPIPS("alex", lin=False)
    assert plain.label == "LPIPS-Alex"
    assert torch.allclose(plain(x, y), expected_plain, rtol=1e-4, atol=1e-7)


def test_squeezenet_full_torchvision_state_dict_loads(tmp_path):
    import torchvision

    torch.manual_seed(1)
    tv = torchvision.models.squeezenet1_1(weights=None)
    path = tmp_path / "squeezenet.pth"
    torch.save(tv.state_dict(), path)
    metric = LPIPS("squeeze", weights=path)
    assert torch.equal(getattr(metric.trunk.slice2, "3").squeeze.weight, tv.features[3].squeeze.weight)
    assert torch.equal(getattr(metric.trunk.slice7, "12").expand3x3.bias, tv.features[12].expand3x3.bias)
    assert metric.label == "LPIPS-Squeeze-lin"
    x, y = _images(size=48)
    assert metric(x, y).shape == (2,)
    # a file for another architecture is refused with a clear message
    with pytest.raises(ValueError, match="not a torchvision alex state dict|does not match"):
        LPIPS("alex", weights=path)


def test_missing_weights_raise_the_registry_error_in_one_line(tmp_path, monkeypatch):
    from perceptual_compression.assets import AssetUnavailableError, asset_info

    registry_with(tmp_path, monkeypatch)
    with pytest.raises(AssetUnavailableError) as info:
        LPIPS("vgg")
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "\n" not in message and "'torchvision-vgg16'" in message
    assert asset_info("torchvision-vgg16").files[0].url in message  # says how to provide it
    assert LPIPS.available("vgg") is False and LPIPS.available("alex") is False


def test_available_never_downloads(tmp_path, monkeypatch):
    import time

    registry_with(tmp_path, monkeypatch, offline=False)  # downloads allowed in general ...
    t0 = time.perf_counter()
    assert LPIPS.available("squeezenet1_1") is False  # ... but available() only looks locally
    assert time.perf_counter() - t0 < 5
    assert not any((tmp_path / "cache").rglob("*.pth*"))
    assert LPIPS.asset_id("vgg16") == "torchvision-vgg16"
    with pytest.raises(ValueError, match="net must be one of"):
        LPIPS.available("resnet")
