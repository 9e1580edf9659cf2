"""Distances induced by an autoencoder ``f = d o e`` (Hepburn et al., ICLR 2022, Sec. 3, Fig. 1).

For a point ``x1`` and a nearby ``x2``:

- self-reconstruction distance ``D_s = ||x1 - f(x1)||_2`` (Observation 2: anti-correlated with ``p(x1)``);
- reconstruction distance ``D_r = ||f(x1) - f(x2)||_2`` (Observation 3: ``D_r / RMSE`` correlates with ``p(x1)``);
- inner distance ``D_in = ||e(x1) - e(x2)||_2`` (Observation 4: ``D_in / RMSE`` correlates with ``p(x1)``);

with ``RMSE = ||x1 - x2||_2 / sqrt(m)``, ``m`` the dimension. The ratios are sensitivities: for small
``||x1 - x2||`` they approach the directional derivative of the induced distance.

In a compressive autoencoder ``f`` may include the quantizer or not, and the inner representation may be
taken before or after it (the paper notes both are candidates). :func:`induced_distances` takes the
encoder, the decoder and an optional quantizer as callables, so each experiment states its choice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .correlation import spearman

Tensor = torch.Tensor


def _norm(v: Tensor) -> Tensor:
    """Euclidean norm over every dimension but the first (the batch)."""
    return v.reshape(v.shape[0], -1).norm(dim=1)


def rmse(x1: Tensor, x2: Tensor) -> Tensor:
    """``||x1 - x2||_2 / sqrt(m)`` per batch element."""
    m = x1[0].numel()
    return _norm(x1 - x2) / math.sqrt(m)


@dataclass
class InducedDistances:
    """Per-pair distances (NumPy arrays of length B)."""

    d_self: np.ndarray
    d_rec: np.ndarray
    d_inner: np.ndarray
    rmse: np.ndarray

    def sensitivities(self) -> dict[str, np.ndarray]:
        """``D_s``, ``D_r / RMSE`` and ``D_in / RMSE`` (the quantities of Observations 2-4)."""
        return {"D_s": self.d_self, "D_r/RMSE": self.d_rec / self.rmse, "D_in/RMSE": self.d_inner / self.rmse}

    def spearman_with(self, values) -> dict[str, float]:
        """Spearman correlation of each sensitivity with ``values`` (e.g. ``p(x1)``, or a human score)."""
        return {k: spearman(v, values) for k, v in self.sensitivities().items()}


@torch.no_grad()
def induced_distances(
    x1: Tensor,
    x2: Tensor,
    encode: Callable[[Tensor], Tensor],
    decode: Callable[[Tensor], Tensor],
    *,
    quantize: Callable[[Tensor], Tensor] | None = None,
    self_quantized: bool = True,
    rec_quantized: bool = False,
    inner_quantized: bool = False,
) -> InducedDistances:
    """``D_s``, ``D_r``, ``D_in`` and RMSE for the pairs ``(x1[i], x2[i])``.

    ``encode``/``decode`` map a batch to a batch. ``quantize`` (if given) maps latents to their quantized
    values; ``*_quantized`` choose, per distance, whether ``f = d o Q o e`` (and ``y = Q(e(x))``) or the
    continuous ``f = d o e`` (and ``y = e(x)``) is used. Without ``quantize`` every distance is continuous.
    """
    if x1.shape != x2.shape:
        raise ValueError(f"x1 and x2 must have the same shape, got {tuple(x1.shape)} and {tuple(x2.shape)}")
    q = quantize if quantize is not None else (lambda y: y)
    y1, y2 = encode(x1), encode(x2)
    y1q, y2q = q(y1), q(y2)

    def f(y, yq, quantized):
        return decode(yq if quantized and quantize is not None else y)

    d_self = _norm(x1 - f(y1, y1q, self_quantized))
    d_rec = _norm(f(y1, y1q, rec_quantized) - f(y2, y2q, rec_quantized))
    if inner_quantized and quantize is not None:
        d_inner = _norm(y1q - y2q)
    else:
        d_inner = _norm(y1 - y2)
    return InducedDistances(d_self.cpu().double().numpy(), d_rec.cpu().double().numpy(),
                            d_inner.cpu().double().numpy(), rmse(x1, x2).cpu().double().numpy())


def perturb(x: Tensor, delta: float, *, generator: torch.Generator | None = None) -> Tensor:
    """``x + delta u`` with ``u`` uniform on the unit sphere of each sample (a fixed-size small displacement)."""
    if not delta > 0:
        raise ValueError("delta must be > 0")
    u = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    u = u / _norm(u).reshape(-1, *([1] * (x.dim() - 1)))
    return x + delta * u
