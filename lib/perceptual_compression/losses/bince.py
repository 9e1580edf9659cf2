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

The authors' code (lossyless ``distortions.py``, ``ContrastiveDistortion``) computes a symmetric variant,
:func:`info_nce_symmetric`: both codes of a pair are anchors, each against the other ``2B - 1`` codes of the
batch (SimCLR's NT-Xent), the two losses averaged; and with ``effective_batch_size`` (their default: the size of
the training set) the positive's cosine is lowered by ``log((2E - 2) / (2B - 2))`` before the temperature, as if
the negatives were drawn from ``2E - 1`` candidates. ``bince_loss(symmetric=True, effective_batch_size=E)``
trains with it.
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


def info_nce_symmetric(cosines: torch.Tensor, inverse_temperature: torch.Tensor | float, *,
                       effective_batch_size: int | None = None) -> torch.Tensor:
    """The authors' symmetric InfoNCE in nats, shape ``(B,)``, from the ``(2B, 2B)`` cosines of ``[z; z+]``.

    Row ``i`` (a code ``z_i`` or ``z+_i``) scores the ``2B - 1`` other codes of the batch; its positive is the
    other code of its pair. With ``effective_batch_size`` ``E`` the positive's cosine is lowered by
    ``log((2E - 2) / (2B - 2))`` (as if each negative stood for ``(2E - 2) / (2B - 2)`` of them) before the
    scaling by ``inverse_temperature``. Returns the two anchors' cross-entropies averaged per pair.
    """
    n2 = cosines.shape[0]
    if cosines.dim() != 2 or cosines.shape[1] != n2 or n2 % 2 or n2 < 4:
        raise ValueError(f"cosines must be a (2B, 2B) matrix with B >= 2, got {tuple(cosines.shape)}")
    b = n2 // 2
    keep = ~torch.eye(n2, dtype=torch.bool, device=cosines.device)
    logits = cosines[keep].view(n2, n2 - 1)  # each row without itself
    arange = torch.arange(b, device=cosines.device)
    positive = torch.cat([arange + b - 1, arange])  # z_i's positive z+_i sits after the removed diagonal
    if effective_batch_size is not None:
        if effective_batch_size < b:
            raise ValueError(f"effective_batch_size ({effective_batch_size}) must be >= the batch ({b})")
        shift = -math.log((2 * effective_batch_size - 2) / (n2 - 2))
        logits = logits.scatter_add(1, positive[:, None], torch.full((n2, 1), shift, dtype=logits.dtype,
                                                                     device=logits.device))
    ce = F.cross_entropy(logits * inverse_temperature, positive, reduction="none")
    return (ce[:b] + ce[b:]) / 2


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
        return self.inverse_temperature() * self._unit(z_anchor) @ self._unit(z_candidates).T

    def cosines(self, z_anchor: torch.Tensor, z_candidates: torch.Tensor) -> torch.Tensor:
        """Cosine similarities of the projections, ``(B, B')``: the scores before the inverse temperature."""
        return self._unit(z_anchor) @ self._unit(z_candidates).T

    def _unit(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projection(z), dim=-1)


def bince_loss(rate_bits: torch.Tensor, z_hat: torch.Tensor, z_hat_positive: torch.Tensor, critic: Critic,
               beta: float, *, symmetric: bool = False,
               effective_batch_size: int | None = None) -> dict[str, torch.Tensor]:
    """Eq. 9 on a minibatch: ``mean(rate + beta * InfoNCE / ln 2)``; returns ``loss``, ``rate``, ``distortion`` (bits).

    ``symmetric=True`` uses the authors' :func:`info_nce_symmetric` (with ``effective_batch_size``) for the
    InfoNCE term; the default is eq. 9's one-directional form with the batch's ``B - 1`` negatives."""
    if beta < 0:
        raise ValueError("beta must be >= 0")
    if symmetric:
        zs = torch.cat([z_hat, z_hat_positive])
        nce = info_nce_symmetric(critic.cosines(zs, zs), critic.inverse_temperature(),
                                 effective_batch_size=effective_batch_size)
    elif effective_batch_size is not None:
        raise ValueError("effective_batch_size is the authors' correction of the symmetric form: pass symmetric=True")
    else:
        nce = info_nce(critic(z_hat, z_hat_positive))
    nce_bits = nce / _LOG2
    return {"loss": (rate_bits + beta * nce_bits).mean(), "rate": rate_bits.mean(), "distortion": nce_bits.mean()}
