"""HiFiC transforms, ChannelNorm, the MS-ILLM model: shapes, straight-through quantization, bit-exact coding,
and the state-dict layout of NeuralCompression's checkpoints."""

import json
from pathlib import Path

import pytest
import torch

from perceptual_compression.coding import ImageCodec
from perceptual_compression.layers.channel_norm import ChannelNorm2d
from perceptual_compression.models.hific import (
    PRETRAINED,
    HiFiCConfig,
    HiFiCEncoder,
    HiFiCGenerator,
    load_pretrained,
    msillm_autoencoder,
    pretrained_info,
)

FIXTURE = Path(__file__).parent / "fixtures" / "msillm_state_dict_keys.json"


def _small_model(seed=0):
    torch.manual_seed(seed)
    return msillm_autoencoder(HiFiCConfig(channels=(4, 6, 8, 12, 16), latent_features=8, hyper_features=6,
                                          residual_blocks=1))


# ----------------------------------------------------------------------------- ChannelNorm
def test_channel_norm_matches_its_definition_and_is_per_pixel():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 6, 7, generator=g) * 3 + 1
    cn = ChannelNorm2d(5)
    with torch.no_grad():
        cn.gamma.copy_(torch.arange(1.0, 6.0).view(1, 5, 1, 1))
        cn.beta.fill_(0.5)
    mean = x.mean(1, keepdim=True)
    var = x.var(1, keepdim=True, unbiased=True)  # NeuralCompression uses torch.var's default (unbiased)
    expected = (x - mean) / torch.sqrt(var + 1e-3) * cn.gamma + 0.5
    assert torch.allclose(cn(x), expected, atol=1e-5)
    # per pixel: normalising a crop equals cropping the normalised map (no spatial statistics)
    assert torch.allclose(cn(x[..., 1:4, 2:6]), cn(x)[..., 1:4, 2:6])
    assert cn.eps == 1e-3 and cn.gamma.shape == (1, 5, 1, 1)
    with pytest.raises(ValueError):
        ChannelNorm2d(1)


# ----------------------------------------------------------------------------- transforms
def test_encoder_generator_shapes_and_widths():
    cfg = HiFiCConfig.small()
    enc = HiFiCEncoder(latent_features=cfg.latent_features, channels=cfg.channels)
    gen = HiFiCGenerator(latent_features=cfg.latent_features, channels=cfg.channels,
                         residual_blocks=cfg.residual_blocks)
    x = torch.rand(2, 3, 64, 96)
    y = enc(x)
    assert y.shape == (2, cfg.latent_features, 4, 6)
    assert gen(y).shape == x.shape
    assert [b[0].out_channels for b in enc.blocks[:5]] == list(cfg.channels)
    assert len(gen.resid_blocks) == cfg.residual_blocks
    paper = HiFiCConfig.paper()
    assert (paper.channels, paper.latent_features, paper.hyper_features, paper.residual_blocks, paper.eps) == (
        (60, 120, 240, 480, 960), 220, 320, 9, 1e-3)
    half = HiFiCConfig.scaled(0.5, residual_blocks=3)
    assert half.channels == (30, 60, 120, 240, 480) and half.latent_features == 110


def test_straight_through_quantization_into_the_generator():
    model = _small_model().train()
    x = torch.rand(2, 3, 64, 64)
    out = model(x)
    centered = out["y_hat"] - out["means"]
    # value: the latents the generator sees are rounded around the predicted means ...
    assert torch.allclose(centered, torch.round(centered), atol=1e-5)
    assert not torch.allclose(out["y"] - out["means"], centered)  # (the encoder output itself is not integer)
    # ... gradient: the identity (straight-through)
    (grad,) = torch.autograd.grad(out["y_hat"].sum() * 3.0, out["y"], retain_graph=True)
    assert torch.equal(grad, torch.full_like(grad, 3.0))
    # eval mode: plain rounding around the means
    model.eval()
    ev = model(x)
    assert torch.equal(ev["y_hat"], torch.round(ev["y"] - ev["means"]) + ev["means"])


def test_bit_exact_round_trip_through_image_codec():
    model = _small_model()
    model.eval()
    model.update(force=True)
    codec = ImageCodec(model, "test-ch4-hific-small")
    x = torch.rand(1, 3, 70, 100, generator=torch.Generator().manual_seed(1))  # not a multiple of 64: padded
    data = codec.compress(x)
    a, b = codec.decompress(data), codec.decompress(data)
    assert a.shape == x.shape and torch.equal(a, b)
    # the decoder reproduces exactly what the encoder quantized: the eval-mode forward on the (reflection-)padded image
    xp = torch.nn.functional.pad(x, (0, 28, 0, 58), mode="reflect")
    with torch.no_grad():
        ref = model(xp)
        dec = model.decompress(*_strings(codec, data))
    assert torch.equal(dec["y_hat"], ref["y_hat"])
    assert torch.allclose(a, ref["x_hat"][..., :70, :100].clamp(0, 1), atol=1e-6)
    # a second encode writes the same bytes
    assert codec.compress(x) == data
    assert codec.bpp(data) == pytest.approx(8 * len(data) / (70 * 100))


def _strings(codec, data):
    from perceptual_compression.coding import unpack
    from perceptual_compression.coding.tables import model_fingerprint

    box = unpack(data, codec.codec_id, fingerprint=model_fingerprint(codec.model))
    h, w, batch, *shape = box.fields
    return [list(box.streams)], torch.Size(shape)


