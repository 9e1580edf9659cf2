"""The variational invariant compressor (VIC, Dubois et al. 2021, eq. 8) and the standard compressor (VC).

Both encode an augmented input ``A(x)`` to ``Z``, pay its rate under the entropy model ``q_theta``, and
decode with ``q_phi(. | Z)``; they differ only in what the decoder must reconstruct:

.. math::

    \\mathcal{L}_{\\mathrm{VIC}} = \\E_{x, A}\\bigl[-\\log_2 q_\\theta(Z) - \\beta \\log_2 q_\\phi(x \\mid Z)\\bigr],
    \\qquad Z \\sim p_\\varphi(Z \\mid A(x)),

i.e. VIC reconstructs the *unaugmented* input ``x`` (a representative of the equivalence class of
``A(x)``: the maximal invariant), while VC reconstructs its own (augmented) input ``A(x)``.

Units: rates and distortions are in bits per example, so ``beta`` trades bits for bits. The paper's
code multiplies the *rate* (in nats) by its ``beta`` instead; see :func:`beta_from_lossyless`.
Likelihoods: ``"bernoulli"`` (binary cross-entropy on logits, summed over pixels: the paper's MNIST
decoder) or ``"gaussian"`` (unit-variance Gaussian, i.e. half the squared error: the paper's banana
decoder used the squared error).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_LOG2 = math.log(2.0)

OBJECTIVES = ("VC", "VIC")
LIKELIHOODS = ("bernoulli", "gaussian")


def reconstruction_target(objective: str, x: torch.Tensor, x_augmented: torch.Tensor) -> torch.Tensor:
    """What the decoder must reconstruct: ``x`` (unaugmented / representative) for VIC, ``A(x)`` for VC."""
    if objective == "VIC":
        return x
    if objective == "VC":
        return x_augmented
    raise ValueError(f"objective={objective!r} is not valid; valid values are: 'VC', 'VIC'")


def distortion_bits(decoded: torch.Tensor, target: torch.Tensor, likelihood: str) -> torch.Tensor:
    """``-log2 q_phi(target | Z)`` per example (shape ``(B,)``), up to a constant for the Gaussian.

    ``decoded`` are logits for ``"bernoulli"`` and means for ``"gaussian"``.
    """
    if likelihood == "bernoulli":
        nats = F.binary_cross_entropy_with_logits(decoded, target, reduction="none")
    elif likelihood == "gaussian":
        nats = 0.5 * (decoded - target) ** 2
    else:
        raise ValueError(f"likelihood={likelihood!r} is not valid; valid values are: "
                         + ", ".join(repr(v) for v in LIKELIHOODS))
    return nats.flatten(1).sum(1) / _LOG2


def rate_distortion_loss(rate_bits: torch.Tensor, distortion: torch.Tensor, beta: float) -> torch.Tensor:
    """Eq. 8 (and 7) as a minibatch mean: ``E[rate + beta * distortion]``."""
    if beta < 0:
        raise ValueError("beta must be >= 0")
    return (rate_bits + beta * distortion).mean()


def vic_loss(rate_bits: torch.Tensor, decoded: torch.Tensor, x: torch.Tensor, x_augmented: torch.Tensor,
             beta: float, *, objective: str = "VIC", likelihood: str = "bernoulli") -> dict[str, torch.Tensor]:
    """The VIC (``objective="VIC"``) or VC (``"VC"``) loss; returns ``loss``, ``rate`` and ``distortion`` (bits)."""
    target = reconstruction_target(objective, x, x_augmented)
    dist = distortion_bits(decoded, target, likelihood)
    return {"loss": rate_distortion_loss(rate_bits, dist, beta), "rate": rate_bits.mean(), "distortion": dist.mean()}


def beta_from_lossyless(beta_code: float, factor_beta: float = 1.0) -> float:
    """Convert the authors' ``beta`` into this module's.

    Their loss is ``D / factor_beta + beta_code * R`` with ``R`` and ``D`` both negative log-likelihoods
    in nats; ours is ``R + beta * D`` in bits. Both are the same objective up to a positive factor when
    ``beta = 1 / (beta_code * factor_beta)`` (the change of logarithm base cancels).
    """
    if beta_code <= 0 or factor_beta <= 0:
        raise ValueError("beta_code and factor_beta must be > 0")
    return 1.0 / (beta_code * factor_beta)


def clip_from_lossyless(beta: float, factor_beta: float = 1.0, clip: float = 3.0) -> float:
    """The gradient-norm clip on our loss that is the authors' clip at ``clip`` on theirs.

    With ``beta = beta_from_lossyless(beta_code, factor_beta)`` their loss is ``ln 2 * beta_code`` times ours, so
    their ``gradient_clip_val: 3`` (config/main.yaml, by norm) is a clip at ``clip / (ln 2 * beta_code) =
    clip * beta * factor_beta / ln 2`` on ours, and Adam then takes their steps (up to its ``eps``). A fixed clip
    of 3 on our loss would bind at a gradient ``ln 2 * beta_code`` times theirs.
    """
    if beta <= 0 or factor_beta <= 0 or clip <= 0:
        raise ValueError("beta, factor_beta and clip must be > 0")
    return clip * beta * factor_beta / _LOG2
