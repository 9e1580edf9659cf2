"""Chapter 2, the 2D Student-t study (Hepburn et al., ICLR 2022, Sec. 3, Sec. 5.1-5.2, appendix C).

One bank of compressive MLP autoencoders (:mod:`perceptual_compression.models.mlp_autoencoder`) is trained
at once; each member has its own objective and training data:

==========  ==========================================  ===========================================
family      objective                                    data
==========  ==========================================  ===========================================
``L1``      ``R + lambda D``            (eq. 9)          2D Student-t samples
``L2``      ``R + p(x)^0.1 lambda D``   (eq. 10)         2D Student-t samples
``L3``      ``R + p(x)^-0.1 lambda D``  (eq. 11)         2D Student-t samples
``U``       ``R + lambda D``            (Fig. 13a)       uniform samples on a square
``UW``      ``p(x)^0.1 (R + lambda D)`` (Fig. 13b)       uniform samples on a square
==========  ==========================================  ===========================================

``D`` is the sum of squared errors and ``p`` the exact Student-t density. The functions here train the
bank with :class:`~perceptual_compression.training.Trainer`, measure rates from real bitstreams
(:class:`~perceptual_compression.coding.EntropyBottleneckCodec`), compute the Spearman correlations of
Observations 2-4 (Fig. 2), the quantization cells and code vectors (Figs. 11-13) and the relative
performance along the x-axis (Fig. 4 left, Fig. 14).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..analysis.correlation import spearman
from ..analysis.induced_distances import induced_distances, perturb
from ..analysis.relative_performance import polynomial_smooth, relative_performance
from ..models.mlp_autoencoder import MLPAutoencoder
from ..sources.student_t import StudentT2D
from ..training import Trainer, default_device, seed_everything
from ..training.schedules import warmup_cosine

FAMILIES = {
    "L1": "R + λD (eq. 9)",
    "L2": "R + p(x)^0.1·λD (eq. 10)",
    "L3": "R + p(x)^-0.1·λD (eq. 11)",
    "U": "R + λD on uniform samples (Fig. 13a)",
    "UW": "p(x)^0.1·(R + λD) on uniform samples (Fig. 13b)",
}


@dataclass(frozen=True)
class Member:
    """One autoencoder of the bank: its family (objective and data) and its Lagrange multiplier."""

    family: str
    lmbda: float

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family={self.family!r} is not valid; valid values are: {', '.join(FAMILIES)}")

    @property
    def name(self) -> str:
        return f"{self.family}-λ{self.lmbda:g}"


def distortion_weight_normalisers(source: StudentT2D, gamma: float, *, n: int = 1_000_000, seed: int = 12345) -> dict[str, float]:
    """``E_p[p(x)^gamma]`` and ``E_p[p(x)^-gamma]`` (Monte Carlo): dividing the weights of eqs. 10-11 by them
    keeps the average weight at 1, so that the three objectives reach similar rates at the same lambda
    (appendix C tunes lambda for that; this does it once for all lambdas)."""
    x = source.sample(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    lp = source.log_prob(x)
    return {"L2": float(torch.exp(gamma * lp).mean()), "L3": float(torch.exp(-gamma * lp).mean())}


def bank_members(cfg) -> list[Member]:
    """The members of the bank described by a :class:`~.ch2_config.Study2DConfig`."""
    members = [Member("L1", lm) for lm in cfg.lambdas]
    members += [Member("L2", lm) for lm in cfg.lambdas]
    members += [Member("L3", lm) for lm in cfg.inverse_lambdas]
    members += [Member("U", cfg.uniform_lambda), Member("UW", cfg.uniform_lambda)]
    return members


@dataclass
class TrainedBank:
    """A trained bank, its members and the source."""

    model: MLPAutoencoder
    members: list[Member]
    source: StudentT2D
    history: object
    gamma: float
    steps_done: int | None = None  # training steps run (fewer than cfg.steps if a time limit stopped it)
    resumed_from: int | None = None  # the step training resumed at from its checkpoint (None: from the start)
    train_seconds: float | None = None  # training time over every invocation that trained it (the Trainer's)

    def index(self, family: str, lmbda: float | None = None) -> int:
        for i, m in enumerate(self.members):
            if m.family == family and (lmbda is None or math.isclose(m.lmbda, lmbda)):
                return i
        raise KeyError(f"no member {family} λ={lmbda}")

    def family_indices(self, family: str) -> list[int]:
        return [i for i, m in enumerate(self.members) if m.family == family]


def train_bank(cfg, *, seed: int = 0, checkpoint_path: str | Path | None = None, device=None,
               progress: bool | None = None, time_limit_s: float | None = None, keep_every: int = 0) -> TrainedBank:
    """Train every member of the bank for ``cfg.steps`` steps (Adam, ``cfg.lr``, batch ``cfg.batch_size``;
    cosine decay to ``cfg.final_lr_factor * cfg.lr``, 1 = constant as in the paper).

    Each step draws one Student-t batch (shared by ``L1``/``L2``/``L3``) and one uniform batch on
    ``[-cfg.uniform_half_width, cfg.uniform_half_width]^2`` (shared by ``U``/``UW``). The entropy
    bottleneck's quantiles get their own Adam (CompressAI's auxiliary loss) and are refined by bisection
    at the end. ``time_limit_s`` stops training early (the trainer's wall-clock budget; with the paper's
    constant learning rate the result is the run with ``steps`` = the bank's ``steps_done``). ``keep_every``
    keeps a copy of the checkpoint every that many steps
    (:func:`~perceptual_compression.training.kept_checkpoint_path`), for :func:`load_bank` to measure the bank
    over training.
    """
    device = device or default_device()
    seed_everything(seed)
    source = StudentT2D(nu=cfg.nu, scale=cfg.scale)
    members = bank_members(cfg)
    K = len(members)
    model = MLPAutoencoder(dim=2, hidden=cfg.hidden, latent=2, n_models=K).to(device)
    main_params = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
    aux_params = [p for n, p in model.named_parameters() if n.endswith("quantiles")]
    opt = torch.optim.Adam(main_params, lr=cfg.lr)
    aux_opt = torch.optim.Adam(aux_params, lr=cfg.aux_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(
        s, warmup_steps=0, total_steps=max(1, cfg.steps), final_factor=cfg.final_lr_factor))

    lm = torch.tensor([m.lmbda for m in members], dtype=torch.float32, device=device)
    fam = [m.family for m in members]
    is_uniform = torch.tensor([f in ("U", "UW") for f in fam], device=device)
    gamma_d = torch.tensor([{"L2": cfg.gamma, "L3": -cfg.gamma}.get(f, 0.0) for f in fam], device=device)
    norm = distortion_weight_normalisers(source, cfg.gamma) if cfg.normalise_weights else {}
    log_norm_d = torch.tensor([math.log(norm.get(f, 1.0)) for f in fam], device=device)
    gamma_all = torch.tensor([cfg.gamma if f == "UW" else 0.0 for f in fam], device=device)
    gen = torch.Generator().manual_seed(seed)
    hw = cfg.uniform_half_width

    def step_fn(step: int):
        xs = source.sample(cfg.batch_size, generator=gen).to(device)
        xu = ((torch.rand(cfg.batch_size, 2, generator=gen) * 2 - 1) * hw).to(device)
        x = torch.where(is_uniform[:, None, None], xu.unsqueeze(0), xs.unsqueeze(0))  # (K, B, 2)
        logp = source.log_prob(x).float()
        wd = torch.exp(gamma_d[:, None] * logp - log_norm_d[:, None])
        wt = torch.exp(gamma_all[:, None] * logp)
        out = model.loss(x, lm, distortion_weight=wd, weight=wt)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(main_params, cfg.clip_grad_norm)
        opt.step()
        sched.step()
        aux = model.aux_loss()
        aux_opt.zero_grad(set_to_none=True)
        aux.backward()
        aux_opt.step()
        return {"loss": out["loss"], "aux_loss": aux, "rate_mean": out["rate"].mean()}

    trainer = Trainer(modules={"bank": model}, optimizers={"opt": opt, "aux": aux_opt},
                      schedulers={"lr": sched},
                      checkpoint_path=checkpoint_path, checkpoint_every=cfg.checkpoint_every if checkpoint_path else 0,
                      seed=None, progress=progress, desc=f"2D bank ({K} autoencoders)", log_every=cfg.log_every,
                      time_limit_s=time_limit_s, keep_every=keep_every, streams={"samples": gen})
    history = trainer.run(step_fn, cfg.steps)
    model.eval()
    model.entropy_bottleneck.update(force=True, update_quantiles=True)
    return TrainedBank(model, members, source, history, cfg.gamma, steps_done=trainer.step,
                       resumed_from=trainer.resumed_from, train_seconds=trainer.train_seconds)


def load_bank(cfg, checkpoint_path: str | Path, *, device=None) -> TrainedBank:
    """The bank of a :func:`train_bank` checkpoint (written every ``cfg.checkpoint_every`` steps and at the
    end), ready to evaluate: the members of ``cfg``, the weights at the checkpoint's step (``steps_done``),
    and the entropy bottleneck's quantiles refined and its tables built as :func:`train_bank` does at the end.
    A checkpoint copied during training gives the bank at that step, to follow a measurement over training.
    ``cfg`` must describe the same bank (members, width); a mismatch raises."""
    members = bank_members(cfg)
    model = MLPAutoencoder(dim=2, hidden=cfg.hidden, latent=2, n_models=len(members))
    state = torch.load(Path(checkpoint_path), map_location="cpu", weights_only=False)
    try:
        model.load_state_dict(state["modules"]["bank"])
    except RuntimeError as err:
        raise ValueError(f"{checkpoint_path} does not hold the bank of this configuration ({len(members)} members "
                         f"{', '.join(m.name for m in members)}, width {cfg.hidden}): {err}") from err
    model.to(device or "cpu").eval()
    model.entropy_bottleneck.update(force=True, update_quantiles=True)
    return TrainedBank(model, members, StudentT2D(nu=cfg.nu, scale=cfg.scale), None, cfg.gamma,
                       steps_done=int(state["step"]))


# ---------------------------------------------------------------------------------- evaluation
@torch.no_grad()
def member_rates(bank: TrainedBank, x: torch.Tensor, *, codec_factory=None) -> list[dict[str, float]]:
    """Per member: rate from the real bitstream (bits per 2D sample, header included), the rate estimated
    from likelihoods, and the mean squared error per sample (SSE), on the points ``x`` (each member is
    evaluated on its own training distribution: pass Student-t samples; uniform members get them too,
    which is how Fig. 13 compares them)."""
    if codec_factory is None:
        from ..coding import EntropyBottleneckCodec

        def codec_factory(eb, name):
            return EntropyBottleneckCodec(eb, codec_id=f"ch2-2d-{name}")
    rows = []
    n = x.shape[0]
    for k, member in enumerate(bank.members):
        single = bank.model.extract(k)
        single.entropy_bottleneck.update(force=True)
        out = single(x, training=False)
        y = single.encode(x)[0]
        codec = codec_factory(single.entropy_bottleneck, member.name)
        data = codec.compress(y.reshape(n, 2, 1, 1))
        y_dec = codec.decompress(data).reshape(n, 2)
        sse = ((out["x_hat"][0] - x) ** 2).sum(-1)
        rows.append({
            "member": member.name, "family": member.family, "lambda": member.lmbda,
            "bits_per_sample": 8 * len(data) / n,
            "bits_per_sample_estimated": float(out["bits"].mean()),
            "sse": float(sse.mean()),
            "decoded_matches": bool(torch.allclose(y_dec, out["y_hat"][0], atol=1e-4)),
        })
    return rows


@torch.no_grad()
def sensitivity_correlations(bank: TrainedBank, *, n: int, delta: float, seed: int = 0,
                             families: tuple[str, ...] = ("L1",), noise_draws: int = 8) -> list[dict[str, float]]:
    """Spearman correlations of ``D_s``, ``D_r/RMSE`` and ``D_in/RMSE`` with ``p(x1)`` (Fig. 2).

    ``x1`` are ``n`` Student-t samples, ``x2 = x1 + delta u`` with ``u`` a random unit vector. ``D_s``
    uses the coded reconstruction (rounding); ``D_r`` and ``D_in`` use the continuous maps ``d(e(x))``
    and ``e(x)``, whose sensitivity is a derivative (with rounding, a displacement of ``delta`` rarely
    leaves its quantization cell and ``D_r`` would be mostly 0). Also reported: the rounded variants
    (``*_rounded``), displacements along the high-variance x-axis only (``*_xaxis``), ``D_r`` through the
    channel the model was trained with (``rho_Dr_noisy``: ``||d(e(x1) + u) - d(e(x2) + u)||`` averaged over
    ``noise_draws`` draws of ``u ~ U(-1/2, 1/2)^2`` shared by ``x1`` and ``x2``; the draws come from a generator
    seeded with ``seed + 1`` and are the same for every member), and the median gain
    ``||f(x1) - f(x2)|| / ||x1 - x2||`` of the continuous ``f`` over the 10% most probable points
    (``gain_f_mode``) and the 10% least probable ones (``gain_f_tail``): 1 is the identity, below 1 the map
    contracts.
    """
    g = torch.Generator().manual_seed(seed)
    x1 = bank.source.sample(n, generator=g)
    x2 = perturb(x1, delta, generator=g)
    x2_axis = x1 + torch.tensor([delta, 0.0])
    dev = next(bank.model.parameters()).device
    p1 = bank.source.prob(x1).numpy()
    noise = None  # (noise_draws, n, latent), drawn once the latent size is known
    rows = []
    for k, member in enumerate(bank.members):
        if member.family not in families:
            continue
        single = bank.model.extract(k)
        enc = lambda v: single.encode(v.to(dev))[0]  # noqa: E731
        dec = lambda y: single.decode(y.unsqueeze(0))[0]  # noqa: E731
        quant = lambda y: single.quantize(y.unsqueeze(0))[0]  # noqa: E731
        cont = induced_distances(x1, x2, enc, dec, quantize=quant, self_quantized=True)
        rounded = induced_distances(x1, x2, enc, dec, quantize=quant, self_quantized=True,
                                    rec_quantized=True, inner_quantized=True)
        c = cont.spearman_with(p1)
        gain = cont.d_rec / (cont.rmse * math.sqrt(x1.shape[1]))
        top, bottom = p1 >= np.quantile(p1, 0.9), p1 <= np.quantile(p1, 0.1)
        r = rounded.spearman_with(p1)
        a = induced_distances(x1, x2_axis, enc, dec, quantize=quant).spearman_with(p1)
        y1, y2 = enc(x1), enc(x2)
        if noise is None:
            gu = torch.Generator().manual_seed(seed + 1)
            noise = (torch.rand(noise_draws, *y1.shape, generator=gu) - 0.5).to(y1.device)
        d_noisy = torch.stack([(dec(y1 + u) - dec(y2 + u)).norm(dim=1) for u in noise]).mean(0)
        rho_noisy = spearman(d_noisy.cpu().double().numpy() / cont.rmse, p1)
        rows.append({"member": member.name, "family": member.family, "lambda": member.lmbda,
                     "rho_Ds": c["D_s"], "rho_Dr": c["D_r/RMSE"], "rho_Din": c["D_in/RMSE"],
                     "rho_Ds_continuous": induced_distances(x1, x2, enc, dec).spearman_with(p1)["D_s"],
                     "rho_Dr_rounded": r["D_r/RMSE"], "rho_Din_rounded": r["D_in/RMSE"],
                     "rho_Dr_xaxis": a["D_r/RMSE"], "rho_Din_xaxis": a["D_in/RMSE"], "rho_Dr_noisy": rho_noisy,
                     "gain_f_mode": float(np.median(gain[top])), "gain_f_tail": float(np.median(gain[bottom]))})
    return rows


@torch.no_grad()
def quantization_cells(model: MLPAutoencoder, *, extent: tuple[float, float, float, float], resolution: int = 300):
    """The partition of the plane induced by ``Q(e(x))`` and the code vectors ``d(Q(e(x)))`` (Figs. 11-13).

    Returns ``(xs, ys, labels, codes)``: a grid, an integer cell label per grid point (one per distinct
    quantized latent) and the code vectors (reconstructions) of the cells present on the grid.
    """
    x0, x1, y0, y1 = extent
    xs = torch.linspace(x0, x1, resolution)
    ys = torch.linspace(y0, y1, resolution)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], -1)
    dev = next(model.parameters()).device
    yq = model.quantize(model.encode(pts.to(dev)))[0]
    uniq, labels = torch.unique(yq, dim=0, return_inverse=True)
    codes = model.decode(uniq.unsqueeze(0))[0].cpu()
    return xs.numpy(), ys.numpy(), labels.reshape(resolution, resolution).cpu().numpy(), codes.numpy()


@torch.no_grad()
def pointwise_rate_distortion(model: MLPAutoencoder, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per point: squared error of the coded reconstruction and its rate ``-log2 p(y_hat)`` in bits."""
    dev = next(model.parameters()).device
    out = model(x.to(dev), training=False)
    sse = ((out["x_hat"][0].cpu() - x) ** 2).sum(-1)
    return sse.numpy(), out["bits"][0].cpu().numpy()


def line_profiles(bank: TrainedBank, *, n: int = 3500, x_max: float = 35.0, window: float = 0.5) -> dict[str, object]:
    """Every member's distortion and rate along ``(x, 0), x in [0, x_max]``, per window of width ``window``.

    Eq. 12 defines the performance of a network on a *set* of points as its distortion over its rate; the
    sets here are consecutive windows along the line (a single point's ``D/R`` swings by orders of magnitude
    depending on how close it lies to a code vector). Returns the window centres ``x`` and, per member name,
    ``D`` (mean squared error of the coded reconstruction) and ``R`` (mean ``-log2 p(y_hat)`` in bits) per
    window. These are what :func:`relative_performance_along_x` and :func:`rate_matched_relative` divide.
    """
    line = bank.source.line_along_x(n, x_max)
    xs = line[:, 0].numpy()
    edges = np.arange(0.0, x_max + window, window)
    which = np.clip(np.digitize(xs, edges) - 1, 0, len(edges) - 2)
    centres = 0.5 * (edges[:-1] + edges[1:])
    keep = [b for b in range(len(centres)) if np.any(which == b)]
    members = {}
    for i, m in enumerate(bank.members):
        d, r = pointwise_rate_distortion(bank.model.extract(i), line)
        members[m.name] = {"D": np.array([d[which == b].mean() for b in keep]),
                           "R": np.array([r[which == b].mean() for b in keep])}
    return {"x": centres[keep], "members": members}


def _ratios(x, pairs, degree: int) -> dict[str, object]:
    raw = np.array([relative_performance(d2, r2, d1, r1) for d2, r2, d1, r1 in pairs])
    fit = np.array([polynomial_smooth(x, r, degree) for r in raw])
    return {"raw": raw, "fit": fit, "mean_raw": raw.mean(0), "mean_fit": fit.mean(0)}


def relative_from_profiles(profiles, *, degree: int = 20) -> dict[str, object]:
    """Fig. 4 (left) from :func:`line_profiles`: ``P_L2 / P_L1`` per window for the members with the same lambda
    (our first pairing: the paper tunes lambda "so that the networks have similar rate ranges" and does not say
    how it pairs them; see :func:`rate_matched_relative`), their degree-``degree`` polynomial fits (Fig. 14a) and the means over pairs
    ("average across rates")."""
    members = profiles["members"]
    lambdas = sorted(float(name[len("L1-λ"):]) for name in members if name.startswith("L1-λ")
                     and f"L2-λ{name[len('L1-λ'):]}" in members)
    x = np.asarray(profiles["x"], dtype=float)
    pairs = []
    for lm in lambdas:
        p1, p2 = members[f"L1-λ{lm:g}"], members[f"L2-λ{lm:g}"]
        pairs.append((p2["D"], p2["R"], p1["D"], p1["R"]))
    return {"x": x, "lambdas": lambdas, **_ratios(x, pairs, degree)}


def relative_performance_along_x(bank: TrainedBank, *, n: int = 3500, x_max: float = 35.0, window: float = 0.5,
                                 degree: int = 20) -> dict[str, object]:
    """Relative performance ``P_L2 / P_L1`` along ``(x, 0), x in [0, x_max]`` (Fig. 4 left, Fig. 14), pairing
    the ``L1`` and ``L2`` members with the same lambda: :func:`relative_from_profiles` of :func:`line_profiles`."""
    return relative_from_profiles(line_profiles(bank, n=n, x_max=x_max, window=window), degree=degree)


def rate_matched_relative(profiles, rates: list[dict], *, degree: int = 20) -> dict[str, object]:
    """Fig. 4 (left) at equal rate: each ``L2`` member against the ``L1`` family interpolated to its coded rate.

    Pairing networks trained with the same lambda (:func:`relative_from_profiles`) does not give the "similar rate
    ranges" the paper tunes its lambdas for: where the weighted loss moves a network to a lower
    rate, eq. 12's ``D / R`` is not neutral to that move, so part of the ratio is a rate difference, not a
    re-allocation. Here each ``L2`` member with coded rate ``r`` (``rates``: :func:`member_rates`'s rows, bits
    per sample from the real bitstream) is compared with the two ``L1`` members whose coded rates bracket
    ``r``: per window, their ``log D`` and their ``R`` are interpolated linearly in the coded rate, at weight
    ``w = (r - r_a) / (r_b - r_a)`` (log-linear in ``D`` is exact where distortion falls exponentially with
    rate, ``D ~ 2^(-c R)``, as at high rate); ``P_L1 = D / R`` of that interpolant. ``L2`` members outside the ``L1``
    family's rate range are not extrapolated: they are listed in ``skipped``. Returns ``x``, the ``lambdas``
    of the compared ``L2`` members, their coded ``bits``, the bracketing members (``between``), ``raw``,
    ``fit``, ``mean_raw``, ``mean_fit`` and ``skipped``.
    """
    members = profiles["members"]
    bits = {r["member"]: float(r["bits_per_sample"]) for r in rates}
    l1 = sorted((name for name in members if name.startswith("L1-")), key=bits.__getitem__)
    r1 = np.array([bits[name] for name in l1])
    if len(l1) < 2 or np.any(np.diff(r1) <= 0):
        raise ValueError(f"need at least two L1 members with distinct coded rates, got {dict(zip(l1, r1))}")
    l2 = sorted((name for name in members if name.startswith("L2-")), key=lambda name: float(name[len("L2-λ"):]))
    x = np.asarray(profiles["x"], dtype=float)
    pairs, lambdas, used_bits, between, skipped = [], [], [], [], []
    for name in l2:
        r = bits[name]
        if not r1[0] <= r <= r1[-1]:
            skipped.append(name)
            continue
        b = int(min(max(np.searchsorted(r1, r, side="left"), 1), len(r1) - 1))
        a = b - 1
        w = (r - r1[a]) / (r1[b] - r1[a])
        pa, pb = members[l1[a]], members[l1[b]]
        d1 = np.exp((1 - w) * np.log(np.asarray(pa["D"], dtype=float)) + w * np.log(np.asarray(pb["D"], dtype=float)))
        rr1 = (1 - w) * np.asarray(pa["R"], dtype=float) + w * np.asarray(pb["R"], dtype=float)
        p2 = members[name]
        pairs.append((np.asarray(p2["D"], dtype=float), np.asarray(p2["R"], dtype=float), d1, rr1))
        lambdas.append(float(name[len("L2-λ"):]))
        used_bits.append(r)
        between.append([l1[a], l1[b]])
    if not pairs:
        raise ValueError(f"no L2 member codes within the L1 family's range {r1[0]:.3g}-{r1[-1]:.3g} bits: "
                         f"nothing to compare (L2 rates: {', '.join(f'{bits[n]:.3g}' for n in l2)})")
    return {"x": x, "lambdas": lambdas, "bits": used_bits, "between": between, **_ratios(x, pairs, degree),
            "skipped": skipped}


def compare_pairings(equal_lambda, equal_rate) -> tuple[list[dict], dict]:
    """Fig. 4 (left) paired by equal lambda (:func:`relative_from_profiles`) beside the same bank at equal coded
    rate (:func:`rate_matched_relative`). Returns one row per compared ``L2`` member (its lambda, coded bits,
    the ``L1`` members on either side, the centre ratio both ways) and one summary row: the equal-lambda centre
    mean over the *same* members, the equal-rate centre mean (arithmetic and geometric), both tail medians and
    the members not compared."""
    se, sm = fig4_summary(equal_lambda), fig4_summary(equal_rate)
    eq_centre = {float(lm): float(v) for lm, v in zip(equal_lambda["lambdas"], se["centre_per_lambda"])}
    rows = [{"L2 λ": lm, "L2 bits": b, "L1 on either side": f"{lo}, {hi}", "centre, equal λ": eq_centre.get(lm, np.nan),
             "centre, equal rate": float(v)}
            for lm, b, (lo, hi), v in zip(equal_rate["lambdas"], equal_rate["bits"], equal_rate["between"],
                                          sm["centre_per_lambda"])]
    summary = {"centre, equal λ (same members)": float(np.mean([eq_centre.get(lm, np.nan) for lm in equal_rate["lambdas"]])),
               "centre, equal rate": sm["centre_mean"], "geometric, equal rate": sm["centre_geomean"],
               "tail, equal λ": se["tail_median"], "tail, equal rate": sm["tail_median"],
               "not compared": ", ".join(equal_rate["skipped"]) or "-"}
    return rows, summary


def compare_banks(banks) -> tuple[list[dict], list[dict]]:
    """:func:`compare_pairings` for several banks: ``banks`` holds ``(label, equal-lambda result, equal-rate
    result)`` (arrays, or their JSON lists as a record stores them). Returns the rows of every compared member
    and one summary row per bank, each beginning with its ``"bank"`` label."""
    members, summaries = [], []
    for label, equal_lambda, equal_rate in banks:
        rows, summary = compare_pairings(equal_lambda, equal_rate)
        members += [{"bank": label, **r} for r in rows]
        summaries.append({"bank": label, **summary})
    return members, summaries


def fig4_summary(rel, *, centre_below: float = 1.0, tail_above: float = 5.0) -> dict[str, object]:
    """The numbers the chapter reads off Fig. 4 (left) for a result of :func:`relative_performance_along_x`
    (or its JSON form, or :func:`as_printed_eq13`'s).

    ``centre_per_lambda``: each pair's mean ratio over the windows with ``x < centre_below``;
    ``centre_mean``: their mean, the "average across rates" at the centre (paper: 0.86);
    ``tail_median``: the median over the windows with ``x > tail_above`` of the mean over rates (paper: above
    1, a loss); ``fit_min``/``fit_min_x``: the lowest value of the mean polynomial fit and where it lies.
    ``centre_geomean``/``tail_geomedian``: the same with geometric means (over windows and rates at the
    centre; over rates in each tail window, then the median). Arithmetic means of ratios that spread over
    orders of magnitude are not symmetric under inverting the ratio (a ratio and its reciprocal can both
    average above 1); geometric means are (inverting every ratio inverts them exactly).
    """
    x = np.asarray(rel["x"], dtype=float)
    raw, fit = np.asarray(rel["raw"], dtype=float), np.asarray(rel["fit"], dtype=float)
    centre, tail = x < centre_below, x > tail_above
    if not centre.any() or not tail.any():
        raise ValueError(f"no window below x = {centre_below} or above x = {tail_above} (windows span "
                         f"{x.min():g} to {x.max():g})")
    per_lambda = raw[:, centre].mean(1)
    mean_raw, mean_fit = raw.mean(0), fit.mean(0)
    i = int(np.argmin(mean_fit))
    with np.errstate(divide="ignore"):
        log_raw = np.log(raw)
    return {"centre_per_lambda": per_lambda, "centre_mean": float(mean_raw[centre].mean()),
            "tail_median": float(np.median(mean_raw[tail])), "fit_min": float(mean_fit[i]), "fit_min_x": float(x[i]),
            "centre_geomean": float(np.exp(log_raw[:, centre].mean())),
            "tail_geomedian": float(np.exp(np.median(log_raw[:, tail].mean(0))))}


def as_printed_eq13(rel, *, degree: int = 20) -> dict[str, object]:
    """Fig. 4 (left) with eq. 13 read exactly as appendix C prints it: ``P1 / P2``, ``P1`` the network trained
    with ``L1 = R + lambda D`` (eq. 9), ``P2`` the one trained with ``L2`` (eq. 10), ``P = D / R`` (eq. 12).

    Sec. 5.1 describes the opposite quotient (the weighted network's performance divided by the plain one's,
    "below 1.0 means a performance gain using the probability"), which is what
    :func:`relative_performance_along_x` computes; appendix D.1 again cites eq. 13 with ``P1`` the MSE network
    while D.2 puts the MS-SSIM network in the numerator. This returns ``rel`` with every windowed ratio
    inverted and the degree-``degree`` fits redone on the inverted values (the fit of a reciprocal is not the
    reciprocal of the fit). Read this way, values below 1 mean the *plain* network does better.
    """
    x = np.asarray(rel["x"], dtype=float)
    raw = 1.0 / np.asarray(rel["raw"], dtype=float)
    fit = np.array([polynomial_smooth(x, r, degree) for r in raw])
    return {"x": x, "lambdas": [float(v) for v in rel["lambdas"]], "raw": raw, "fit": fit,
            "mean_raw": raw.mean(0), "mean_fit": fit.mean(0)}


def without_collapsed_pairs(rel: dict, rates: list[dict], *, min_bits: float = 0.05) -> tuple[dict, list[float]]:
    """Fig. 4 (left) without the ``L1``/``L2`` pairs whose weighted member collapsed to (almost) zero rate.

    With ``gamma = 1`` the weight is the density itself (median 0.40 over Student-t samples, against 0.91 for
    ``p(x)^0.1``), so at the lowest lambdas ``lambda * p(x)`` is too small for the rate term: the ``L2`` member
    maps every sample to one code, its coded rate is little more than the header and ``P = D / R`` divides by
    about zero. ``rel`` is
    :func:`relative_performance_along_x`'s result (or its JSON form), ``rates`` :func:`member_rates`'s. Returns
    ``rel`` restricted to the pairs whose ``L2`` member codes at least ``min_bits`` bits per sample, with the
    means over rates recomputed, and the dropped lambdas.
    """
    bits = {r["member"]: r["bits_per_sample"] for r in rates}
    lambdas = [float(v) for v in rel["lambdas"]]
    keep = [i for i, lm in enumerate(lambdas) if bits[f"L2-λ{lm:g}"] >= min_bits]
    if not keep:
        raise ValueError(f"every L2 member codes fewer than {min_bits} bits per sample: nothing to compare")
    raw, fit = np.asarray(rel["raw"], dtype=float)[keep], np.asarray(rel["fit"], dtype=float)[keep]
    out = {"x": np.asarray(rel["x"], dtype=float), "lambdas": [lambdas[i] for i in keep], "raw": raw, "fit": fit,
           "mean_raw": raw.mean(0), "mean_fit": fit.mean(0)}
    return out, [lm for i, lm in enumerate(lambdas) if i not in keep]


def across_seeds(records: list[dict]) -> dict[str, object]:
    """Fig. 2 and Fig. 4 (left) over several banks that differ only in their seed.

    ``records`` are the JSON records written by ``benchmarks/ch2_study2d.py`` (one per seed; their
    ``config`` must be identical). Returns the seeds, the lambdas of the ``L1``/``L2`` pairs (ascending),
    arrays of shape ``(n_seeds, n_lambdas)`` for the coded rate of the ``L1`` member (``bits``), its
    correlations (``rho_Ds``, ``rho_Dr``, ``rho_Din``) and the Fig. 4 centre ratio per lambda
    (``centre_ratio``), and per seed the centre ratio averaged over rates (``centre_mean``, the number
    the paper reports as 0.86) and the median tail ratio (``tail_median``). ``mean``/``sd`` hold the
    mean and sample standard deviation over seeds of each array (per lambda) and of ``centre_mean``.
    """
    if len(records) < 2:
        raise ValueError(f"across_seeds needs at least 2 records, got {len(records)}")
    cfg0 = records[0]["config"]
    for r in records[1:]:
        diff = sorted(k for k in set(cfg0) | set(r["config"]) if cfg0.get(k) != r["config"].get(k))
        if diff:
            raise ValueError(f"the records differ in more than their seed: config keys {diff}")
    seeds = [int(r["seed"]) for r in records]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"repeated seeds: {seeds}")
    lambdas = sorted(float(v) for v in cfg0["lambdas"])
    out: dict[str, object] = {"seeds": seeds, "lambdas": lambdas}
    arrays: dict[str, list[list[float]]] = {k: [] for k in ("bits", "rho_Ds", "rho_Dr", "rho_Din", "centre_ratio")}
    for r in records:
        bits = {row["member"]: row["bits_per_sample"] for row in r["rates"]}
        corr = {row["lambda"]: row for row in r["correlations"] if row["family"] == "L1"}
        per_lambda = {float(k): v for k, v in r["summary"]["fig4_centre_ratio_per_lambda"].items()}
        arrays["bits"].append([bits[corr[lm]["member"]] for lm in lambdas])
        for k in ("rho_Ds", "rho_Dr", "rho_Din"):
            arrays[k].append([corr[lm][k] for lm in lambdas])
        arrays["centre_ratio"].append([per_lambda[lm] for lm in lambdas])
    out.update({k: np.asarray(v, dtype=float) for k, v in arrays.items()})
    out["centre_mean"] = np.asarray([r["summary"]["fig4_centre_ratio"] for r in records], dtype=float)
    out["tail_median"] = np.asarray([r["summary"]["fig4_tail_median_ratio"] for r in records], dtype=float)
    keys = (*arrays, "centre_mean", "tail_median")
    out["mean"] = {k: np.mean(out[k], axis=0) for k in keys}
    out["sd"] = {k: np.std(out[k], axis=0, ddof=1) for k in keys}
    return out


