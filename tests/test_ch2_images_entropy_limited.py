"""experiments.ch2_images.entropy_limited: Table 1's entropy-limited autoencoders (eq. 15-16), their
training, resuming and decoding diagnostics."""

import numpy as np
import pytest
import torch

from perceptual_compression.experiments import ch2_images as img
from perceptual_compression.experiments.ch2_config import EntropyLimitedConfig
from perceptual_compression.datasets import PatchDataset, embedded_images
from perceptual_compression.models.entropy_limited import EntropyLimitedAutoencoder
from _ch2_images_shared import equal_weights, patches, test_images  # noqa: F401 (fixtures)


def test_entropy_limited_training_lowers_the_distortion_and_codes_at_the_bound(patches, test_images):
    torch.set_num_threads(1)
    cfg = EntropyLimitedConfig(n=8, m=16, patch_size=32, batch_size=4, steps=40, lr=5e-3, log_every=1)
    m = img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "natural", patches, seed=0, progress=False)
    loss = m.history.values("loss")
    assert loss[-10:].mean() < loss[:3].mean()
    scores = img.evaluate_codec(m, list(test_images), "t", msssim_levels="auto")
    bound = 16 * 1 / 256  # eq. 16 with M = 16, L = 2, 4 downsamplings
    assert bound <= scores["bpp"] <= bound + 8 * 64 / (64 * 64)
    assert np.isnan(scores["bpp_estimated"]) and scores["psnr"] > 5 and m.steps_done == 40
    with pytest.raises(ValueError):
        img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "natural", None, progress=False)
    # a wall-clock budget of 0 s stops after the first step, and the model says so
    short = img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "uniform", seed=0, progress=False, time_limit_s=0.0)
    assert short.steps_done == 1 and len(short.history) == 1


@pytest.mark.parametrize("mode", ["ste", "soft"])
def test_entropy_limited_training_feeds_the_decoder_centers_only_with_ste(patches, mode):
    torch.set_num_threads(1)
    seen = []
    orig = EntropyLimitedAutoencoder.__init__

    def init(self, *a, **k):  # record what the decoder receives in every training step
        orig(self, *a, **k)
        self.decoder.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].detach().clone()))

    cfg = EntropyLimitedConfig(n=4, m=8, patch_size=32, batch_size=2, steps=3, lr=1e-3, log_every=1,
                               train_quantization=mode)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(EntropyLimitedAutoencoder, "__init__", init)
        model = img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "uniform", seed=0, progress=False)
    assert len(seen) == 3
    y_in = torch.cat([v.flatten() for v in seen])
    on_centers = torch.isclose(y_in.abs(), torch.tensor(1.0)).all()
    if mode == "ste":
        assert on_centers  # the bound of eq. 16 holds in training too
    else:
        assert not on_centers and y_in.abs().max() < 1  # eq. 15 with s = 1: a convex combination, inside (-1, 1)
    # the encoder learns in both modes (eq. 15's gradient passes the rounding)
    fresh = EntropyLimitedConfig(n=4, m=8, patch_size=32, batch_size=2, steps=0, train_quantization=mode)
    init_enc = img.train_entropy_limited(fresh, "mse", (-1.0, 1.0), "uniform", seed=0, progress=False).encoder[0].weight
    assert not torch.allclose(model.encoder[0].weight, init_enc)


def test_entropy_limited_training_rejects_an_unknown_quantization_mode(patches):
    cfg = EntropyLimitedConfig(n=4, m=8, patch_size=32, batch_size=2, steps=1, train_quantization="hard")
    with pytest.raises(ValueError, match="valid values are: 'ste', 'soft'"):
        img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "uniform", progress=False)


def test_soft_quantized_psnr_feeds_the_decoder_eq15_values(test_images):
    from perceptual_compression.metrics import psnr

    torch.manual_seed(0)
    m = EntropyLimitedAutoencoder(4, 8).eval()
    ims = list(test_images)
    q = m.quantizer
    want = np.mean([float(psnr(x[None], m.decoder(q.soft(m.encoder(x[None]))).clamp(0, 1))) for x in ims])
    assert img.soft_quantized_psnr(m, ims) == pytest.approx(want, abs=1e-9)
    hard = np.mean([float(psnr(x[None], m.decoder(q.hard(m.encoder(x[None]))).clamp(0, 1))) for x in ims])
    assert img.soft_quantized_psnr(m, ims) != pytest.approx(hard, abs=1e-6)


def test_mean_restored_psnr_of_no_model_is_the_flat_mean_image(test_images):
    from perceptual_compression.metrics import psnr

    ims = list(test_images)
    flat = np.mean([float(psnr(x[None], x.mean((-2, -1), keepdim=True).expand_as(x)[None])) for x in ims])
    assert img.mean_restored_psnr(None, ims) == pytest.approx(flat, abs=1e-9)
    assert img.mean_restored_psnr(None, ims) > img.flat_grey_scores(ims, msssim_levels="auto")["psnr"]
    torch.manual_seed(0)
    m = EntropyLimitedAutoencoder(4, 8).eval()
    for mode, q in (("hard", m.quantizer.hard), ("soft", m.quantizer.soft)):
        want = np.mean([float(psnr(x[None], img.restore_channel_means(x[None], m.decoder(q(m.encoder(x[None]))))))
                        for x in ims])
        assert img.mean_restored_psnr(m, ims, quantization=mode) == pytest.approx(want, abs=1e-9)
    with pytest.raises(ValueError, match="valid values are: 'hard', 'soft'"):
        img.mean_restored_psnr(m, ims, quantization="ste")


def test_entropy_limited_training_on_ranged_noise_and_an_unknown_source():
    cfg = EntropyLimitedConfig(n=4, m=8, patch_size=32, batch_size=2, steps=2)
    model = img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "uniform-ranged", seed=0, progress=False)
    assert model.steps_done == 2
    with pytest.raises(ValueError, match="valid values are: 'natural', 'uniform', 'uniform-ranged', 'uniform-tiled'"):
        img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), "gaussian", progress=False)


@pytest.mark.parametrize("data", ["natural", "uniform"])
def test_entropy_limited_training_resumed_is_the_uninterrupted_run(tmp_path, data):
    torch.set_num_threads(1)
    cfg = EntropyLimitedConfig(n=8, m=8, patch_size=16, batch_size=2, steps=6, checkpoint_every=2, log_every=1)

    def run(**kw):
        return img.train_entropy_limited(cfg, "mse", (-1.0, 1.0), data, PatchDataset(embedded_images(), size=16, seed=2),
                                         seed=0, progress=False, **kw)

    whole = run()
    assert run(checkpoint_path=tmp_path / "c.pt", time_limit_s=0.0).steps_done == 1  # stopped after one step
    resumed = run(checkpoint_path=tmp_path / "c.pt")
    assert resumed.steps_done == 6 and equal_weights(whole, resumed)
