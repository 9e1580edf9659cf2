"""The ResNet-18 predictor on reconstructions (Dubois et al. 2021, Fig. 6)."""

import math

import pytest
import torch
from torch import nn

from perceptual_compression.evaluation.recon_predictor import (ReconPredictorConfig, evaluate_recon_predictor,
                                                               recon_predictor_error, resnet18_classifier,
                                                               train_recon_predictor)


pytestmark = pytest.mark.usefixtures("one_thread_per_test")  # see conftest.py


def _halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: the left half of a 28×28 image is bright; class 1: the right half. Plus a little noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = 0.1 * torch.rand(n, 1, 28, 28, generator=g)
    x[y == 0, :, :, :14] += 0.8
    x[y == 1, :, :, 14:] += 0.8
    return x.clamp(0, 1), y


def test_resnet18_for_mnist_shapes():
    from torchvision.models import ResNet

    torch.manual_seed(0)
    model = resnet18_classifier(10, in_channels=1).eval()
    with torch.no_grad():
        out = model(torch.rand(5, 1, 28, 28))
    assert out.shape == (5, 10)
    net = model.net
    assert isinstance(net, ResNet)
    assert net.conv1.in_channels == 1 and net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, nn.Identity)
    # ResNet-18: 4 stages of 2 basic blocks; about 11.2 M parameters with the 1-channel 3x3 stem and 10 outputs
    assert [len(getattr(net, f"layer{i}")) for i in range(1, 5)] == [2, 2, 2, 2]
    n_params = sum(p.numel() for p in model.parameters())
    assert 11.0e6 < n_params < 11.3e6


def test_paper_config_is_the_authors():
    cfg = ReconPredictorConfig.for_scale("paper")
    # YannDubs/lossyless: augmnist_RD.sh (100 epochs, resnet18 predictor), main.yaml (AdamW 3e-4 / 1e-5,
    # unifmultistep100, gradient_clip_val 3), data/base.yaml (batch 128), data/mnist_aug.yaml (val_size 0.05)
    assert (cfg.arch, cfg.epochs, cfg.batch_size) == ("resnet18", 100, 128)
    assert (cfg.lr, cfg.weight_decay) == (3e-4, 1e-5)
    assert (cfg.lr_decay, cfg.lr_steps, cfg.grad_clip, cfg.val_fraction) == (100.0, 3, 3.0, 0.05)
    assert cfg.max_train is None and cfg.num_classes == 10
    # MultiStepLR with milestones at 25, 50, 75 epochs and gamma = 100 ** (-1/3)
    assert cfg.lr_factor(0) == 1.0 and cfg.lr_factor(24) == 1.0
    assert math.isclose(cfg.lr_factor(25), 100 ** (-1 / 3))
    assert math.isclose(cfg.lr_factor(50), 100 ** (-2 / 3))
    assert math.isclose(cfg.lr_factor(75), 0.01) and math.isclose(cfg.lr_factor(99), 0.01)
    small = ReconPredictorConfig.for_scale("small")
    assert small.epochs * small.max_train < cfg.epochs * 1000
    with pytest.raises(ValueError, match="'small', 'paper'"):
        ReconPredictorConfig.for_scale("huge")
    with pytest.raises(ValueError, match="'resnet18'"):
        cfg.with_(arch="vgg").build()


def test_training_on_a_separable_toy_set_reaches_zero_error():
    x_tr, y_tr = _halves(40, seed=1)
    x_te, y_te = _halves(32, seed=2)
    cfg = ReconPredictorConfig.for_scale("small").with_(epochs=3, batch_size=8, max_train=None, val_fraction=0.2,
                                                        num_classes=2)
    res = recon_predictor_error(x_tr, y_tr, x_te, y_te, cfg, seed=0, progress=False)
    assert res["error"] == 0.0
    assert res["log_loss_bits"] < 0.5          # chance is 1 bit
    assert 0 <= res["best_epoch"] < 3


def test_reconstruct_and_augment_are_applied_to_every_batch():
    """A ``reconstruct`` that swaps the two halves flips what the labels mean: a predictor trained through it
    and tested through it is right; tested on the raw images it is always wrong."""
    x_tr, y_tr = _halves(40, seed=3)
    x_te, y_te = _halves(32, seed=4)
    calls = {"aug": 0}

    def swap(x):
        return torch.flip(x, dims=[-1])

    def augment(x, g):
        calls["aug"] += 1
        return (x + 0.05 * torch.rand(x.shape, generator=g)).clamp(0, 1)

    cfg = ReconPredictorConfig.for_scale("small").with_(epochs=3, batch_size=8, max_train=None, val_fraction=0.2,
                                                        num_classes=2)
    pred = train_recon_predictor(x_tr, y_tr, cfg, reconstruct=swap, augment=augment, seed=0, progress=False)
    assert calls["aug"] == 3 * 4 + 1            # 4 batches of 8 per epoch (32 training images) + the validation set
    assert evaluate_recon_predictor(pred, x_te, y_te, reconstruct=swap)["error"] == 0.0
    assert evaluate_recon_predictor(pred, x_te, y_te)["error"] == 1.0
    # the kept weights are those of the epoch with the lowest validation loss; the training loss fell
    assert len(pred.val_losses) == 3 and pred.val_losses[pred.best_epoch] == min(pred.val_losses)
    losses = pred.history.values("loss")
    assert losses[-1] < losses[0]


def test_resume_from_the_final_checkpoint_returns_the_same_predictor(tmp_path):
    x_tr, y_tr = _halves(20, seed=5)
    cfg = ReconPredictorConfig.for_scale("small").with_(epochs=2, batch_size=8, max_train=None, val_fraction=0.2,
                                                        num_classes=2)
    ckpt = tmp_path / "predictor.pt"
    first = train_recon_predictor(x_tr, y_tr, cfg, seed=0, progress=False, checkpoint_path=ckpt)
    assert ckpt.is_file()
    again = train_recon_predictor(x_tr, y_tr, cfg, seed=0, progress=False, checkpoint_path=ckpt)  # nothing left to run
    assert again.best_epoch == first.best_epoch and again.val_losses == first.val_losses
    for (k, a), b in zip(first.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), k
