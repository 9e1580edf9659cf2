"""Wasserstein GAN with gradient penalty, and the rate-fixed RDP objective of Blau & Michaeli (2019), eq. (10).

For a fixed rate (fixed ``dim`` and ``L``) the encoder ``f`` and decoder ``g`` minimise

.. math:: \\mathbb E[\\Delta(X, g(\\hat f(X)))] + \\lambda \\max_{h\\in\\mathcal F}
          \\big(\\mathbb E[h(X)] - \\mathbb E[h(g(\\hat f(X)))]\\big),

the inner maximum being the Kantorovich–Rubinstein form of the Wasserstein-1 distance
:math:`d_W(p_X, p_{\\hat X})` over 1-Lipschitz critics ``h``. As in Gulrajani et al. (2017) the Lipschitz
constraint is replaced by a gradient penalty :math:`\\gamma\\,\\mathbb E[(\\|\\nabla h(\\bar x)\\| - 1)^2]` on random
interpolates :math:`\\bar x`, and training alternates critic ascent and encoder/decoder descent. The paper
multiplies the distortion by :math:`10^{-3}` (squared error) and the deep-feature term by
:math:`5\\cdot10^{-5}` (supplement E); see :data:`DISTORTION_SCALE`.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DISTORTION_SCALE", "gradient_penalty", "critic_loss", "wasserstein_estimate", "rdp_generator_loss"]

#: Factors multiplying the distortion terms in eq. (10) (supplement E).
DISTORTION_SCALE = {"mse": 1e-3, "deep_feature": 5e-5}


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """:math:`\\mathbb E[(\\|\\nabla_{\\bar x} h(\\bar x)\\|_2 - 1)^2]` at :math:`\\bar x = \\epsilon x + (1-\\epsilon)\\hat x`,
    :math:`\\epsilon\\sim\\mathcal U[0,1]` per sample (differentiable w.r.t. the critic's parameters)."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator,
                     device=real.device, dtype=real.dtype)
    mix = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = critic(mix)
    (grad,) = torch.autograd.grad(out.sum(), mix, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def critic_loss(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, gp_weight: float = 10.0,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic's loss :math:`\\mathbb E[h(\\hat x)] - \\mathbb E[h(x)] + \\gamma\\,\\mathrm{GP}`, to minimise.

    Returns ``(loss, w)`` with ``w = E[h(x)] - E[h(x̂)]``, the batch's Wasserstein estimate (detached).
    """
    fake = fake.detach()
    w = critic(real).mean() - critic(fake).mean()
    loss = -w
    if gp_weight:
        loss = loss + gp_weight * gradient_penalty(critic, real, fake, generator)
    return loss, w.detach()


@torch.no_grad()
def wasserstein_estimate(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> float:
    """:math:`\\frac1{|R|}\\sum_R h(x) - \\frac1{|F|}\\sum_F h(\\hat x)` with the critic frozen (footnote 7 of the paper
    uses the first half of the test set as ``real`` and the reconstructions of the second half as ``fake``)."""
    return float(critic(real).mean() - critic(fake).mean())


def rdp_generator_loss(distortion: torch.Tensor, critic_fake: torch.Tensor, lam: float,
                       critic_real: torch.Tensor | None = None) -> torch.Tensor:
    """Encoder/decoder side of eq. (10): ``distortion + λ (E[h(x)] - E[h(x̂)])``.

    ``distortion`` must already carry its scale (:data:`DISTORTION_SCALE`). The ``E[h(x)]`` term has no gradient
    w.r.t. the encoder/decoder; it is added (detached) when given, so that the value is eq. (10) itself.
    """
    adv = -critic_fake.mean()
    if critic_real is not None:
        adv = adv + critic_real.detach().mean()
    return distortion + lam * adv
