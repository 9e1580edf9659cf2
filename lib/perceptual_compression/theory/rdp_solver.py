"""The rate–distortion–perception function of any finite source as a convex program (Definition 1, eq. 4).

.. math::

    R(D, P) = \\min_{p_{\\hat X|X}} I(X;\\hat X)\\quad\\text{s.t.}\\quad
    \\mathbb E[\\Delta(X,\\hat X)] \\le D,\\qquad d(p_X, p_{\\hat X}) \\le P .

The optimisation variable is the joint pmf :math:`J(x,\\hat x) = p_X(x)\\,p_{\\hat X|X}(\\hat x|x)` with rows
fixed to :math:`p_X`. The reconstruction marginal :math:`q = \\mathbf 1^\\top J` is linear in ``J``, and the
mutual information is a sum of relative-entropy terms

.. math:: I(X;\\hat X) = \\sum_{x,\\hat x} J(x,\\hat x)\\log\\frac{J(x,\\hat x)}{p_X(x)\\,q(\\hat x)}
          = \\sum \\mathrm{rel\\_entr}\\big(J,\\; p_X q^\\top\\big),

which is jointly convex in its two (affine) arguments, so the problem is a disciplined convex program
(exponential cones) for every perception divergence convex in its second argument (assumption A1):

=================  ===========================================================  =======================
``divergence``     :math:`d(p, q)`                                              cone
=================  ===========================================================  =======================
``"tv"``           total variation :math:`\\tfrac12\\sum|p - q|`                  linear
``"kl"``           :math:`\\mathrm{KL}(p\\|q) = \\sum p\\log(p/q)` (nats)           exponential
``"reverse_kl"``   :math:`\\mathrm{KL}(q\\|p)` (nats)                              exponential
``"hellinger"``    squared Hellinger :math:`1 - \\sum\\sqrt{pq}` (:math:`=\\tfrac12\\sum(\\sqrt p-\\sqrt q)^2`)  second-order
``"chi2"``         Pearson :math:`\\chi^2(q\\|p) = \\sum (q-p)^2/p`                 second-order
=================  ===========================================================  =======================

All are f-divergences. Rates are returned in **bits**; the divergence values are in their own units
(KL in nats, as is conventional for the constraint level ``P``).

``P = 0`` is imposed as the equality :math:`q = p_X` (every divergence vanishes only there), which keeps the
interior-point solver well posed. The problem is compiled once per (source, distortion, divergence) and
re-solved with new ``(D, P)`` as cvxpy parameters (DPP), so sweeping a grid is cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["DIVERGENCES", "RDPInfeasibleError", "RDPSolution", "RDPSolver", "divergence_value",
           "mutual_information_bits", "hamming_distortion", "squared_error_distortion"]

#: Perception divergences the solver accepts (all convex in their second argument: assumption A1).
DIVERGENCES = {
    "tv": "total variation 1/2 sum |p - q|",
    "kl": "Kullback–Leibler KL(p_X || p_Xhat) in nats",
    "reverse_kl": "Kullback–Leibler KL(p_Xhat || p_X) in nats",
    "hellinger": "squared Hellinger distance 1 - sum sqrt(p q)",
    "chi2": "Pearson chi-square sum (q - p)^2 / p",
}

_DEFAULT_SOLVER_OPTS = {
    "CLARABEL": {"tol_gap_abs": 1e-9, "tol_gap_rel": 1e-9, "tol_feas": 1e-9, "max_iter": 500},
    "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000},
}


class RDPInfeasibleError(ValueError):
    """No channel meets the distortion and perception constraints (e.g. ``D`` below the least achievable)."""


def hamming_distortion(n: int) -> np.ndarray:
    """The ``n x n`` Hamming distortion matrix (0 on the diagonal, 1 elsewhere)."""
    return 1.0 - np.eye(n)


def squared_error_distortion(x: np.ndarray, x_hat: np.ndarray | None = None) -> np.ndarray:
    """Squared-error distortion matrix ``(x_i - x_hat_j)^2`` between two scalar alphabets."""
    x = np.asarray(x, dtype=float)
    x_hat = x if x_hat is None else np.asarray(x_hat, dtype=float)
    return (x[:, None] - x_hat[None, :]) ** 2


def mutual_information_bits(joint: np.ndarray) -> float:
    """:math:`I(X;\\hat X)` in bits of a joint pmf matrix (rows: x, columns: x̂)."""
    joint = np.clip(np.asarray(joint, dtype=float), 0.0, None)
    joint = joint / joint.sum()
    px = joint.sum(1, keepdims=True)
    q = joint.sum(0, keepdims=True)
    prod = px * q
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(joint > 0, joint * np.log2(joint / np.where(prod > 0, prod, 1.0)), 0.0)
    return float(max(t.sum(), 0.0))


def divergence_value(name: str, p: np.ndarray, q: np.ndarray) -> float:
    """Evaluate one of :data:`DIVERGENCES` between pmfs ``p`` (source) and ``q`` (reconstructions)."""
    p = np.asarray(p, dtype=float)
    q = np.clip(np.asarray(q, dtype=float), 0.0, None)
    if name == "tv":
        return float(0.5 * np.abs(p - q).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "kl":
            return float(np.where(p > 0, p * np.log(p / q), 0.0).sum())
        if name == "reverse_kl":
            return float(np.where(q > 0, q * np.log(q / p), 0.0).sum())
        if name == "hellinger":
            return float(1.0 - np.sqrt(p * q).sum())
        if name == "chi2":
            return float(np.where(p > 0, (q - p) ** 2 / p, np.where(q > 0, np.inf, 0.0)).sum())
    raise ValueError(f"divergence={name!r} is not valid; valid values are: {', '.join(DIVERGENCES)}")


@dataclass
class RDPSolution:
    """One solved point of :math:`R(D, P)`."""

    rate_bits: float          #: optimal objective, in bits
    channel: np.ndarray       #: p(x̂ | x), rows sum to 1 (rows with p_X(x) = 0 are set to uniform)
    joint: np.ndarray         #: p(x, x̂)
    marginal: np.ndarray      #: p(x̂)
    distortion: float         #: E[Δ(X, X̂)] of the solution
    perception: float         #: d(p_X, p_X̂) of the solution
    D: float
    P: float
    status: str
    solver: str


class RDPSolver:
    """Solve :math:`R(D, P)` for a finite source ``p_x``, distortion matrix ``distortion[x, x̂]`` and a divergence.

    Parameters
    ----------
    p_x:
        Source pmf of length ``n``.
    distortion:
        ``n x m`` matrix :math:`\\Delta(x, \\hat x) \\ge 0`.
    divergence:
        One of :data:`DIVERGENCES`.
    reference:
        The pmf on the reconstruction alphabet that ``p_X̂`` is compared with. Defaults to ``p_x``, which
        needs ``m == n`` (the reconstructions live in the source alphabet).
    solver:
        A cvxpy solver name (``"CLARABEL"`` by default; ``"SCS"`` also works, less accurately).
    """

    def __init__(self, p_x, distortion, divergence: str = "tv", *, reference=None, solver: str = "CLARABEL",
                 solver_opts: dict | None = None) -> None:
        p_x = np.asarray(p_x, dtype=float).ravel()
        if p_x.ndim != 1 or len(p_x) < 1 or np.any(p_x < 0) or not math.isclose(p_x.sum(), 1.0, abs_tol=1e-9):
            raise ValueError("p_x must be a pmf (non-negative, summing to 1)")
        dist = np.asarray(distortion, dtype=float)
        if dist.ndim != 2 or dist.shape[0] != len(p_x):
            raise ValueError(f"distortion must be a (len(p_x), m) matrix; got shape {dist.shape}")
        if np.any(dist < 0) or not np.all(np.isfinite(dist)):
            raise ValueError("distortion entries must be finite and >= 0")
        if divergence not in DIVERGENCES:
            raise ValueError(f"divergence={divergence!r} is not valid; valid values are: {', '.join(DIVERGENCES)}")
        m = dist.shape[1]
        if reference is None:
            if m != len(p_x):
                raise ValueError("the reconstruction alphabet differs from the source's: pass reference= (a pmf of "
                                 "length m) for the perception constraint")
            reference = p_x
        reference = np.asarray(reference, dtype=float).ravel()
        if len(reference) != m or np.any(reference < 0) or not math.isclose(reference.sum(), 1.0, abs_tol=1e-9):
            raise ValueError("reference must be a pmf on the reconstruction alphabet (length m)")
        self.p_x = p_x / p_x.sum()
        self.distortion = dist
        self.divergence = divergence
        self.reference = reference / reference.sum()
        self.solver = solver
        self.solver_opts = dict(_DEFAULT_SOLVER_OPTS.get(solver, {}))
        self.solver_opts.update(solver_opts or {})
        # Only source letters with positive mass carry variables (others contribute nothing).
        self._rows = np.flatnonzero(self.p_x > 0)
        self._problems: dict[str, tuple] = {}

    # ------------------------------------------------------------------ problem construction
    @property
    def min_distortion(self) -> float:
        """The least achievable expected distortion: :math:`\\sum_x p(x) \\min_{\\hat x} \\Delta(x, \\hat x)`."""
        return float(self.p_x @ self.distortion.min(axis=1))

    def _allowed(self, mode: str, at_min: bool) -> np.ndarray:
        """Entries of the joint pmf that carry a variable (structural zeros are left out, so that the
        interior-point solver never sees a face of the cone as its feasible set)."""
        dist = self.distortion[self._rows]
        allowed = np.ones(dist.shape, dtype=bool)
        if at_min:  # D = least distortion: each x may only go to its closest reconstructions
            allowed &= dist <= dist.min(axis=1, keepdims=True) + 1e-12
        if mode == "equal" or (mode == "bounded" and self.divergence in ("reverse_kl", "chi2")):
            allowed &= (self.reference > 0)[None, :]  # q must vanish where the reference does
        return allowed

    def _build(self, mode: str, at_min: bool):
        import cvxpy as cp
        import scipy.sparse as sp

        px = self.p_x[self._rows]
        dist = self.distortion[self._rows]
        n, m = dist.shape
        allowed = self._allowed(mode, at_min)
        rows, cols = np.nonzero(allowed)
        if np.any(np.bincount(rows, minlength=n) == 0):
            return None  # some source letter has no admissible reconstruction: infeasible
        k = len(rows)
        v = cp.Variable(k, nonneg=True)
        col_sum = sp.csr_matrix((np.ones(k), (cols, np.arange(k))), shape=(m, k))
        row_sum = sp.csr_matrix((np.ones(k), (rows, np.arange(k))), shape=(n, k))
        pick_col = sp.csr_matrix((np.ones(k), (np.arange(k), cols)), shape=(k, m))
        q = col_sum @ v
        prod = cp.multiply(px[rows], pick_col @ q)  # p_X(x) q(x̂) on the admissible entries
        mi = cp.sum(cp.rel_entr(v, prod))  # nats
        cons = [row_sum @ v == px]
        D = None
        if not at_min:
            D = cp.Parameter(nonneg=True)
            cons.append(dist[rows, cols] @ v <= D)
        P = None
        if mode == "equal":
            cons.append(q == self.reference)
        elif mode == "bounded":
            P = cp.Parameter(nonneg=True)
            cons.append(self._divergence_expr(q, self.reference) <= P)
        prob = cp.Problem(cp.Minimize(mi), cons)
        return prob, v, (rows, cols), D, P

    def _divergence_expr(self, q, ref):
        import cvxpy as cp

        d = self.divergence
        pos = np.flatnonzero(ref > 0)
        if d == "tv":
            return 0.5 * cp.sum(cp.abs(q - ref))
        if d == "kl":
            return cp.sum(cp.rel_entr(ref[pos], q[pos]))
        if d == "reverse_kl":  # q is structurally zero off the reference's support (see _allowed)
            return cp.sum(cp.rel_entr(q[pos], ref[pos]))
        if d == "hellinger":
            return 1.0 - cp.sum(cp.multiply(np.sqrt(ref[pos]), cp.sqrt(q[pos])))
        if d == "chi2":
            return cp.sum(cp.multiply(1.0 / ref[pos], cp.square(q[pos] - ref[pos])))
        raise AssertionError(d)

    def _problem(self, mode: str, at_min: bool):
        key = (mode, at_min)
        if key not in self._problems:
            self._problems[key] = self._build(mode, at_min)
        return self._problems[key]

    # ------------------------------------------------------------------ solving
    def solve(self, D: float, P: float = math.inf) -> RDPSolution:
        """Solve at one ``(D, P)``. ``P = inf`` drops the perception constraint (Shannon's R(D))."""
        import cvxpy as cp

        D, P = float(D), float(P)
        if not (D >= 0) or not (P >= 0) or math.isnan(P):
            raise ValueError(f"D and P must be >= 0 (got D={D}, P={P})")
        if D < self.min_distortion - 1e-12:
            raise RDPInfeasibleError(
                f"D={D:g} is below the least achievable expected distortion {self.min_distortion:g}")
        mode = "none" if math.isinf(P) else ("equal" if P == 0 else "bounded")
        at_min = D <= self.min_distortion + 1e-12
        built = self._problem(mode, at_min)
        if built is None:
            raise RDPInfeasibleError(f"no channel satisfies D <= {D:g} and {self.divergence} <= {P:g}")
        prob, v, (rows, cols), Dpar, Ppar = built
        if Dpar is not None:
            Dpar.value = D
        if Ppar is not None:
            Ppar.value = P
        try:
            prob.solve(solver=self.solver, **self.solver_opts)
        except cp.error.SolverError as e:  # pragma: no cover - depends on the installed solver
            raise RuntimeError(f"{self.solver} failed at D={D}, P={P}: {e}") from e
        if prob.status in ("infeasible", "infeasible_inaccurate"):
            raise RDPInfeasibleError(f"no channel satisfies D <= {D:g} and {self.divergence} <= {P:g}")
        if prob.status not in ("optimal", "optimal_inaccurate"):
            raise RuntimeError(f"{self.solver} returned status {prob.status!r} at D={D}, P={P}")
        n, m = len(self._rows), self.distortion.shape[1]
        Jv = np.zeros((n, m))
        Jv[rows, cols] = np.clip(np.asarray(v.value, dtype=float), 0.0, None)
        # renormalise each row onto its source mass (removes solver round-off)
        Jv = Jv * (self.p_x[self._rows][:, None] / np.maximum(Jv.sum(1, keepdims=True), 1e-300))
        joint = np.zeros_like(self.distortion)
        joint[self._rows] = Jv
        channel = np.full_like(self.distortion, 1.0 / m)
        channel[self._rows] = Jv / self.p_x[self._rows][:, None]
        q = joint.sum(0)
        rate = mutual_information_bits(joint)
        return RDPSolution(
            rate_bits=rate, channel=channel, joint=joint, marginal=q,
            distortion=float((joint * self.distortion).sum()),
            perception=divergence_value(self.divergence, self.reference, q),
            D=D, P=P, status=prob.status, solver=self.solver,
        )

    def rate(self, D: float, P: float = math.inf) -> float:
        """:math:`R(D, P)` in bits."""
        return self.solve(D, P).rate_bits

    def rates(self, D, P) -> np.ndarray:
        """:math:`R(D, P)` in bits on broadcast arrays ``D`` and ``P``."""
        D, P = np.broadcast_arrays(np.asarray(D, dtype=float), np.asarray(P, dtype=float))
        out = np.empty(D.shape)
        for idx in np.ndindex(D.shape):
            out[idx] = self.rate(D[idx], P[idx])
        return out
