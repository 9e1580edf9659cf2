"""Bottleneck InfoNCE (BINCE, Dubois et al. 2021, eq. 9 and Algorithm 1).

For an anchor ``z`` (the code of ``A(x)``), a positive ``z+`` (the code of an independent ``A(x)``) and
``n`` negatives ``z_i-`` (codes of augmentations of other examples), with a learned critic ``f_psi``:

.. math::

    \\mathcal{L}_{\\mathrm{BINCE}} = \\E\\Bigl[-\\log_2 q_\\theta(Z)
        - \\beta \\log_2 \\frac{\\exp f_\\psi(Z^+, Z)}{\\sum_{Z' \\in \\mathbf{Z}} \\exp f_\\psi(Z', Z)}\\Bigr],
    \\qquad \\mathbf{Z} = (Z^+, Z^-_1, \\dots, Z^-_n).

In a minibatch of ``B`` positive pairs ``(z_i, z+_i)``, the positives of the other examples serve as the
negatives of example ``i`` (``n = B - 1``): :func:`info_nce` is a cross-entropy over the rows of the score
matrix ``S[i, j] = f_psi(z+_j, z_i)`` with target ``j = i``.

The critic follows the authors' code: a projection MLP (output ``max(10, C // 2)``), cosine similarity,
and a learned inverse temperature initialised like CLIP's (``1 / 0.07``) and capped at ``1 / 0.01``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_LOG2 = math.log(2.0)


def info_nce(scores: torch.Tensor) -> torch.Tensor:
    """Per-anchor InfoNCE loss in nats, shape ``(B,)``: ``-log softmax(scores[i])[i]``.

    ``scores[i, j] = f(z'_j, z_i)``: row ``i`` scores every candidate for anchor ``i``; the diagonal holds
    the positives. Equals ``log(n + 1) - I_NCE`` per anchor; its minimum over critics is >= 0.
    """
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be a square (B, B) matrix, got {tuple(scores.shape)}")
    target = torch.arange(scores.shape[0], device=scores.device)
    return F.cross_entropy(scores, target, reduction="none")


def info_nce_mutual_information_bound(loss_nats: torch.Tensor, num_candidates: int) -> torch.Tensor:
    """The InfoNCE lower bound on ``I[Z; Z+]`` in bits: ``(log(n + 1) - loss) / ln 2``."""
    return (math.log(num_candidates) - loss_nats.mean()) / _LOG2


class Critic(nn.Module):
    """``f_psi(z', z)`` = (learned inverse temperature) × cosine(g(z'), g(z)) with a projection MLP ``g``."""

    def __init__(self, dim: int, *, out_dim: int | None = None, hidden: int | None = None,
                 init_temperature: float = 0.07, min_temperature: float = 0.01) -> None:
        super().__init__()
        out_dim = out_dim if out_dim is not None else max(10, dim // 2)
        hidden = hidden if hidden is not None else max(2 * dim, 64)
        self.projection = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        self.log_inverse_temperature = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))
        self.max_inverse_temperature = 1.0 / min_temperature

    def inverse_temperature(self) -> torch.Tensor:
        return self.log_inverse_temperature.exp().clamp(max=self.max_inverse_temperature)

    def forward(self, z_anchor: torch.Tensor, z_candidates: torch.Tensor) -> torch.Tensor:
        """Score matrix ``S[i, j] = f(z_candidates[j], z_anchor[i])``, shape ``(B, B')``."""
        a = F.normalize(self.projection(z_anchor), dim=-1)
        c = F.normalize(self.projection(z_candidates), dim=-1)
        return self.inverse_temperature() * a @ c.T


def bince_loss(rate_bits: torch.Tensor, z_hat: torch.Tensor, z_hat_positive: torch.Tensor, critic: Critic,
               beta: float) -> dict[str, torch.Tensor]:
    """Eq. 9 on a minibatch: ``mean(rate + beta * InfoNCE / ln 2)``; returns ``loss``, ``rate``, ``distortion`` (bits)."""
    if beta < 0:
        raise ValueError("beta must be >= 0")
    nce_bits = info_nce(critic(z_hat, z_hat_positive)) / _LOG2
    return {"loss": (rate_bits + beta * nce_bits).mean(), "rate": rate_bits.mean(), "distortion": nce_bits.mean()}
