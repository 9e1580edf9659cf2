"""PIM training settings per scale and a short training run with checkpoint/resume."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
import torch

from perceptual_compression.datasets.frame_pairs import FramePairConfig, TranslatedImageSegments
from perceptual_compression.models.pim import PIMArchitecture
from perceptual_compression.models.pim_training import (
    UNTAGGED_FIELDS,
    PIMConfig,
    scaled_anneal,
    scaled_boundaries,
    train_pim,
)
from perceptual_compression.params import ParameterError


def test_paper_scale_has_the_papers_settings():
    c = PIMConfig.for_scale("paper")
    assert (c.batch_size, c.steps, c.learning_rate) == (50, 100_000, 1e-3)
    assert c.lr_boundaries == (50_000, 80_000) and c.lr_factors == (1.0, 0.1, 0.01)
    assert c.beta_anneal_steps == 10_000 and c.crop == 8
    assert c.arch == PIMArchitecture() and c.init == "keras"
    assert PIMConfig.for_scale("small").init == "pytorch"
    assert c.frames.patch == 64 and c.frames.height_range == (128, 160)
    assert (c.noise_levels, c.noise_range, c.calib_size) == (40, (0.01, 0.60), 224)
    for step, lr in ((0, 1e-3), (49_999, 1e-3), (50_000, 1e-4), (79_999, 1e-4), (80_000, 1e-5), (99_999, 1e-5)):
        assert c.learning_rate_at(step) == pytest.approx(lr)


def test_small_scale_keeps_relative_schedule_positions():
    c = PIMConfig.for_scale("small")
    assert c.lr_boundaries == scaled_boundaries(c.steps)
    assert c.lr_boundaries[0] == round(0.5 * c.steps) and c.lr_boundaries[1] == round(0.8 * c.steps)
    # the small scale ramps beta over the first half (a 10 % ramp collapses the small model)
    assert c.beta_anneal_steps == scaled_anneal(c.steps, 0.5) == round(0.5 * c.steps)
    c2 = PIMConfig.for_scale("small", steps=1000)
    assert c2.lr_boundaries == (500, 800) and c2.beta_anneal_steps == 500
    p2 = PIMConfig.for_scale("paper", steps=1000)
    assert p2.lr_boundaries == (500, 800) and p2.beta_anneal_steps == 100


def test_tag_hashes_every_setting_that_changes_the_trained_weights():
    p = PIMConfig.for_scale("paper")
    # stable: the same settings give the same tag, in this process and in any other (regression values)
    assert p.tag() == PIMConfig.for_scale("paper").tag() == "571e031911"
    assert PIMConfig.for_scale("small").tag() == "29a40eb833"
    # the notebook's steps parameter: 60 000 steps after a 100 000-step run name another checkpoint, whether the
    # schedules follow the steps (for_scale) or not (steps alone changed)
    assert PIMConfig.for_scale("paper", steps=60_000).tag() == "93c161317f"
    assert replace(p, steps=60_000).tag() == "27cb2b48a6"
    assert replace(p, init="pytorch").tag() == "1370d16ba4"
    changed = {"steps": 60_000, "init": "pytorch", "batch_size": 32, "learning_rate": 2e-3,
               "lr_boundaries": (40_000, 80_000), "lr_factors": (1.0, 0.5, 0.25), "beta_anneal_steps": 5_000,
               "crop": 4, "calib_images": 8,  # calib_images: the images held out from training
               "arch": replace(p.arch, z_dim=8), "frames": replace(p.frames, buffer_size=1_000)}
    tags = [replace(p, **{k: v}).tag() for k, v in changed.items()]
    assert len(set(tags)) == len(changed) and p.tag() not in tags
    assert replace(p, arch=replace(p.arch, num_filters=(64, 64, 3))).tag() != p.tag()
    assert replace(p, frames=replace(p.frames, patch=32)).tag() != p.tag()
    # logging, checkpointing and calibration settings leave it alone
    same = {"scale": "small", "calib_size": 168, "noise_levels": 20, "noise_range": (0.02, 0.5), "kld_samples": 4,
            "checkpoint_every": 1_000}
    assert set(same) == set(UNTAGGED_FIELDS) and set(UNTAGGED_FIELDS) <= {f.name for f in fields(PIMConfig)}
    for k, v in same.items():
        assert replace(p, **{k: v}).tag() == p.tag(), k


def test_train_pim_refuses_a_checkpoint_of_other_settings_or_more_steps(tmp_path):
    cfg = PIMConfig.for_scale("small", steps=4, batch_size=2, checkpoint_every=2,
                              arch=PIMArchitecture(num_filters=(4, 4, 3), nmix=1, z_dim=4),
                              frames=FramePairConfig(buffer_size=8))
    ckpt = tmp_path / "pim.pt"
    kw = dict(seed=0, checkpoint_path=ckpt, progress=False, device=torch.device("cpu"))
    train_pim(cfg, _source(), **kw)
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert state["step"] == 4 and state["extra_state"]["settings_tag"] == replace(cfg, steps=0).tag()
    with pytest.raises(ValueError, match="other PIM training settings"):
        train_pim(replace(cfg, init="keras"), _source(), **kw)
    with pytest.raises(ValueError, match="other PIM training settings"):
        train_pim(replace(cfg, lr_boundaries=(1, 2)), _source(), **kw)
    # fewer steps than the checkpoint holds: refused rather than returning a model trained longer
    with pytest.raises(ValueError, match="at step 4, past the 2 steps"):
        train_pim(replace(cfg, steps=2), _source(), **kw)
    # the same settings resume (here: nothing left to train), whatever checkpoint_every is
    _, hist = train_pim(replace(cfg, checkpoint_every=1), _source(), **kw)
    assert hist.steps("loss").tolist() == list(range(4))


def test_invalid_scale_names_valid_values():
    with pytest.raises(ParameterError, match="'small', 'paper'"):
        PIMConfig.for_scale("huge")


def test_keras_initialisation():
    import math

    from torch import nn

    from perceptual_compression.models.pim import PIM, keras_init_

    with pytest.raises(ParameterError, match="'pytorch', 'keras'"):
        PIMConfig.for_scale("small", init="glorot")
    torch.manual_seed(0)
    model = keras_init_(PIM(PIMArchitecture(num_filters=(64, 64, 3), nmix=2, z_dim=4)))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    covered = {id(p) for m in convs for p in m.parameters(recurse=False)}
    assert all(id(p) in covered for p in model.parameters())  # every parameter is a convolution's
    for m in convs:
        k = m.kernel_size[0] * m.kernel_size[1]
        bound = math.sqrt(6 / (k * (m.in_channels + m.out_channels)))  # Glorot: fans over the kernel window
        assert m.weight.abs().max() <= bound and torch.count_nonzero(m.bias) == 0
    big = [m for m in convs if m.kernel_size == (5, 5) and m.in_channels == m.out_channels == 64][0]
    # uniform on [-b, b]: standard deviation b / sqrt(3), here 0.025 (PyTorch's default would give 0.0144)
    assert big.weight.std().item() == pytest.approx(math.sqrt(6 / 3200) / math.sqrt(3), rel=0.02)
    # PyTorch's default biases are not zero (a check that tells the two initialisations apart on every layer)
    torch.manual_seed(0)
    assert all(torch.count_nonzero(m.bias) > 0 for m in PIM(PIMArchitecture(num_filters=(64, 64, 3), nmix=2, z_dim=4))
               .modules() if isinstance(m, nn.Conv2d))


def test_train_pim_initialises_as_its_config_says(monkeypatch):
    """train_pim re-initialises the model with keras_init_ when config.init is "keras" (the paper scale), and
    keeps PyTorch's default otherwise: the first step's model has zero biases only with "keras"."""
    import perceptual_compression.models.pim_training as T

    from torch import nn

    first = {}

    def spy_loss(model, x, y, beta, crop):
        first.setdefault("zero_biases", all(torch.count_nonzero(m.bias) == 0 for m in model.modules()
                                            if isinstance(m, nn.Conv2d)))
        return real_loss(model, x, y, beta, crop=crop)

    real_loss = T.ixyz_loss
    monkeypatch.setattr(T, "ixyz_loss", spy_loss)
    for init, zero in (("keras", True), ("pytorch", False)):
        first.clear()
        cfg = PIMConfig.for_scale("small", steps=1, batch_size=2, checkpoint_every=0, init=init,
                                  arch=PIMArchitecture(num_filters=(4, 4, 3), nmix=1, z_dim=4),
                                  frames=FramePairConfig(buffer_size=8))
        train_pim(cfg, _source(), seed=0, progress=False, device=torch.device("cpu"))
        assert first["zero_biases"] is zero


def _source():
    g = torch.Generator().manual_seed(0)
    base = torch.rand(2, 3, 12, 16, generator=g)
    imgs = torch.nn.functional.interpolate(base, size=(192, 256), mode="bilinear", align_corners=False)
    return TranslatedImageSegments(list(imgs), "test images")


def test_short_training_run_resumes_from_its_checkpoint(tmp_path):
    cfg = PIMConfig.for_scale("small", steps=6, batch_size=4, checkpoint_every=3,
                              arch=PIMArchitecture(num_filters=(4, 4, 3), nmix=1, z_dim=4),
                              frames=FramePairConfig(buffer_size=16))
    ckpt = tmp_path / "pim.pt"
    model, hist = train_pim(cfg, _source(), seed=0, checkpoint_path=ckpt, progress=False,
                            device=torch.device("cpu"))
    assert len(hist) == 6 and ckpt.is_file()
    assert hist.values("beta").tolist() == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0, 1.0, 1.0])
    for key in ("loss", "i_zxy", "i_xz_y", "i_yz_x", "ixyz"):
        assert torch.isfinite(torch.tensor(hist.values(key))).all()
    # a second run with more steps continues from step 6
    cfg8 = PIMConfig.for_scale("small", steps=8, batch_size=4, checkpoint_every=3, arch=cfg.arch, frames=cfg.frames,
                               lr_boundaries=cfg.lr_boundaries, beta_anneal_steps=cfg.beta_anneal_steps)
    resumed, hist2 = train_pim(cfg8, _source(), seed=0, checkpoint_path=ckpt, progress=False, device=torch.device("cpu"))
    assert hist2.steps("loss").tolist() == list(range(8))
    assert hist2.values("loss")[:6].tolist() == pytest.approx(hist.values("loss").tolist())
    # ... and ends where an uninterrupted run of 8 steps ends, bit for bit: the frame stream's shuffle buffer
    # is restored too, so the resumed steps see the same pairs
    one_go, hist8 = train_pim(cfg8, _source(), seed=0, checkpoint_path=tmp_path / "one_go.pt", progress=False,
                              device=torch.device("cpu"))
    assert hist8.values("loss").tolist() == hist2.values("loss").tolist()
    assert all(torch.equal(v, resumed.state_dict()[k]) for k, v in one_go.state_dict().items())
