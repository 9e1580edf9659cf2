"""The 2D Student-t source of Hepburn et al. (ICLR 2022), appendix C.

Samples are ``x = mu + sigma t_nu`` with ``t_nu`` a standard bivariate Student-t vector with ``nu`` degrees
of freedom (one shared chi-square mixing variable for both coordinates, as in
:class:`scipy.stats.multivariate_t`), ``mu = 0`` and the diagonal scale ``sigma = diag(0.5, 0.2)``: a
high-variance axis and a low-variance axis that mimic the low- and high-frequency bands of natural images.

The density is the multivariate Student-t with shape matrix ``Sigma = sigma sigma^T``:

.. math::

    \\log p(x) = \\log\\Gamma\\big(\\tfrac{\\nu+d}{2}\\big) - \\log\\Gamma\\big(\\tfrac{\\nu}{2}\\big)
      - \\tfrac d2 \\log(\\nu\\pi) - \\tfrac12\\log|\\Sigma|
      - \\tfrac{\\nu+d}{2}\\log\\Big(1 + \\tfrac{(x-\\mu)^\\top\\Sigma^{-1}(x-\\mu)}{\\nu}\\Big).

With ``nu = 2`` the variance is infinite: the large batches of the paper (4096) are there to see the tails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class StudentT2D:
    """Bivariate Student-t with diagonal scale (appendix C: ``nu=2, mu=0, sigma=diag(0.5, 0.2)``)."""

    nu: float = 2.0
    scale: tuple[float, float] = (0.5, 0.2)
    loc: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if not self.nu > 0:
            raise ValueError(f"nu={self.nu!r} is not valid; it must be > 0")
        if len(self.scale) != 2 or any(not s > 0 for s in self.scale):
            raise ValueError(f"scale={self.scale!r} is not valid; it must be two positive numbers")
        if len(self.loc) != 2:
            raise ValueError(f"loc={self.loc!r} is not valid; it must be two numbers")

    @property
    def dim(self) -> int:
        return 2

    @property
    def shape_matrix(self) -> np.ndarray:
        """``Sigma = sigma sigma^T`` (the ``shape`` argument of :class:`scipy.stats.multivariate_t`)."""
        return np.diag(np.square(self.scale))

    def _log_norm(self) -> float:
        d = self.dim
        return (math.lgamma((self.nu + d) / 2) - math.lgamma(self.nu / 2) - d / 2 * math.log(self.nu * math.pi)
                - sum(math.log(s) for s in self.scale))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density (nats) of points ``x`` of shape ``(..., 2)``."""
        x = torch.as_tensor(x)
        if not x.is_floating_point():
            x = x.double()
        loc = x.new_tensor(self.loc)
        scale = x.new_tensor(self.scale)
        maha = (((x - loc) / scale) ** 2).sum(-1)
        return self._log_norm() - (self.nu + self.dim) / 2 * torch.log1p(maha / self.nu)

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact density of points ``x`` of shape ``(..., 2)``."""
        return self.log_prob(x).exp()

    def sample(self, n: int, *, generator: torch.Generator | None = None, device=None,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``n`` samples ``mu + sigma z / sqrt(g / nu)``, ``z ~ N(0, I)``, ``g ~ chi^2_nu`` (shape ``(n, 2)``)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        z = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        # chi^2_nu = 2 * Gamma(nu/2, 1); torch's Gamma sampler takes no generator, so draw through the
        # standard normal/uniform generators: for nu = 2 the chi-square is -2 log U (exact).
        if self.nu == 2.0:
            u = torch.rand(n, generator=generator, dtype=torch.float64).clamp_min(torch.finfo(torch.float64).tiny)
            g = -2.0 * torch.log(u)
        else:
            g = torch.as_tensor(np.random.default_rng(
                int(torch.randint(0, 2**31 - 1, (1,), generator=generator))).chisquare(self.nu, n))
        t = z / torch.sqrt(g / self.nu)[:, None]
        x = torch.tensor(self.loc, dtype=torch.float64) + torch.tensor(self.scale, dtype=torch.float64) * t
        return x.to(dtype=dtype, device=device)

    def line_along_x(self, n: int = 200, x_max: float = 35.0) -> torch.Tensor:
        """Points ``(x, 0)``, ``x`` in ``[0, x_max]`` (appendix C/D.2: a line from high to low density)."""
        xs = torch.linspace(0.0, x_max, n)
        return torch.stack([xs, torch.zeros_like(xs)], dim=-1)
