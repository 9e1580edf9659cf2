"""ImageCodec: round trips with our mean-scale hyperprior and CompressAI's, bpp, bit-exactness, errors."""

import random

import pytest
import torch
from compressai.models import MeanScaleHyperprior

from perceptual_compression.coding import CodecError, ImageCodec, pad_to_multiple
from perceptual_compression.coding.container import header_size, unpack
from perceptual_compression.coding.tables import model_fingerprint
from perceptual_compression.params import ParameterError
from perceptual_compression.models.mean_scale_hyperprior import minnen2018_mean_scale_hyperprior


def _ours(seed=0):
    torch.manual_seed(seed)
    model = minnen2018_mean_scale_hyperprior(n=16, m=24)
    model.update()
    return model.eval()


@pytest.fixture(scope="module")
def ours():
    return _ours()


@pytest.fixture(scope="module")
def theirs():
    torch.manual_seed(0)
    model = MeanScaleHyperprior(16, 24)
    model.update()
    return model.eval()


@pytest.fixture(scope="module")
def image():
    return torch.rand(3, 70, 45, generator=torch.Generator().manual_seed(0))


def test_round_trip_odd_size_our_model(ours, image):
    codec = ImageCodec(ours, "test-ours")
    assert codec.stride == 64
    data = codec.compress(image)
    x_hat = codec.decompress(data)
    assert x_hat.shape == (1, 3, 70, 45)
    assert 0.0 <= float(x_hat.min()) and float(x_hat.max()) <= 1.0
    assert torch.equal(codec.decompress(data), x_hat)  # deterministic
    assert codec.compress(image) == data
    assert codec.bpp(data) == 8 * len(data) / (70 * 45) == codec.bpp(data, 70 * 45)


def test_decoded_latents_equal_the_encoder_quantized_latents(ours, image):
    codec = ImageCodec(ours, "test-ours")
    data = codec.compress(image)
    box = unpack(data, "test-ours", fingerprint=model_fingerprint(ours))
    h, w, batch, *shape = box.fields
    decoded = ours.decompress([list(box.streams)], shape)
    padded = torch.nn.functional.pad(image[None], (0, 64 - 45, 0, 128 - 70), mode="reflect")  # the default
    with torch.no_grad():
        out = ours(padded)  # eval forward: y_hat = round(y - mu) + mu
    assert torch.equal(decoded["y_hat"], out["y_hat"])
    assert torch.equal(ImageCodec(ours, "test-ours").decompress(data), decoded["x_hat"][..., :70, :45])


def test_padding_modes(ours, image):
    """Reflection (the MS-ILLM reference's) by default, edge replication on request and wherever a side is
    shorter than its padding; another mode is refused, naming the valid ones."""
    def padded(x, mode):
        return torch.nn.functional.pad(x[None], (0, (-x.shape[-1]) % 64, 0, (-x.shape[-2]) % 64), mode=mode)

    default, rep = ImageCodec(ours, "test-ours"), ImageCodec(ours, "test-ours", pad="replicate")
    assert torch.equal(default._prepare(image)[0], padded(image, "reflect"))
    assert torch.equal(rep._prepare(image)[0], padded(image, "replicate"))
    assert not torch.equal(padded(image, "reflect"), padded(image, "replicate"))
    small = image[:, :20, :30]  # padding of 44 and 34: longer than the sides, so replicated
    assert torch.equal(default._prepare(small)[0], padded(small, "replicate"))
    short = image[:, :20, :45]  # only the height's padding (44) is longer than its side: the width reflects
    by_axis = torch.nn.functional.pad(torch.nn.functional.pad(short[None], (0, 19, 0, 0), mode="reflect"),
                                      (0, 0, 0, 44), mode="replicate")
    assert torch.equal(default._prepare(short)[0], by_axis)
    with pytest.raises(ValueError, match="stride"):
        pad_to_multiple(image, 0)
    assert default.decompress(default.compress(small)).shape == (1, 3, 20, 30)
    with pytest.raises(ParameterError, match="'reflect', 'replicate'"):
        ImageCodec(ours, "test-ours", pad="zeros")
    with pytest.raises(ParameterError, match="'reflect', 'replicate'"):
        pad_to_multiple(image, 64, "zeros")
    sub = image[:, :64, :32]
    assert pad_to_multiple(sub, 32) is sub and pad_to_multiple(image, 5) is image  # sides already multiples
    assert pad_to_multiple(image, 8, "replicate").shape[-2:] == (72, 48)


