"""The labeler training recipe (MS-ILLM A.2, eq. 10) and its command."""

from __future__ import annotations

import pytest
import torch

from perceptual_compression.models.vqvae_labeler import LabelerConfig
from perceptual_compression.training.labeler import (LabelerDistortion, LabelerTrainingConfig, labeler_loss,
                                                     load_labeler, main)


def test_labeler_recipe_values():
    p = LabelerTrainingConfig.for_scale("paper")
    assert (p.lambda_mse, p.perceptual, p.lr, p.weight_decay, p.warmup_steps, p.steps, p.crop_size) == \
        (1.0, "lpips-vgg", 3e-4, 5e-5, 10_000, 1_000_000, 256)
    assert p.labeler == LabelerConfig.paper()
    assert LabelerTrainingConfig.for_scale("paper", spatial=16, codebook_size=256).labeler.label_shape(256, 256) == (16, 16)
    assert p.lr_factor(5_000) == pytest.approx(0.5) and p.lr_factor(10_000) == pytest.approx(1.0)


def test_eq10_loss_terms():
    x = torch.rand(2, 3, 8, 8)
    out = {"x_hat": x + 0.1, "embedding_loss": torch.tensor(0.3), "commitment_loss": torch.tensor(0.3)}
    terms = labeler_loss(out, x, LabelerDistortion(1.0, perceptual="none"), beta=0.25)
    assert terms["distortion"].item() == pytest.approx(0.01, rel=1e-4)
    assert terms["loss"].item() == pytest.approx(0.01 + 0.3 + 0.25 * 0.3, rel=1e-4)


def test_labeler_command_trains_saves_and_loads(tmp_path):
    out = main(["--scale", "small", "--steps", "3", "--batch-size", "1", "--codebook", "16", "--out",
                str(tmp_path / "lab.pt")])
    lab = load_labeler(out)
    assert lab.frozen and lab.num_labels == 16 and lab.config == LabelerConfig.small(codebook_size=16)
    labels = lab.labels(torch.rand(1, 3, 64, 64))
    assert labels.shape == (1, 8, 8) and int(labels.max()) < 16

    # a labeler saved before `downsample_padding` existed was padded symmetrically, and loads so
    blob = torch.load(out, weights_only=True)
    del blob["config"]["downsample_padding"]
    torch.save(blob, tmp_path / "old.pt")
    assert load_labeler(tmp_path / "old.pt").config.downsample_padding == "symmetric"


