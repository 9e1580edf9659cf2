r"""The IXYZ objective that trains PIM (Bhardwaj et al. 2020, appendix A.2, eq. 4; Fischer 2019).

For a pair of neighbouring video frames :math:`(x, y)` and :math:`z \sim p(z\mid x, y)` from the full
encoder, PIM maximises the Lagrangian

.. math::

   (1-\beta)\, I(Z; X, Y) - \beta\,\bigl(I(X; Z\mid Y) + I(Y; Z\mid X)\bigr)
   \;\ge\; \mathbb{E}\, \log \frac{q^{\beta}(z\mid x)\, q^{\beta}(z\mid y)}
                                {\hat p(z)\, p^{2\beta-1}(z\mid x, y)} ,

which is :math:`I(Z; X, Y)` at :math:`\beta = 0` and a lower bound on the multivariate mutual
information :math:`I(X; Y; Z)` at :math:`\beta = 1`. (The left-hand side is the paper's as printed. The
right-hand side, which this module computes, bounds :math:`I(Z; X, Y) - \beta(\dots)` without the factor
:math:`1-\beta`; with that factor :math:`\beta = 1` would not give :math:`I(X; Y; Z)`, as the paper says it does.)
The integrand splits into

.. math::

   \underbrace{\log \frac{p(z\mid x,y)}{\hat p(z)}}_{\text{bound on } I(Z;X,Y)}
   \;-\; \beta \Bigl[\underbrace{\log \frac{p(z\mid x,y)}{q(z\mid y)}}_{\text{bound on } I(X;Z\mid Y)}
   + \underbrace{\log \frac{p(z\mid x,y)}{q(z\mid x)}}_{\text{bound on } I(Y;Z\mid X)}\Bigr],

and :func:`ixyz_objective` reports these parts beside the objective.

:math:`\hat p(z)` is the *minibatch marginal*: the mixture of the full encoder's distributions over
the batch, evaluated independently at every position and subband,
:math:`\hat p(z_i) = \frac1B \sum_{j=1}^{B} p(z_i \mid x_j, y_j)`, which makes the first part a
contrastive (InfoNCE-type) bound, at most :math:`\log B` per position. Evaluating it costs
:math:`O(MNB^2)` for :math:`M\times N` positions, which is why training uses 8×8 centre crops of all
tensors (A.2; :meth:`perceptual_compression.models.pim.PIM.ixyz_terms`).

Log-densities are averaged over positions and subbands (the reference code's convention), so every
reported value is in nats per position and subband. β is annealed from 0 to 1 over the first 10 000
steps (:func:`beta_schedule`) to avoid trivial solutions where :math:`Z` ignores :math:`X` and :math:`Y`.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch

__all__ = ["beta_schedule", "log_minibatch_marginal", "ixyz_objective", "ixyz_loss"]

_LOG_2PI = math.log(2.0 * math.pi)


def beta_schedule(step: int, anneal_steps: int) -> float:
    """β for a training step: a linear ramp from 0 (step 0) to 1 (``step >= anneal_steps``)."""
    if anneal_steps < 0:
        raise ValueError("anneal_steps must be >= 0")
    if anneal_steps == 0:
        return 1.0
    return float(min(1.0, max(0.0, step / anneal_steps)))


def log_minibatch_marginal(z: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    r"""log p̂(z_i) with p̂ the mixture of unit-variance Gaussians N(μ_j, I) over the batch, per position.

    ``z``: (N, D, ...) points (in training N = B, the samples of the batch); ``means``: (B, D, ...) with
    the same trailing (spatial) shape. Returns (N, ...):
    :math:`\log \frac1B \sum_j \mathcal N(z_i; \mu_j, I)` evaluated independently at every position.
    Memory is O(N · B · D · positions).
    """
    if z.shape[1:] != means.shape[1:]:
        raise ValueError(f"z and means must agree beyond the first dimension, got {tuple(z.shape)} and {tuple(means.shape)}")
    b, d = means.shape[:2]
    sq = (z.unsqueeze(1) - means.unsqueeze(0)).pow(2).sum(2)   # (N, B, ...), direct differences (exact)
    log_n = -0.5 * sq - 0.5 * d * _LOG_2PI
    return torch.logsumexp(log_n, dim=1) - math.log(b)


def _avg(maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """Average (B, h, w) maps over positions, then over subbands, then over the batch: a scalar."""
    return torch.stack([m.flatten(1).mean(1) for m in maps]).mean(0).mean()


def ixyz_objective(terms: Mapping[str, Sequence[torch.Tensor]], beta: float) -> dict[str, torch.Tensor]:
    """Eq. 4 from per-subband log-density maps (as returned by ``PIM.ixyz_terms``).

    ``terms`` holds lists (one entry per subband) of ``log_q_x``, ``log_q_y``, ``log_p_joint`` (B, h, w)
    and either ``log_marginal`` (B, h, w) or ``z`` and ``joint_means`` (B, D, h, w) from which the
    minibatch marginal is computed. Returns scalars: ``objective`` (to maximise, differentiable),
    ``i_zxy`` (bound on I(Z;X,Y)), ``i_xz_y`` and ``i_yz_x`` (bounds on I(X;Z|Y), I(Y;Z|X)),
    ``ixyz`` (the β = 1 value, a bound on I(X;Y;Z)), all in nats per position and subband.
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta={beta} must be in [0, 1]")
    if "log_marginal" in terms:
        log_m = list(terms["log_marginal"])
    else:
        log_m = [log_minibatch_marginal(z, mu) for z, mu in zip(terms["z"], terms["joint_means"])]
    lqx, lqy, lp = terms["log_q_x"], terms["log_q_y"], terms["log_p_joint"]
    i_zxy = _avg([p - m for p, m in zip(lp, log_m)])
    i_xz_y = _avg([p - q for p, q in zip(lp, lqy)])
    i_yz_x = _avg([p - q for p, q in zip(lp, lqx)])
    objective = _avg([beta * a + beta * b - m - (2.0 * beta - 1.0) * p
                      for a, b, m, p in zip(lqx, lqy, log_m, lp)])
    return {
        "objective": objective,
        "i_zxy": i_zxy.detach(),
        "i_xz_y": i_xz_y.detach(),
        "i_yz_x": i_yz_x.detach(),
        "ixyz": (i_zxy - i_xz_y - i_yz_x).detach(),
    }


def ixyz_loss(model, x: torch.Tensor, y: torch.Tensor, beta: float, *, crop: int | None = 8,
              generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """``{"loss": -objective, ...}`` for a :class:`~perceptual_compression.models.pim.PIM` on frame pairs."""
    out = ixyz_objective(model.ixyz_terms(x, y, crop=crop, generator=generator), beta)
    out["loss"] = -out["objective"]
    return out