def test_round_trip_compressai_mean_scale_hyperprior(theirs, image):
    codec = ImageCodec(theirs, "test-compressai")
    assert codec.stride == 64
    data = codec.compress(image)
    x_hat = codec.decompress(data)
    assert x_hat.shape == (1, 3, 70, 45)
    assert torch.equal(codec.decompress(data), x_hat)
    # the container holds CompressAI's two strings (y, z) unchanged
    strings = theirs.compress(torch.nn.functional.pad(image[None], (0, 19, 0, 58), mode="reflect"))["strings"]
    payload = sum(len(s[0]) for s in strings)
    assert len(data) == payload + header_size([70, 45, 1, 2, 1], [len(s[0]) for s in strings])


def test_coded_bits_close_to_estimate(ours, theirs, image):
    for model in (ours, theirs):
        codec = ImageCodec(model, "est")
        coded = 8 * len(codec.compress(image))
        estimate = codec.estimate_bits(image)
        # random weights: a few hundred bits; overhead is the header (17-19 bytes) + rANS flush per stream
        assert estimate < coded < estimate + 8 * 19 + 2 * 64 + 32


def test_batch_of_images(ours):
    x = torch.rand(2, 3, 33, 80, generator=torch.Generator().manual_seed(1))
    codec = ImageCodec(ours, "batch")
    data = codec.compress(x)
    x_hat = codec.decompress(data)
    assert x_hat.shape == (2, 3, 33, 80)
    single = codec.decompress(codec.compress(x[1]))
    assert torch.allclose(single[0], x_hat[1], atol=1e-5)


def test_requires_update():
    torch.manual_seed(0)
    model = minnen2018_mean_scale_hyperprior(n=8, m=8)
    with pytest.raises(RuntimeError, match=r"update\(\)"):
        ImageCodec(model, "x").compress(torch.rand(3, 64, 64))
    with pytest.raises(RuntimeError, match=r"update\(\)"):
        ImageCodec(MeanScaleHyperprior(8, 8), "x").compress(torch.rand(3, 64, 64))


def test_errors_wrong_codec_id_other_weights_corruption(ours, image):
    data = ImageCodec(ours, "test-ours").compress(image)
    with pytest.raises(CodecError):
        ImageCodec(ours, "test-other").decompress(data)
    other = _ours(seed=1)  # same architecture and id, different entropy-model weights
    with pytest.raises(CodecError, match="checksum"):
        ImageCodec(other, "test-ours").decompress(data)
    codec = ImageCodec(ours, "test-ours")
    for n in range(0, len(data), 3):
        with pytest.raises(CodecError):
            codec.decompress(data[:n])
    rng = random.Random(0)
    for _ in range(100):
        bad = bytearray(data)
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        with pytest.raises(CodecError):
            codec.decompress(bytes(bad))
    with pytest.raises(CodecError):
        codec.decompress(b"\x89PNG\r\n\x1a\n" + bytes(64))


def test_bad_inputs(ours):
    codec = ImageCodec(ours, "x")
    with pytest.raises(ValueError):
        codec.compress(torch.zeros(3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError):
        codec.compress(torch.zeros(8, 8))
    with pytest.raises(ValueError, match="NaN"):
        codec.compress(torch.full((3, 8, 8), float("nan")))
    with pytest.raises(ValueError):
        ImageCodec(ours, "")
    with pytest.raises(TypeError, match="compress"):
        ImageCodec(torch.nn.Module(), "x")

    class NoStride(torch.nn.Module):
        def compress(self, x):
            return {}

        def decompress(self, strings, shape):
            return {}

    with pytest.raises(ValueError, match="stride"):
        ImageCodec(NoStride(), "x")
    assert ImageCodec(NoStride(), "x", stride=8).stride == 8


def test_model_mode_is_restored(ours, image):
    ours.train()
    try:
        ImageCodec(ours, "x").compress(image)
        assert ours.training and ours.encoder.training
    finally:
        ours.eval()
