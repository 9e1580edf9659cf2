"""The 2-D "banana" source of Ballé et al. (2020, Nonlinear Transform Coding), as used by Dubois et al.
(2021, Sec. 5.1 / Fig. 5), with its rotation invariance.

Definition (parameters of the paper's code: curvature 0.05, factor 6, location (-1.5, -2), angle -40°,
scale 1/2). Draw ``u ~ N(0, diag(factor^2, 1))``, bend it, rotate it, shift it, and scale everything:

.. math::

    b = \\bigl(u_1,\\; u_2 + c\\,(u_1^2 - f^2)\\bigr), \\qquad
    X = s\\,\\bigl(R_\\theta\\, b + \\ell\\bigr),

with ``R_theta`` the counter-clockwise rotation by ``theta`` degrees. The bend has unit Jacobian, so
``log p(x) = log N(u; 0, diag(f^2, 1)) - 2 log s`` and the differential entropy is that of the Gaussian
plus ``2 log s``. The moments are closed form: ``E[b] = 0``, ``Var b_1 = f^2``, ``Var b_2 = 1 + 2 c^2 f^4``,
``Cov(b_1, b_2) = 0``; hence ``E[X] = s l`` and ``Cov X = s^2 R diag(f^2, 1 + 2c^2 f^4) R^T``.

Invariance: tasks invariant to rotations about the origin. The Euclidean norm is a maximal invariant
(:func:`maximal_invariant`); :func:`random_rotation` is the augmentation ``A``; :func:`representative`
maps a norm to the canonical member of its orbit (the point at angle 225°, as in the paper's figures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

#: The angle (degrees) of the canonical representative of each orbit (a circle): "7:30 o'clock".
REPRESENTATIVE_ANGLE = 225.0


def rotation_matrix(degrees: float | torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Counter-clockwise rotation matrix(es), shape ``(..., 2, 2)``, for angle(s) in degrees."""
    a = torch.as_tensor(degrees, dtype=dtype) * (math.pi / 180.0)
    c, s = torch.cos(a), torch.sin(a)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def rotate(x: torch.Tensor, degrees: float | torch.Tensor) -> torch.Tensor:
    """Rotate points ``x`` (shape ``(..., 2)``) counter-clockwise by ``degrees`` (a scalar or one per point)."""
    r = rotation_matrix(degrees, dtype=x.dtype).to(x.device)
    return (r @ x.unsqueeze(-1)).squeeze(-1)


def maximal_invariant(x: torch.Tensor) -> torch.Tensor:
    """The maximal invariant of rotations about the origin: the Euclidean norm, shape ``(...,)``."""
    return x.norm(dim=-1)


def random_rotation(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """The augmentation ``A``: rotate each point by an independent uniform angle in [0°, 360°)."""
    angles = torch.rand(x.shape[:-1], generator=generator, dtype=x.dtype).to(x.device) * 360.0
    return rotate(x, angles)


def representative(norm: torch.Tensor) -> torch.Tensor:
    """The canonical member of each orbit: the point of norm ``norm`` at angle :data:`REPRESENTATIVE_ANGLE`."""
    a = math.radians(REPRESENTATIVE_ANGLE)
    direction = torch.tensor([math.cos(a), math.sin(a)], dtype=norm.dtype, device=norm.device)
    return norm.unsqueeze(-1) * direction


@dataclass(frozen=True)
class Banana:
    """The banana distribution; defaults are the paper's parameters."""

    curvature: float = 0.05
    factor: float = 6.0
    location: tuple[float, float] = (-1.5, -2.0)
    angle: float = -40.0
    scale: float = 0.5

    # ----------------------------------------------------------------- the transform
    def base_std(self) -> torch.Tensor:
        return torch.tensor([self.factor, 1.0])

    def transform(self, u: torch.Tensor) -> torch.Tensor:
        """Map base samples ``u ~ N(0, diag(f^2, 1))`` (shape ``(..., 2)``) to banana samples."""
        b = torch.stack([u[..., 0], u[..., 1] + self.curvature * (u[..., 0] ** 2 - self.factor**2)], -1)
        loc = torch.tensor(self.location, dtype=u.dtype, device=u.device)
        return self.scale * (rotate(b, self.angle) + loc)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`transform`."""
        loc = torch.tensor(self.location, dtype=x.dtype, device=x.device)
        b = rotate(x / self.scale - loc, -self.angle)
        return torch.stack([b[..., 0], b[..., 1] - self.curvature * (b[..., 0] ** 2 - self.factor**2)], -1)

    # ----------------------------------------------------------------- sampling and density
    def sample(self, n: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``n`` i.i.d. samples, shape ``(n, 2)``."""
        u = torch.randn(n, 2, generator=generator, dtype=dtype) * self.base_std().to(dtype)
        return self.transform(u)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log density (nats). The bend and rotation have unit Jacobian; the scaling costs ``2 log s``."""
        u = self.inverse(x)
        std = self.base_std().to(x.dtype).to(x.device)
        z = u / std
        log_base = -0.5 * (z**2).sum(-1) - torch.log(std).sum() - math.log(2 * math.pi)
        return log_base - 2.0 * math.log(self.scale)

    def entropy_bits(self) -> float:
        """Differential entropy ``h[X]`` in bits."""
        nats = math.log(2 * math.pi * math.e) + math.log(self.factor) + 2.0 * math.log(self.scale)
        return nats / math.log(2.0)

    # ----------------------------------------------------------------- closed-form moments
    def mean(self) -> torch.Tensor:
        """``E[X] = s * location`` (the bend has zero mean because ``E[u_1^2] = f^2``)."""
        return self.scale * torch.tensor(self.location, dtype=torch.float64)

    def covariance(self) -> torch.Tensor:
        """``Cov X = s^2 R diag(f^2, 1 + 2 c^2 f^4) R^T``."""
        d = torch.diag(torch.tensor([self.factor**2, 1.0 + 2.0 * self.curvature**2 * self.factor**4],
                                    dtype=torch.float64))
        r = rotation_matrix(self.angle, dtype=torch.float64)
        return self.scale**2 * (r @ d @ r.T)