# ----------------------------------------------------------------------------- checkpoint compatibility
def _fixture():
    return json.loads(FIXTURE.read_text())["keys"]


def test_state_dict_layout_matches_neuralcompression_checkpoints():
    from compressai.models.utils import remap_old_keys

    expected = remap_old_keys("hyper_bottleneck", _fixture())  # CompressAI 1.2.4 names -> installed names
    model = msillm_autoencoder(device="meta")  # paper size, no memory for the 181M transform weights
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert set(ours) == set(expected)
    static = {k: s for k, s in expected.items() if s != "dynamic"}
    assert {k: ours[k] for k in static} == static
    assert sum(p.numel() for p in model.parameters()) == json.loads(FIXTURE.read_text())["num_parameters_static"] - 7
    # (the fixture's static elements include 7 buffer values: EntropyBottleneck.target (3) and four scalar bounds)
    assert sum(p.numel() for p in model.parameters()) == 181_481_103  # MS-ILLM: 181.5M parameters


def _synthetic_checkpoint(keys, *, meta_transforms=True):
    """Tensors of the fixture's shapes under the checkpoint's (old CompressAI) names; the dynamic CDF buffers
    sized as after ``update()`` (64 Gaussian scales, some CDF length), which strict loading must accept."""
    sizes = {"hyper_bottleneck": {"_offset": [320], "_cdf_length": [320], "_quantized_cdf": [320, 71]},
             "latent_bottleneck": {"_offset": [64], "_cdf_length": [64], "_quantized_cdf": [64, 3011],
                                   "scale_table": [64]}}
    ckpt = {}
    for k, shape in keys.items():
        module, name = k.split(".", 1)
        if shape == "dynamic":
            shape = sizes[module][name]
            dtype = torch.float32 if name == "scale_table" else torch.int32
        else:
            dtype = torch.float32
        dev = "meta" if meta_transforms and module in ("encoder", "decoder") else "cpu"
        ckpt[k] = torch.zeros(shape, dtype=dtype, device=dev)
    return ckpt


def test_official_layout_loads_strictly_and_wrong_layouts_do_not():
    keys = _fixture()
    model = msillm_autoencoder(device="meta")
    result = model.load_state_dict(_synthetic_checkpoint(keys), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert model.latent_bottleneck.scale_table.shape == (64,)
    assert model.hyper_bottleneck._quantized_cdf.shape == (320, 71)
    # one residual block fewer -> unexpected keys; a wrong width -> size mismatch
    fewer = msillm_autoencoder(HiFiCConfig(residual_blocks=8), device="meta")
    with pytest.raises(RuntimeError, match="Unexpected key"):
        fewer.load_state_dict(_synthetic_checkpoint(keys), strict=True)
    narrow = msillm_autoencoder(HiFiCConfig(latent_features=192), device="meta")
    with pytest.raises(RuntimeError, match="size mismatch"):
        narrow.load_state_dict(_synthetic_checkpoint(keys), strict=True)


def test_pretrained_names_cover_the_hub():
    hub = ([f"msillm_quality_{q}" for q in ("vlo1", "vlo2", 1, 2, 3, 4, 5, 6)]
           + [f"noganms_quality_{q}" for q in range(1, 7)])
    assert sorted(PRETRAINED) == sorted(hub)
    assert pretrained_info("noganms_quality_3").target_bpp == 0.14
    assert pretrained_info("neuralcompression-msillm-quality-vlo1").hub_name == "msillm_quality_vlo1"
    with pytest.raises(KeyError, match="noganms_quality_1"):
        pretrained_info("noganms_quality_7")


def test_load_pretrained_missing_asset_raises_one_clear_error(monkeypatch, tmp_path):
    from perceptual_compression.assets import AssetUnavailableError

    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(tmp_path))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_CACHE", str(tmp_path / "cache"))
    with pytest.raises(AssetUnavailableError, match="noganms"):
        load_pretrained("noganms_quality_3")


def test_load_pretrained_end_to_end_with_a_placed_file(monkeypatch, tmp_path):
    """resolve -> torch.load -> strict load -> update -> code, with a small model standing in for the paper size."""
    import perceptual_compression.models.hific as hific

    small = HiFiCConfig(channels=(4, 6, 8, 12, 16), latent_features=8, hyper_features=6, residual_blocks=1)
    src = _small_model(seed=3)
    src.update(force=True)  # checkpoints may hold filled CDF buffers: they must load too
    target = tmp_path / "weights" / "noganms_target_0.14bpp.ckpt"
    target.parent.mkdir(parents=True)
    torch.save(src.state_dict(), target)
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(tmp_path))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    monkeypatch.setattr(hific.HiFiCConfig, "paper", classmethod(lambda cls: small))
    model = load_pretrained("noganms_quality_3", device="cpu")
    assert not model.training and model.pretrained.family == "No-GAN"
    for (k, v), (k2, v2) in zip(src.state_dict().items(), model.state_dict().items()):
        assert k == k2 and torch.equal(v, v2), k
    x = torch.rand(1, 3, 64, 64)
    codec = ImageCodec(model, "noganms_quality_3")
    assert codec.decompress(codec.compress(x)).shape == x.shape
