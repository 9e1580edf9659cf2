"""Downstream evaluation of compressed representations (Dubois et al. 2021, Sec. 5).

- :func:`fit_probe` / :func:`evaluate_probe`: predictors trained on frozen ``Z`` (or on reconstructions,
  flattened): ``"linear"`` (multinomial logistic regression) or ``"mlp"`` (two hidden layers).
- :func:`cell_mean_regression`: when ``Z`` is discrete (it is, after quantization), the Bayes-optimal
  squared-error predictor of a target ``M`` is the mean of ``M`` in each cell ``{x : Z(x) = z}``; it is
  estimated on training codes and evaluated on test codes (no architecture to tune).
- :func:`bayes_risk_check`: count the images (train and test together) that share a code ``Z`` with an
  image of another label; the empirical Bayes error of predicting the label from ``Z`` (zero means
  lossless prediction is possible; Sec. 5.3).
- :func:`aurd`: area under a rate–distortion curve (trapezoid rule over the distortion axis, as the
  authors' aggregation script), optionally over a common distortion interval;
  :func:`gaussian_distortion_bits` turns a squared error into bits, ``(1/2) log2(2 pi e MSE)`` (the
  Gaussian upper bound on ``h[M | Z]`` used by the authors to put both axes in bits).
- :func:`rate_at_error`: the rate a method needs to reach a given error, read off the lower envelope of
  its (error, rate) points — "fewer bits at equal downstream error".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

PROBES = ("linear", "mlp")


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    """Trapezoid rule (``np.trapz`` was renamed ``np.trapezoid`` in NumPy 2)."""
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


# ----------------------------------------------------------------------------------- probes
@dataclass
class Probe:
    """A trained predictor with the feature standardisation it was trained with."""

    model: nn.Module
    mean: torch.Tensor
    std: torch.Tensor
    kind: str

    @torch.no_grad()
    def logits(self, features: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        self.model.eval()
        f = features.flatten(1).float()
        out = [self.model((f[i:i + batch_size] - self.mean) / self.std) for i in range(0, len(f), batch_size)]
        return torch.cat(out)


def _probe_model(kind: str, in_dim: int, num_classes: int, hidden: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(in_dim, num_classes)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                             nn.Linear(hidden, num_classes))
    raise ValueError(f"probe={kind!r} is not valid; valid values are: " + ", ".join(repr(p) for p in PROBES))


def fit_probe(features: torch.Tensor, labels: torch.Tensor, *, kind: str = "mlp", num_classes: int | None = None,
              steps: int = 1000, batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 1e-5,
              hidden: int = 256, seed: int = 0) -> Probe:
    """Train a classifier on frozen, standardised features.

    ``"linear"``: multinomial logistic regression fitted full-batch with L-BFGS (a convex problem;
    ``steps`` bounds the iterations, ``weight_decay`` is the L2 penalty). ``"mlp"``: two hidden ReLU
    layers of width ``hidden`` trained with Adam on minibatches for ``steps`` steps (cosine decay).
    """
    f = features.detach().flatten(1).float().cpu()
    y = torch.as_tensor(labels).long().cpu()
    if len(f) != len(y):
        raise ValueError(f"{len(f)} feature rows for {len(y)} labels")
    num_classes = int(num_classes if num_classes is not None else int(y.max()) + 1)
    mean, std = f.mean(0), f.std(0).clamp_min(1e-6)
    fn = (f - mean) / std
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = _probe_model(kind, f.shape[1], num_classes, hidden)
    model.train()
    if kind == "linear":
        opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=max(1, steps), history_size=20,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(model(fn), y) + weight_decay * model.weight.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return Probe(model.eval(), mean, std, kind)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    for _ in range(steps):
        idx = torch.randint(len(fn), (min(batch_size, len(fn)),), generator=g)
        loss = F.cross_entropy(model(fn[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return Probe(model.eval(), mean, std, kind)


@torch.no_grad()
def evaluate_probe(probe: Probe, features: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Test error (fraction) and log-loss (bits) of a probe."""
    logits = probe.logits(features)
    y = torch.as_tensor(labels).long()
    err = float((logits.argmax(1) != y).float().mean())
    ll = float(F.cross_entropy(logits, y)) / math.log(2.0)
    return {"error": err, "log_loss_bits": ll}


def probe_error(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                test_labels: torch.Tensor, **kwargs) -> dict[str, float]:
    """Fit a probe on the training features and evaluate it on the test features."""
    return evaluate_probe(fit_probe(train_features, train_labels, **kwargs), test_features, test_labels)


# ----------------------------------------------------------------------------------- discrete codes
def _code_ids(*codes: torch.Tensor) -> list[torch.Tensor]:
    """Integer ids of the distinct rows across several code tensors (same id = same code)."""
    sizes = [len(c) for c in codes]
    allc = torch.cat([c.detach().flatten(1).cpu().double() for c in codes])
    _, inv = torch.unique(allc, dim=0, return_inverse=True)
    return list(torch.split(inv, sizes))


