"""Figs. 11-13: the quantization cells and code vectors of a 2D autoencoder, and its rate and distortion per
point."""

from __future__ import annotations

import numpy as np
import torch

from ...models.mlp_autoencoder import MLPAutoencoder


@torch.no_grad()
def quantization_cells(model: MLPAutoencoder, *, extent: tuple[float, float, float, float], resolution: int = 300):
    """The partition of the plane induced by ``Q(e(x))`` and the code vectors ``d(Q(e(x)))`` (Figs. 11-13).

    Returns ``(xs, ys, labels, codes)``: a grid, an integer cell label per grid point (one per distinct
    quantized latent) and the code vectors (reconstructions) of the cells present on the grid.
    """
    x0, x1, y0, y1 = extent
    xs = torch.linspace(x0, x1, resolution)
    ys = torch.linspace(y0, y1, resolution)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], -1)
    dev = next(model.parameters()).device
    yq = model.quantize(model.encode(pts.to(dev)))[0]
    uniq, labels = torch.unique(yq, dim=0, return_inverse=True)
    codes = model.decode(uniq.unsqueeze(0))[0].cpu()
    return xs.numpy(), ys.numpy(), labels.reshape(resolution, resolution).cpu().numpy(), codes.numpy()


@torch.no_grad()
def pointwise_rate_distortion(model: MLPAutoencoder, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per point: squared error of the coded reconstruction and its rate ``-log2 p(y_hat)`` in bits."""
    dev = next(model.parameters()).device
    out = model(x.to(dev), training=False)
    sse = ((out["x_hat"][0].cpu() - x) ** 2).sum(-1)
    return sse.numpy(), out["bits"][0].cpu().numpy()
