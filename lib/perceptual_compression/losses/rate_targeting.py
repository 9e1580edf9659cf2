"""HiFiC-style rate targeting (Mentzer et al. 2020) with MS-ILLM's constants (Muckley et al. 2023, A.1, Table 3).

Instead of one fixed Lagrange multiplier, the rate term of the pretraining loss

.. math::

    \\mathcal{L} = \\lambda(\\tilde r)\\, r(x) + \\rho(\\hat x, x),
    \\qquad
    \\lambda(\\tilde r) = \\begin{cases} \\lambda_a & \\tilde r > r_t \\\\ \\lambda_b & \\text{otherwise} \\end{cases}

switches between a large weight :math:`\\lambda_a` (when the *measured* rate :math:`\\tilde r` of an
image, i.e. the bits of its rounded latents under the model, is above the target :math:`r_t`) and a
small one :math:`\\lambda_b = 2^{-4}`. The model is pushed down to the target and then left free to
lower its distortion. :math:`r(x)` is the differentiable (noisy-latent) rate in bits per pixel.

During the first 50,000 of the 1M pretraining steps the target is 1.429× higher and
:math:`\\lambda_a` is halved. (The paper's 50,000 is kept here. The reference code's early phase is shorter: it
tests ``trainer.global_step < 50000``, and Lightning 2 counts each of the iteration's two optimizer steps, model and
quantiles, in ``global_step``, which is why its ``train.py`` doubles ``max_steps``; its switch thus comes after
25,000 iterations.) Table 3 gives eight targets (``RATE_TARGETS``), with
:math:`\\lambda_a = 2^{5}, 2^{4}, \\dots, 2^{-2}` from 0.00875 to 0.9 bpp. The paper calls the weights
:math:`\\lambda_{\\rho,a}`, :math:`\\lambda_{\\rho,b}`; in the reference implementation (NeuralCompression,
``projects/illm/target_compression_module.py``) they multiply the rate, which is the reading used here,
and the switch is made per image on the hard (rounded-latent) rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..params import check_choice

#: Table 3: target rate (bpp) -> λ_a. λ_b is 2^-4 for every target.
RATE_TARGETS: dict[float, float] = {
    0.00875: 2.0 ** 5,
    0.0175: 2.0 ** 4,
    0.035: 2.0 ** 3,
    0.07: 2.0 ** 2,
    0.14: 2.0 ** 1,
    0.3: 2.0 ** 0,
    0.45: 2.0 ** -1,
    0.9: 2.0 ** -2,
}
#: Table 3: the weight used when the measured rate is at or below the target.
LAMBDA_B: float = 2.0 ** -4
#: A.1: the target is this much higher during the early phase ...
EARLY_TARGET_FACTOR: float = 1.429
#: ... and λ_a is multiplied by this ("held 50% lower").
EARLY_LAMBDA_A_FACTOR: float = 0.5
#: A.1: the early phase lasts 50,000 of 1,000,000 pretraining steps.
PAPER_EARLY_STEPS: int = 50_000
PAPER_TOTAL_STEPS: int = 1_000_000


def check_rate_target(rate: float) -> float:
    """Return the Table 3 target equal to ``rate`` (tolerance 1e-9); otherwise raise ``ParameterError`` naming all eight."""
    return float(check_choice("rate", rate, list(RATE_TARGETS)))  # the table's own float


def early_phase_steps(total_steps: int) -> int:
    """Length of the early phase for a run of ``total_steps``: the paper's 50k/1M fraction (5%), at least 1 step."""
    if total_steps <= 0:
        raise ValueError("total_steps must be positive")
    return max(1, int(round(PAPER_EARLY_STEPS * total_steps / PAPER_TOTAL_STEPS)))


@dataclass(frozen=True)
class RateTargetSchedule:
    """The λ schedule for one target rate.

    Parameters
    ----------
    target_bpp:
        One of :data:`RATE_TARGETS`' keys (use :meth:`for_target`), or any positive rate with explicit λs.
    lambda_a, lambda_b:
        Rate weights above / at-or-below the target.
    early_steps:
        Steps of the early phase (target × ``early_target_factor``, λ_a × ``early_lambda_a_factor``).
    """

    target_bpp: float
    lambda_a: float
    lambda_b: float = LAMBDA_B
    early_steps: int = PAPER_EARLY_STEPS
    early_target_factor: float = EARLY_TARGET_FACTOR
    early_lambda_a_factor: float = EARLY_LAMBDA_A_FACTOR

    def __post_init__(self) -> None:
        if self.target_bpp <= 0 or self.lambda_a <= 0 or self.lambda_b < 0 or self.early_steps < 0:
            raise ValueError("target_bpp and lambda_a must be positive, lambda_b and early_steps non-negative")

    @classmethod
    def for_target(cls, target_bpp: float, *, total_steps: int = PAPER_TOTAL_STEPS) -> RateTargetSchedule:
        """Table 3's schedule for ``target_bpp``; the early phase is 5% of ``total_steps`` (50k of the paper's 1M)."""
        t = check_rate_target(target_bpp)
        return cls(target_bpp=t, lambda_a=RATE_TARGETS[t], early_steps=early_phase_steps(total_steps))

    def in_early_phase(self, step: int) -> bool:
        return step < self.early_steps

    def target_at(self, step: int) -> float:
        """The rate target in force at ``step`` (bpp)."""
        return self.target_bpp * (self.early_target_factor if self.in_early_phase(step) else 1.0)

    def lambda_a_at(self, step: int) -> float:
        """λ_a in force at ``step``."""
        return self.lambda_a * (self.early_lambda_a_factor if self.in_early_phase(step) else 1.0)

    def weight(self, step: int, measured_bpp: Tensor | float) -> Tensor:
        """λ per image: λ_a(step) where ``measured_bpp`` > target(step), else λ_b."""
        bpp = torch.as_tensor(measured_bpp, dtype=torch.float32)
        hi = torch.tensor(self.lambda_a_at(step), dtype=bpp.dtype, device=bpp.device)
        lo = torch.tensor(self.lambda_b, dtype=bpp.dtype, device=bpp.device)
        return torch.where(bpp > self.target_at(step), hi, lo)

    def rate_loss(self, step: int, bpp: Tensor, measured_bpp: Tensor) -> Tensor:
        """Mean over the batch of λ_i · bpp_i, with λ_i chosen from the measured (hard) rate of image i.

        ``bpp`` is the differentiable rate per image, shape ``(B,)``; ``measured_bpp`` the rate of the
        rounded latents (no gradient needed), same shape.
        """
        if bpp.shape != measured_bpp.shape:
            raise ValueError(f"bpp {tuple(bpp.shape)} and measured_bpp {tuple(measured_bpp.shape)} must match")
        lam = self.weight(step, measured_bpp.detach()).to(bpp.dtype)
        return (lam * bpp).mean()
