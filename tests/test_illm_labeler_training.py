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
