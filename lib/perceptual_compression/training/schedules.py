"""Learning-rate schedules used by the papers, as multiplicative factors for ``torch.optim.lr_scheduler.LambdaLR``."""

from __future__ import annotations

import math
from collections.abc import Sequence


def warmup_cosine(step: int, *, warmup_steps: int, total_steps: int, final_factor: float = 0.0) -> float:
    """Linear warm-up from 0 to 1 over ``warmup_steps``, then cosine decay to ``final_factor`` at ``total_steps``.

    This is the MS-ILLM pretraining schedule (linear ramp, then cosine), expressed as a factor of the base rate.
    """
    if total_steps <= 0:
        raise ValueError("total_steps must be positive")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    t = min(1.0, max(0.0, (step - warmup_steps) / span))
    return final_factor + (1.0 - final_factor) * 0.5 * (1.0 + math.cos(math.pi * t))


def piecewise_constant(step: int, *, boundaries: Sequence[int], factors: Sequence[float]) -> float:
    """``factors[i]`` for ``boundaries[i-1] <= step < boundaries[i]`` (``len(factors) == len(boundaries) + 1``).

    Example (PIM, A.2): ``boundaries=[50_000, 80_000], factors=[1, 0.1, 0.01]`` for 1e-3 → 1e-4 → 1e-5.
    """
    if len(factors) != len(boundaries) + 1:
        raise ValueError("need len(factors) == len(boundaries) + 1")
    if list(boundaries) != sorted(boundaries):
        raise ValueError("boundaries must be increasing")
    for b, f in zip(boundaries, factors):
        if step < b:
            return f
    return factors[-1]


def exponential_decay(step: int, *, total_steps: int, decay: float, epoch_steps: int = 0) -> float:
    """The factor of an exponential decay by ``decay`` over ``total_steps`` steps.

    With ``epoch_steps = 0`` the factor falls at every step, ``decay ** (-step / total_steps)``. With
    ``epoch_steps > 0`` it falls once per epoch of that many steps, as ``torch.optim.lr_scheduler.ExponentialLR``
    stepped at the end of every epoch does (Lightning's default ``interval: "epoch"``; the Dubois et al. code,
    ``gamma = decay ** (-1 / epochs)``): ``decay ** (-(step // epoch_steps) / epochs)`` with
    ``epochs = total_steps / epoch_steps``, so epoch 0 trains at the full rate and the last (the ``ceil(epochs)``-th,
    which may be partial) at ``decay ** (-(ceil(epochs) - 1) / epochs)``. Steps past ``total_steps`` keep the final
    factor.
    """
    if total_steps <= 0 or epoch_steps < 0:
        raise ValueError("total_steps must be positive and epoch_steps >= 0")
    step = min(step, total_steps)
    if not epoch_steps:
        return float(decay) ** (-step / total_steps)
    epochs = total_steps / epoch_steps
    return float(decay) ** (-min(step // epoch_steps, math.ceil(epochs) - 1) / epochs)
