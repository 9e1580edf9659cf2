import pytest
import torch
from compressai.layers import GDN

from perceptual_compression.models.factorized_prior import factorized_prior, inner, reconstruct, widths_for_rate


def test_widths_of_appendix_d():
    assert [widths_for_rate(i) for i in range(8)] == [(128, 192)] * 5 + [(192, 320)] * 3


def test_shapes_and_representations():
    torch.manual_seed(0)
    m = factorized_prior(16, 24).eval()
    m.update(force=True)
    x = torch.rand(1, 3, 64, 64)
    y = inner(m, x)
    assert y.shape == (1, 24, 4, 4)
    yq = inner(m, x, quantized=True)
    med = m.entropy_bottleneck._get_medians().reshape(1, -1, 1, 1)
    torch.testing.assert_close(yq - med, torch.round(yq - med))
    xh = reconstruct(m, x)
    assert xh.shape == x.shape and xh.min() >= 0 and xh.max() <= 1
    torch.testing.assert_close(xh, m(x)["x_hat"].clamp(0, 1))


def test_gdn_positivity():
    torch.manual_seed(0)
    gdn = GDN(4)
    with torch.no_grad():  # push the raw parameters negative: the reparametrisation keeps them valid
        gdn.beta.fill_(-5.0)
        gdn.gamma.fill_(-5.0)
    beta = gdn.beta_reparam(gdn.beta)
    gamma = gdn.gamma_reparam(gdn.gamma)
    assert (beta > 0).all() and (gamma >= 0).all()
    x = torch.randn(2, 4, 8, 8) * 3
    y = gdn(x)
    # y = x / sqrt(beta + gamma x^2): same sign, finite, and |y| <= |x| / sqrt(beta)
    assert torch.isfinite(y).all()
    assert ((y * x) >= 0).all()
    assert (y.abs() <= x.abs() / beta.min().sqrt() + 1e-5).all()


def test_gdn_igdn_round_trip():
    torch.manual_seed(0)
    gdn, igdn = GDN(4), GDN(4, inverse=True)
    igdn.load_state_dict(gdn.state_dict())
    errs = []
    for amp in (1.0, 0.1, 0.01):
        x = amp * torch.randn(1, 4, 8, 8)
        errs.append(((igdn(gdn(x)) - x).abs().max() / amp).item())
    # IGDN(GDN(x)) = x + O(|x|^3): the relative error falls with the square of the amplitude
    assert errs[1] < errs[0] / 50 and errs[2] < errs[1] / 50 and errs[2] < 1e-4
    # the exact inverse of GDN by the fixed point x = y sqrt(beta + gamma x^2) (IGDN's form) converges
    x = 0.5 * torch.randn(1, 4, 8, 8)
    y = gdn(x)
    beta, gamma = gdn.beta_reparam(gdn.beta), gdn.gamma_reparam(gdn.gamma)
    z = y.clone()
    for _ in range(50):
        norm = torch.nn.functional.conv2d(z**2, gamma.reshape(4, 4, 1, 1), beta)
        z = y * torch.sqrt(norm)
    torch.testing.assert_close(z, x, atol=1e-5, rtol=1e-5)


def test_invalid_widths():
    with pytest.raises(ValueError):
        factorized_prior(0, 8)
    with pytest.raises(ValueError):
        widths_for_rate(-1)


# ----------------------------------------------------------------- CompressAI's pretrained models (the zoo)
def test_zoo_asset_ids_name_the_registry_entries_and_check_their_arguments():
    from perceptual_compression.assets import registry
    from perceptual_compression.models.factorized_prior import ZOO_QUALITIES, zoo_asset_id

    ids = set(registry())
    for q in ZOO_QUALITIES:
        for metric, part in (("mse", "prior"), ("ms-ssim", "ms-ssim")):
            asset = registry()[zoo_asset_id(q, metric)]
            assert zoo_asset_id(q, metric) in ids and asset.kind == "weights"
            # the official file name of CompressAI's zoo: <name>-<quality>-<first 8 hex digits of its sha256>
            name = asset.files[0].url.rsplit("/", 1)[1]
            assert name.startswith(f"bmshj2018-factorized-{part}-{q}-") and name[-16:-8] in str(asset.files[0].checksum)
    with pytest.raises(ValueError, match="valid values are: 'mse', 'ms-ssim'"):
        zoo_asset_id(3, "nlpd")
    with pytest.raises(ValueError, match="valid values are: 1, 2, 3, 4, 5, 6, 7, 8"):
        zoo_asset_id(9)


def test_a_missing_zoo_model_raises_one_clear_error(monkeypatch, tmp_path):
    from perceptual_compression.assets import AssetUnavailableError
    from perceptual_compression.models.factorized_prior import load_zoo_factorized

    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(tmp_path))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(AssetUnavailableError, match="compressai-bmshj2018-factorized-ms-ssim-q3.*To provide it"):
        load_zoo_factorized(3, "ms-ssim")


def _zoo_file(tmp_path, seed=0):
    """A small factorized prior saved as CompressAI's zoo files are (a state dict, here with the older
    DataParallel prefix and ParameterList names that CompressAI's key renaming maps)."""
    import re

    torch.manual_seed(seed)
    src = factorized_prior(8, 12)
    src.update(force=True)
    old = {"module." + re.sub(r"entropy_bottleneck\.(matrices|biases|factors)\.", r"entropy_bottleneck._\1.", k): v
           for k, v in src.state_dict().items()}
    assert any("_matrices." in k for k in old)
    path = tmp_path / "zoo.pth.tar"
    torch.save(old, path)
    return src, path


def test_a_zoo_file_loads_into_the_model_it_was_saved_from(monkeypatch, tmp_path):
    """resolve -> key renaming -> widths read from the file and checked -> entropy tables -> eval mode, with a
    small model standing in for the zoo's (whose files cannot be had here)."""
    import perceptual_compression.assets as assets
    import perceptual_compression.models.factorized_prior as fp
    from perceptual_compression.coding import ImageCodec

    src, path = _zoo_file(tmp_path)
    asked = []
    monkeypatch.setattr(assets, "resolve", lambda asset_id, download=None: asked.append(asset_id) or path)
    with pytest.raises(ValueError, match="N=8, M=12; quality 3 is N=128, M=192"):
        fp.load_zoo_factorized(3, "ms-ssim", device="cpu")  # appendix D's widths are checked
    monkeypatch.setattr(fp, "widths_for_rate", lambda index: (8, 12))
    model = fp.load_zoo_factorized(3, "ms-ssim", device="cpu")
    assert asked == ["compressai-bmshj2018-factorized-ms-ssim-q3"] * 2
    assert not model.training and model.zoo == {"asset_id": asked[0], "quality": 3, "metric": "ms-ssim"}
    for (k, v), (k2, v2) in zip(src.state_dict().items(), model.state_dict().items()):
        assert k == k2 and torch.equal(v, v2), k
    x = torch.rand(1, 3, 64, 64)
    codec = ImageCodec(model, "zoo-test")
    src.eval()
    with torch.no_grad():
        expected = src(x)["x_hat"]
    decoded = codec.decompress(codec.compress(x))
    assert decoded.shape == x.shape
    assert torch.allclose(decoded, expected.clamp(0, 1), atol=1e-4)  # the bitstream decodes to the model's output