def _two_images():
    """Two small smooth images with a little noise (the labeler sees 64² random / random-resized crops of them)."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 96), torch.linspace(0, 1, 96), indexing="ij")
    imgs = [torch.stack([yy, xx, yy * xx]), torch.stack([1 - xx, torch.full_like(yy, 0.3), (xx - yy).abs()])]
    return [(im + 0.05 * torch.randn(im.shape, generator=g)).clamp(0, 1) for im in imgs]


def _train(steps, seed=0):
    from perceptual_compression.training.labeler import train_labeler

    cfg = LabelerTrainingConfig.for_scale("small", codebook_size=16, steps=steps, batch_size=2, perceptual="none")
    return train_labeler(_two_images(), cfg, seed=seed, distortion=LabelerDistortion(1.0, perceptual="none"),
                         device="cpu", progress=False)


@pytest.mark.usefixtures("one_thread_per_test")  # see conftest.py
def test_train_labeler_logs_eq10_learns_and_returns_a_frozen_nearest_code_labeler():
    import copy
    import math

    import numpy as np
    import torch.nn.functional as F

    res = _train(12)
    h, cfg = res.history, res.config
    assert len(h) == 12 and list(h.steps("loss")) == list(range(12))
    loss, dist = h.values("loss"), h.values("distortion")
    # every logged step is eq. 10 with beta = 0.25 and rho = 1.0 * MSE (no LPIPS): loss = mse + emb + 0.25 commit,
    # and the logged PSNR is that same MSE in dB; the logged learning rate follows the ramp + quarter cosine
    np.testing.assert_allclose(loss, dist + h.values("embedding") + 0.25 * h.values("commitment"), rtol=1e-5)
    np.testing.assert_allclose(h.values("psnr"), -10 * np.log10(dist), rtol=1e-4)
    np.testing.assert_allclose(h.values("lr"), [3e-4 * cfg.lr_factor(s) for s in range(12)], rtol=1e-9)
    assert h.values("lr")[5] == pytest.approx(1.5e-4) and h.values("lr")[10] == pytest.approx(3e-4)
    # it learns: the last steps reconstruct much better than the first (0.097 -> 0.052 when written)
    assert loss[-4:].mean() < 0.7 * loss[:4].mean(), loss
    # deterministic under the seed: a 3-step run (same ramp, hence same updates) logs the same first losses;
    # another seed draws other patches and another initialisation
    np.testing.assert_array_equal(_train(3).history.values("loss"), loss[:3])
    assert _train(1, seed=1).history.values("loss")[0] != loss[0]

    lab = res.labeler
    assert lab.frozen and not lab.training and all(not p.requires_grad for p in lab.parameters())
    lab.train()
    assert not lab.training  # stays in eval mode: no codebook restarts when used as a fixed function
    x = _two_images()[0][None, :, :64, :64]
    labels = lab.labels(x)
    assert labels.shape == (1, 8, 8) and not labels.requires_grad
    # the labels are the nearest codebook entries (eq. 8) of the normalised encoder vectors, recomputed here
    # with explicit squared distances instead of the labeler's inner products
    with torch.no_grad():
        e = F.normalize(lab.quantizer.project_in(lab.encoder(2 * x - 1)), dim=1)
        codes = F.normalize(lab.quantizer.codebook, dim=1)
        vecs = e.permute(0, 2, 3, 1).reshape(-1, 8)
        d2 = (vecs[:, None, :] - codes[None]).pow(2).sum(-1)
        assert torch.equal(labels.reshape(-1), d2.argmin(1))
        assert torch.equal(lab(x)["indices"], labels)  # the indices its decoder was trained on
    # a case by hand: with the codebook {+e_0..+e_7, -e_0..-e_7}, the nearest code of a unit vector v is
    # +e_c or -e_c for c = argmax |v_c|, i.e. label c if v_c > 0 else 8 + c
    hand = copy.deepcopy(lab)
    hand.quantizer.codebook.data = torch.cat([torch.eye(8), -torch.eye(8)])
    c = vecs.abs().argmax(1)
    expected = torch.where(vecs.gather(1, c[:, None])[:, 0] > 0, c, c + 8)
    assert torch.equal(hand.labels(x).reshape(-1), expected)
    assert math.isclose(float(vecs.norm(dim=1).min()), 1.0, rel_tol=1e-5)


def test_labeler_config_tag_is_stable_and_holds_every_setting_that_changes_the_labeler():
    small, paper = LabelerTrainingConfig.for_scale("small"), LabelerTrainingConfig.for_scale("paper")
    assert (small.tag(), paper.tag()) == ("8bb1e42d91", "bf22b6e2de")  # regression values
    assert paper.tag("1·MSE + LPIPS-VGG") == "71cdb9ffa0"
    fallback = LabelerDistortion(1.0, perceptual="none").label
    assert len({small.tag(), small.tag("1·MSE + LPIPS-VGG"), small.tag(fallback)}) == 3
    changed = [LabelerTrainingConfig.for_scale("small", steps=1500), LabelerTrainingConfig.for_scale("small", lr=1e-3),
               LabelerTrainingConfig.for_scale("small", spatial=16), LabelerTrainingConfig.for_scale("small", codebook_size=256),
               LabelerTrainingConfig.for_scale("small", batch_size=8), LabelerTrainingConfig.for_scale("small", warmup_steps=20)]
    tags = {c.tag() for c in changed}
    assert len(tags) == len(changed) and small.tag() not in tags
    same = [LabelerTrainingConfig.for_scale("small", checkpoint_every=7),
            LabelerTrainingConfig.for_scale("small", data_workers=2)]
    assert {c.tag() for c in same} == {small.tag()}
