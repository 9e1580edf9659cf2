"""Chapter 2, Observation 1 (Hepburn et al., ICLR 2022, Sec. 2, appendix A.2-A.3, Figs. 6-8).

A tractable density model (:class:`~perceptual_compression.models.pixelcnn.PixelCNN`) is trained on
grayscale natural-image patches; ``log p(x)`` of held-out patches is then rank-correlated with the
sensitivity ``D_p(x, x + dx) / RMSE`` of NLPD and of MS-SSIM under Gaussian noise ``dx`` of growing
``sigma`` (:func:`perceptual_compression.analysis.perceptual_sensitivity.observation1`).
The paper used a pretrained PixelCNN++ on CIFAR-10 (32x32 RGB); what differs here is listed in
:mod:`perceptual_compression.models.pixelcnn`.
"""

from __future__ import annotations

import torch

from ..models.pixelcnn import PixelCNN
from ..training import Trainer, default_device, seed_everything


def to_gray(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of ``(B, 3, H, W)`` images in ``[0, 1]`` -> ``(B, 1, H, W)``."""
    w = x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def train_pixelcnn(cfg, patches, *, seed: int = 0, device=None, progress: bool | None = None,
                   checkpoint_path=None) -> PixelCNN:
    """Maximum likelihood on grayscale patches (``patches.batch`` gives RGB batches), Adam at ``cfg.lr``."""
    device = device or default_device()
    seed_everything(seed)
    model = PixelCNN(cfg.channels, cfg.layers, cfg.mixtures).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def step_fn(step: int):
        x = to_gray(patches.batch(cfg.batch_size)).to(device)
        bpd = model.bits_per_dim(x).mean()
        opt.zero_grad(set_to_none=True)
        bpd.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return {"loss": bpd}

    trainer = Trainer(modules={"model": model}, optimizers={"opt": opt}, checkpoint_path=checkpoint_path,
                      progress=progress, desc="PixelCNN", log_every=cfg.log_every, streams={"patches": patches})
    model.history = trainer.run(step_fn, cfg.steps)
    model.eval()
    return model


@torch.no_grad()
def log_prob_batched(model: PixelCNN, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """``log p(x)`` (nats per image) for grayscale images, in batches."""
    dev = next(model.parameters()).device
    return torch.cat([model.log_prob(x[i:i + batch_size].to(dev)).cpu() for i in range(0, len(x), batch_size)])
