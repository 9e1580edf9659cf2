"""An entropy bottleneck over precomputed features (Dubois et al. 2021, Sec. 5.3, Tables 2–3).

The paper turns a pretrained self-supervised encoder (CLIP) into a compressor in two steps: freeze the
encoder, then train an entropy model on its features, trading rate against the distortion
``||f - f_hat||_1`` between the features and their quantized reconstruction (the authors' "lossy Z"
distortion; their hub compressor adds a learned per-dimension precision, i.e. an affine map before
rounding). This module does that for *any* features ``f`` of shape ``(N, D)``:

.. math::

    \\mathcal{L} = \\E\\bigl[-\\log_2 q_\\theta(\\hat z) + \\beta\\,\\|f - \\hat f\\|_p\\bigr],
    \\qquad z = (f + b) \\odot e^{s}, \\quad \\hat f = \\hat z \\odot e^{-s} - b,

with a factorized prior (CompressAI EntropyBottleneck) or a mean-scale hyperprior. Rates are reported
both as estimated bits and as the size of the entropy-coded batch (one rANS stream through
:class:`perceptual_compression.coding.EntropyBottleneckCodec`), per image. Downstream predictions are
made from ``f_hat`` with the probes of :mod:`perceptual_compression.evaluation.downstream`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..models.vector_prior import VectorPrior, make_prior


class FeatureCompressor(nn.Module):
    """Learned per-dimension precision + entropy model over ``dim``-dimensional features."""

    def __init__(self, dim: int, *, prior: str = "factorized") -> None:
        super().__init__()
        self.dim = int(dim)
        self.log_precision = nn.Parameter(torch.zeros(self.dim))
        self.shift = nn.Parameter(torch.zeros(self.dim))
        self.prior: VectorPrior = make_prior(prior, self.dim)

    def to_latent(self, f: torch.Tensor) -> torch.Tensor:
        return (f + self.shift) * self.log_precision.exp()

    def from_latent(self, z_hat: torch.Tensor) -> torch.Tensor:
        return z_hat * torch.exp(-self.log_precision) - self.shift

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f_hat, bits per example)``; noisy while training, quantized in eval mode."""
        z_hat, bits = self.prior(self.to_latent(f))
        return self.from_latent(z_hat), bits

    @torch.no_grad()
    def reconstruct(self, f: torch.Tensor, batch_size: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
        """Eval mode: quantized reconstructions ``f_hat`` and estimated bits of every example."""
        was = self.training
        self.eval()
        try:
            outs = [self(f[i:i + batch_size]) for i in range(0, len(f), batch_size)]
            return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])
        finally:
            self.train(was)

    # ------------------------------------------------------------------ real bitstreams
    @torch.no_grad()
    def compress(self, f: torch.Tensor) -> bytes:
        """All ``N`` feature vectors as one bitstream (container header + rANS stream(s))."""
        return self.prior.compress(self.to_latent(f.float()))

    @torch.no_grad()
    def decompress(self, data: bytes) -> torch.Tensor:
        """The reconstructions ``f_hat`` (equal to :meth:`reconstruct`'s)."""
        return self.from_latent(self.prior.decompress(data))


@dataclass
class FeatureRate:
    """Rates of a batch of features, per image."""

    estimated_bits: float   # -log2 q(z_hat), averaged over the batch
    coded_bits: float       # 8 * len(bitstream) / N, header included
    num_images: int

    @property
    def overhead(self) -> float:
        """Relative excess of the coded size over the estimate."""
        return self.coded_bits / self.estimated_bits - 1.0


def fit_feature_compressor(features: torch.Tensor, *, beta: float, steps: int = 2000, batch_size: int = 256,
                           lr: float = 1e-3, p: int = 1, prior: str = "factorized", seed: int = 0,
                           checkpoint_path: str | Path | None = None, progress: bool | None = None) -> FeatureCompressor:
    """Train a :class:`FeatureCompressor` on ``features`` (``(N, D)``) with ``bits + beta * ||f - f_hat||_p``."""
    from ..models.invariant_compressor import adam
    from ..training import Trainer, default_device

    if beta < 0:
        raise ValueError("beta must be >= 0")
    device = default_device()
    f = features.detach().float()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = FeatureCompressor(f.shape[1], prior=prior).to(device)
    main = adam([q for n, q in model.named_parameters() if not n.endswith("quantiles")], lr)
    g = torch.Generator().manual_seed(seed)

    def step_fn(step: int) -> dict[str, torch.Tensor]:
        batch = f[torch.randint(len(f), (min(batch_size, len(f)),), generator=g)].to(device)
        f_hat, bits = model(batch)
        dist = (f_hat - batch).abs().pow(p).sum(1)
        loss = (bits + beta * dist).mean()
        main.zero_grad(set_to_none=True)
        loss.backward()
        main.step()
        return {"loss": loss.detach(), "rate": bits.mean().detach(), "distortion": dist.mean().detach()}

    Trainer(modules={"model": model}, optimizers={"main": main}, checkpoint_path=checkpoint_path,
            checkpoint_every=max(1, steps // 4) if checkpoint_path else 0, seed=seed, progress=progress,
            desc=f"feature compressor beta={beta:g}", log_every=10, loss_keys=("loss",),
            streams={"batches": g}).run(step_fn, steps)
    model.prior.update(force=True)
    return model.eval()


@torch.no_grad()
def feature_rate(model: FeatureCompressor, features: torch.Tensor) -> FeatureRate:
    """Estimated and entropy-coded bits per image for a batch of features (the batch is one bitstream)."""
    f = features.float()
    _, bits = model.reconstruct(f)
    data = model.compress(f)
    n = len(f)
    return FeatureRate(float(bits.sum()) / n, 8.0 * len(data) / n, n)
