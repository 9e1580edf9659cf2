"""Gaussian source under squared error: Shannon's R(D) and Theorem 2 made concrete.

Theorem 2 of Blau & Michaeli (2019) says that, under squared error,

.. math:: R(D, 0) \\le R(\\tfrac12 D, \\infty):

perfect perceptual quality (:math:`p_{\\hat X} = p_X`) never needs more rate than Shannon's codec at half the
distortion. The proof (supplement B) builds the perfect-quality codec explicitly: take the codec on Shannon's
curve at distortion ``D`` and let the decoder output a *sample from the posterior* :math:`p_{X|\\hat X}` instead
of :math:`\\hat X`. The output then has the source's distribution (eq. 27), its MSE is exactly
:math:`2\\,\\mathbb E\\|X - \\mathbb E[X|\\hat X]\\|^2 = 2D` (eq. 28) and, by data processing, its rate does not
grow (eq. 29).

This module realises that construction twice:

* **in closed form / by simulation** for :math:`X \\sim \\mathcal N(0, \\sigma^2)`, whose Shannon codec is the
  backward Gaussian test channel :math:`X = \\hat X + Z`, :math:`\\hat X \\sim \\mathcal N(0, \\sigma^2 - D)`,
  :math:`Z \\sim \\mathcal N(0, D)`; the posterior sampler outputs :math:`\\tilde X = \\hat X + Z'` with a fresh
  :math:`Z'`, so :math:`\\tilde X \\sim \\mathcal N(0,\\sigma^2)` and :math:`\\mathbb E(X - \\tilde X)^2 = 2D`
  (:func:`simulate_posterior_sampling`);
* **for any finite source** (e.g. a discretised Gaussian) from a channel computed by
  :class:`~perceptual_compression.theory.rdp_solver.RDPSolver` (:func:`posterior_sampling_channel`).

It also gives the jointly Gaussian perfect-quality curve :func:`perfect_quality_rd`: among outputs with
:math:`\\tilde X \\sim \\mathcal N(0,\\sigma^2)` jointly Gaussian with ``X`` (correlation :math:`\\rho`),
MSE :math:`= 2\\sigma^2(1-\\rho)` and rate :math:`-\\tfrac12\\log_2(1-\\rho^2)`. It is an achievable upper bound
on :math:`R(D, 0)`; for the Gaussian source it is known to be exact (Zhang et al., NeurIPS 2021).
Rates are in **bits**.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "shannon_rd",
    "shannon_distortion",
    "perfect_quality_rd",
    "theorem2_bound",
    "gaussian_mutual_information",
    "PosteriorSamplingResult",
    "simulate_posterior_sampling",
    "discretized_gaussian",
    "posterior_sampling_channel",
]


def _check_var(var: float) -> float:
    var = float(var)
    if not var > 0:
        raise ValueError(f"variance must be > 0 (got {var})")
    return var


def shannon_rd(D, var: float = 1.0):
    """Shannon's :math:`R(D) = \\max(0, \\tfrac12\\log_2(\\sigma^2/D))` for :math:`\\mathcal N(0,\\sigma^2)`, in bits."""
    var = _check_var(var)
    D = np.asarray(D, dtype=float)
    if np.any(D < 0):
        raise ValueError("D must be >= 0")
    with np.errstate(divide="ignore"):
        out = np.where(D < var, 0.5 * np.log2(var / np.where(D > 0, D, 1e-300)), 0.0)
    out = np.where(D == 0, np.inf, out)
    return out if out.ndim else float(out)


def shannon_distortion(R, var: float = 1.0):
    """Inverse of :func:`shannon_rd`: :math:`D(R) = \\sigma^2 2^{-2R}`."""
    var = _check_var(var)
    R = np.asarray(R, dtype=float)
    if np.any(R < 0):
        raise ValueError("R must be >= 0")
    out = var * 2.0 ** (-2.0 * R)
    return out if out.ndim else float(out)


def gaussian_mutual_information(rho) -> np.ndarray:
    """:math:`I = -\\tfrac12\\log_2(1-\\rho^2)` bits between jointly Gaussian scalars with correlation ``rho``."""
    rho = np.asarray(rho, dtype=float)
    with np.errstate(divide="ignore"):
        out = -0.5 * np.log2(np.clip(1.0 - rho ** 2, 0.0, 1.0))
    return out if out.ndim else float(out)


def perfect_quality_rd(D, var: float = 1.0):
    """Rate of the best jointly Gaussian codec with :math:`p_{\\tilde X} = p_X` at MSE ``D``, in bits.

    :math:`\\rho = 1 - D/(2\\sigma^2)`, rate :math:`-\\tfrac12\\log_2(1-\\rho^2)` for ``D < 2σ²`` and 0 beyond
    (an independent sample from :math:`p_X` has MSE :math:`2\\sigma^2`).
    """
    var = _check_var(var)
    D = np.asarray(D, dtype=float)
    if np.any(D < 0):
        raise ValueError("D must be >= 0")
    rho = np.clip(1.0 - D / (2 * var), 0.0, 1.0)
    out = gaussian_mutual_information(rho)
    return out if np.ndim(out) else float(out)


def theorem2_bound(D, var: float = 1.0):
    """Theorem 2's upper bound on :math:`R(D, 0)`: :math:`R(D/2, \\infty)`, in bits."""
    return shannon_rd(np.asarray(D, dtype=float) / 2.0, var)