def correlations_by_samples(records: list[dict], *, lambdas=None) -> list[dict]:
    """Fig. 2's correlations against training length, one row per ``L1`` member and measurement.

    ``records`` mixes the JSON records of ``benchmarks/ch2_study2d.py`` (a bank measured at the end of its
    training: ``steps_done``, else ``config["steps"]``) and of ``benchmarks/ch2_study2d_trajectory.py`` (one
    bank measured at several checkpoints). Each row holds the seed, the member's ``lambda``, the ``batch``
    size, the training ``steps``, ``samples`` seen (steps × batch), the coded ``bits`` per sample and ``rho_Ds``, ``rho_Dr``,
    ``rho_Din``, ``gain_f_mode``, ``gain_f_tail``. ``lambdas`` keeps only those lambdas."""
    rows = []

    def add(seed, batch, steps, members, bits):
        for m in members:
            if m.get("family", "L1") != "L1" or not m["member"].startswith("L1-"):
                continue
            lam = float(m["lambda"])
            if lambdas is not None and not any(math.isclose(lam, float(v)) for v in lambdas):
                continue
            rows.append({"seed": int(seed), "lambda": lam, "batch": int(batch), "steps": int(steps),
                         "samples": int(steps) * int(batch),
                         "bits": float(bits[m["member"]]),
                         **{k: float(m[k]) for k in ("rho_Ds", "rho_Dr", "rho_Din", "gain_f_mode", "gain_f_tail")}})

    for r in records:
        batch = r["config"]["batch_size"]
        if "checkpoints" in r:
            for ck in r["checkpoints"]:
                add(r["seed"], batch, ck["steps"], ck["members"], {m["member"]: m["bits_per_sample"] for m in ck["members"]})
        else:
            add(r["seed"], batch, r.get("steps_done") or r["config"]["steps"], r["correlations"],
                {m["member"]: m["bits_per_sample"] for m in r["rates"]})
    return sorted(rows, key=lambda row: (row["lambda"], row["seed"], row["batch"], row["steps"]))