def cell_mean_regression(z_train: torch.Tensor, m_train: torch.Tensor, z_test: torch.Tensor) -> torch.Tensor:
    """Predict ``E[M | Z = z]`` by the training mean of ``M`` in each code cell.

    A test code never seen in training takes the mean of the nearest (Euclidean) training code: a
    rare cell in the tails of the source would otherwise get the global mean and dominate the error.
    """
    id_tr, id_te = _code_ids(z_train, z_test)
    n = int(max(id_tr.max(), id_te.max())) + 1
    m = m_train.detach().double().cpu()
    count = torch.bincount(id_tr, minlength=n).double()
    total = torch.bincount(id_tr, weights=m, minlength=n)
    means = total / count.clamp_min(1)
    unseen = count == 0
    if unseen.any():
        codes = torch.zeros(n, z_train[0].numel(), dtype=torch.float64)
        codes[id_tr] = z_train.detach().flatten(1).double().cpu()
        codes[id_te] = z_test.detach().flatten(1).double().cpu()
        seen_idx = torch.nonzero(~unseen).flatten()
        unseen_idx = torch.nonzero(unseen).flatten()
        nearest = torch.cdist(codes[unseen_idx], codes[seen_idx]).argmin(1)
        means[unseen_idx] = means[seen_idx[nearest]]
    return means[id_te].to(m_train.dtype)


def gaussian_distortion_bits(mse: float | np.ndarray) -> np.ndarray:
    """``(1/2) log2(2 pi e MSE)``: the entropy of a Gaussian with that variance, in bits."""
    return 0.5 * np.log2(2 * np.pi * np.e * np.asarray(mse, dtype=float))


@dataclass
class BayesRiskCheck:
    """Result of :func:`bayes_risk_check`."""

    num_images: int
    num_codes: int
    num_conflicting_images: int   # images whose code is shared with an image of another label
    empirical_bayes_error: float  # 1 - sum over codes of (count of its majority label) / N

    @property
    def lossless(self) -> bool:
        return self.num_conflicting_images == 0


def bayes_risk_check(z_train: torch.Tensor, y_train: torch.Tensor, z_test: torch.Tensor,
                     y_test: torch.Tensor) -> BayesRiskCheck:
    """Count train+test images that are compressed to the same ``Z`` as an image with a different label."""
    ids = torch.cat(_code_ids(z_train, z_test))
    y = torch.cat([torch.as_tensor(y_train).long().cpu(), torch.as_tensor(y_test).long().cpu()])
    num_labels = int(y.max()) + 1
    n_codes = int(ids.max()) + 1
    table = torch.zeros(n_codes, num_labels, dtype=torch.long)
    table.index_put_((ids, y), torch.ones_like(y), accumulate=True)
    labels_per_code = (table > 0).sum(1)
    conflicting = int(table[labels_per_code > 1].sum())
    bayes_err = 1.0 - float(table.max(1).values.sum()) / len(y)
    return BayesRiskCheck(len(y), n_codes, conflicting, bayes_err)


# ----------------------------------------------------------------------------------- rate–distortion summaries
def aurd(distortion, rate, *, d_min: float | None = None, d_max: float | None = None) -> float:
    """Area under the rate–distortion curve (trapezoid over distortion, points sorted by distortion).

    With ``d_min``/``d_max`` the curve is linearly interpolated and integrated over that interval only
    (constant extrapolation at the ends), so that two methods can be compared on a common interval.
    """
    d = np.asarray(distortion, dtype=float)
    r = np.asarray(rate, dtype=float)
    if d.shape != r.shape or d.ndim != 1 or len(d) < 2:
        raise ValueError("distortion and rate must be 1-D arrays of the same length >= 2")
    order = np.argsort(d, kind="stable")
    d, r = d[order], r[order]
    if d_min is None and d_max is None:
        return float(_trapezoid(r, d))
    lo = d[0] if d_min is None else float(d_min)
    hi = d[-1] if d_max is None else float(d_max)
    if hi <= lo:
        raise ValueError(f"empty interval [{lo}, {hi}]")
    inner = d[(d > lo) & (d < hi)]
    grid = np.concatenate([[lo], inner, [hi]])
    return float(_trapezoid(np.interp(grid, d, r), grid))


def lower_envelope(errors, rates) -> tuple[np.ndarray, np.ndarray]:
    """The Pareto front of (error, rate) points: for increasing rate, strictly decreasing error."""
    e = np.asarray(errors, dtype=float)
    r = np.asarray(rates, dtype=float)
    order = np.lexsort((e, r))
    front_e, front_r = [], []
    best = np.inf
    for i in order:
        if e[i] < best:
            best = e[i]
            front_e.append(e[i])
            front_r.append(r[i])
    return np.array(front_e), np.array(front_r)


def rate_at_error(errors, rates, target_error: float) -> float:
    """Bits needed to reach ``target_error``: linear interpolation on the lower envelope; ``inf`` if never reached."""
    fe, fr = lower_envelope(errors, rates)
    if target_error < fe.min():
        return float("inf")
    if target_error >= fe.max():
        return float(fr[np.argmax(fe)])
    # fe decreases as fr increases: interpolate rate as a function of error
    return float(np.interp(target_error, fe[::-1], fr[::-1]))
