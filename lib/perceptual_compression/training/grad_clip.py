"""Gradient clipping for banks of independent models trained in one pass.

A bank stores its K models in K equal, contiguous blocks along the first dimension of every parameter. Clipping
the bank's concatenated gradient would scale every model by one factor that the largest gradient sets, coupling
models that should be independent; :func:`clip_grad_norm_per_block_` clips each model's own gradient, as
``torch.nn.utils.clip_grad_norm_`` would in a separate run of that model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


@torch.no_grad()
def clip_grad_norm_per_block_(grads: Sequence[torch.Tensor], blocks: int, max_norm: float) -> torch.Tensor:
    """Scale block ``k`` of every gradient in ``grads`` by ``min(1, max_norm / (norm_k + 1e-6))``, where ``norm_k``
    is the Euclidean norm of block ``k`` over all of them (torch's clip, per block). Each gradient's first
    dimension holds the ``blocks`` blocks, contiguously. Returns the norms before clipping, ``(blocks,)``."""
    norms = torch.stack([g.reshape(blocks, -1).double().pow(2).sum(1) for g in grads]).sum(0).sqrt().float()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.view(blocks, -1).mul_(scale[:, None].to(g.dtype))
    return norms