@dataclass
class PosteriorSamplingResult:
    """Monte Carlo realisation of the proof of Theorem 2 at one Shannon point ``(R, D)``."""

    D: float                    #: distortion of the Shannon codec (target)
    rate_shannon: float         #: I(X; X̂) = R(D, ∞), bits (exact)
    rate_posterior: float       #: I(X; X̃) of the posterior-sampling decoder, bits (exact, jointly Gaussian)
    rate_posterior_est: float   #: the same from the sample correlation, bits
    mse_shannon: float          #: measured E(X - X̂)²
    mse_posterior: float        #: measured E(X - X̃)²
    var_reconstruction: float   #: measured Var(X̂) (< σ²: Shannon's output is not distributed like X)
    var_posterior: float        #: measured Var(X̃) (≈ σ²)
    ks_shannon: float           #: Kolmogorov–Smirnov distance of X̂'s sample from N(0, σ²)
    ks_posterior: float         #: the same for X̃ (sampling noise only)
    n: int

    @property
    def mse_ratio(self) -> float:
        return self.mse_posterior / self.mse_shannon


def simulate_posterior_sampling(D: float, var: float = 1.0, n: int = 200_000, seed: int = 0) -> PosteriorSamplingResult:
    """Simulate Shannon's Gaussian codec at distortion ``D`` and its posterior-sampling variant (supplement B).

    The forward form of the backward test channel is :math:`\\hat X = cX + \\sqrt{cD}\\,N` with
    :math:`c = 1 - D/\\sigma^2` (so that :math:`\\mathbb E[X|\\hat X] = \\hat X` and :math:`X - \\hat X \\sim \\mathcal N(0,D)`
    independent of :math:`\\hat X`); the posterior is :math:`X|\\hat X \\sim \\mathcal N(\\hat X, D)`.
    """
    from scipy import stats

    var = _check_var(var)
    if not 0 < D < var:
        raise ValueError(f"D must be in (0, σ²) = (0, {var}) for a non-trivial Shannon codec")
    rng = np.random.default_rng(seed)
    c = 1.0 - D / var
    x = rng.normal(0.0, np.sqrt(var), n)
    x_hat = c * x + np.sqrt(c * D) * rng.normal(size=n)         # Shannon's codec (encoder + decoder)
    x_tilde = x_hat + np.sqrt(D) * rng.normal(size=n)            # decoder draws from p(x | x̂)
    rho_tilde = 1.0 - D / var                                    # Cov(X, X̃)/σ² = c
    rho_est = float(np.corrcoef(x, x_tilde)[0, 1])
    cdf = stats.norm(0.0, np.sqrt(var)).cdf
    return PosteriorSamplingResult(
        D=float(D),
        rate_shannon=float(shannon_rd(D, var)),
        rate_posterior=float(gaussian_mutual_information(rho_tilde)),
        rate_posterior_est=float(gaussian_mutual_information(rho_est)),
        mse_shannon=float(np.mean((x - x_hat) ** 2)),
        mse_posterior=float(np.mean((x - x_tilde) ** 2)),
        var_reconstruction=float(np.var(x_hat)),
        var_posterior=float(np.var(x_tilde)),
        ks_shannon=float(stats.kstest(x_hat, cdf).statistic),
        ks_posterior=float(stats.kstest(x_tilde, cdf).statistic),
        n=int(n),
    )


def discretized_gaussian(n: int = 41, var: float = 1.0, width: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """``(points, pmf)``: ``n`` evenly spaced points on ``±width·σ``, each with the Gaussian mass of its cell."""
    from scipy import stats

    var = _check_var(var)
    if n < 2:
        raise ValueError("n must be >= 2")
    s = np.sqrt(var)
    pts = np.linspace(-width * s, width * s, n)
    edges = np.concatenate([[-np.inf], (pts[1:] + pts[:-1]) / 2, [np.inf]])
    pmf = np.diff(stats.norm(0, s).cdf(edges))
    return pts, pmf / pmf.sum()


def posterior_sampling_channel(p_x: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """The channel :math:`p_{\\tilde X|X}` of the posterior-sampling decoder (supplement eq. 26), finite alphabets.

    ``channel[x, x̂]`` is :math:`p_{\\hat X|X}` (reconstructions in the source alphabet). The decoder replaces
    ``x̂`` by a draw from :math:`p_{X|\\hat X}(\\cdot|\\hat x)`, so
    :math:`p_{\\tilde X|X}(\\tilde x|x) = \\sum_{\\hat x} p_{\\hat X|X}(\\hat x|x)\\,p_{X|\\hat X}(\\tilde x|\\hat x)`.
    """
    p_x = np.asarray(p_x, dtype=float)
    channel = np.asarray(channel, dtype=float)
    if channel.shape != (len(p_x), len(p_x)):
        raise ValueError("channel must be square over the source alphabet")
    joint = p_x[:, None] * channel                       # p(x, x̂)
    q = joint.sum(0)                                      # p(x̂)
    with np.errstate(divide="ignore", invalid="ignore"):
        post = np.where(q[None, :] > 0, joint / q[None, :], 0.0)  # p(x | x̂), columns
    return channel @ post.T                               # [x, x̃]
