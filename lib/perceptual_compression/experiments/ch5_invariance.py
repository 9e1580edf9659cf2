"""The experiments of Dubois et al. (2021) as the chapter runs them: one function per figure or table.

- :func:`run_banana` — Fig. 5: VC and VIC on the banana source over a sweep of beta and seeds; rate
  (estimated and entropy-coded) against the rotation-invariant distortion ``R[M(X) | Z]`` (squared error of
  the Bayes predictor of the norm from the code, in Gaussian bits); :func:`aurd_table`;
  :func:`quantization_map` / :func:`plot_quantization` for the cells and code vectors.
- :func:`run_mnist` — Fig. 6 and Sec. 5.1 on augmented MNIST: VC and VIC over beta, VIC with the mild,
  standard and supervised augmentations, BINCE with the supervised augmentation; each run is evaluated
  on augmented test images (rate estimated and coded, linear and MLP probes on ``Z``, a linear probe on
  the decoded images of VC and VIC and, when ``MNISTConfig.recon_predictor == "resnet18"`` (the paper
  scale), the paper's ResNet-18 trained on those reconstructions, Bayes-risk check).
- :func:`mnist_summary` — mean and standard deviation over the ``MNISTConfig.seeds`` runs of every spec
  (:func:`mnist_jobs`); :func:`aurd_status`, :func:`fewer_bits` and :func:`sec51_status` — the status rules of
  the results (like with like: the seeds' spread, equal β or no higher error).
- Checkpoints are named by :func:`banana_checkpoint_name`, :func:`mnist_checkpoint_name` and
  :func:`predictor_checkpoint_name`, with the configs' ``tag()``, so that other settings never resume a run.
- :func:`bince_feature_compression` — Sec. 5.3's recipe (an entropy bottleneck over frozen features) on the
  chapter's own BINCE encoder.
- :func:`check_parameters` — validation of the notebook's parameters (fails at once, naming valid values).

Small models on a shared CPU run several times faster single-threaded: :func:`single_threaded` limits
PyTorch's intra-op threads while the experiments run (it does nothing on CUDA).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..augment.mnist import RandomAffine, to_float_images
from ..augment.views import ImageViews
from ..models.ensemble import CompressorEnsemble, train_ensemble
from ..models.invariant_compressor import BananaConfig, InvariantCompressor, MNISTConfig, is_coder_table, train_compressor
from ..sources.banana import Banana, maximal_invariant, random_rotation, representative
from ..evaluation.downstream import aurd, bayes_risk_check, cell_mean_regression, gaussian_distortion_bits, probe_error
from ..evaluation.recon_predictor import ReconPredictorConfig, recon_predictor_error
from ..training.tags import settings_hash

RECON_PREDICTORS = ("linear", "resnet18")

CHAPTER = "ch5_invariant"


# ----------------------------------------------------------------------------------- parameters
def check_parameters(*, scale: str, seed: int, workers: int = 2, download_clip: bool = False,
                     checkpoint_dir: str = "") -> dict:
    """Validate the chapter's parameters; raise :class:`~perceptual_compression.params.ParameterError`."""
    from ..params import ParameterError, check_choice, check_range

    check_choice("scale", scale, ["small", "paper"])
    check_range("seed", seed, 0, 2**31 - 1, integer=True)
    check_range("workers", workers, 1, 64, integer=True)
    check_choice("download_clip", download_clip, [False, True])
    if not isinstance(checkpoint_dir, str):
        raise ParameterError(f"checkpoint_dir={checkpoint_dir!r} is not valid; it must be a string "
                             "(a directory, or '' for no checkpoints)")
    return {"scale": scale, "seed": seed, "workers": workers, "download_clip": download_clip,
            "checkpoint_dir": checkpoint_dir}


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run PyTorch CPU ops on one thread inside the block (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _ckpt(checkpoint_dir: str | Path | None, name: str) -> Path | None:
    if not checkpoint_dir:
        return None
    return Path(checkpoint_dir) / f"{name}.pt"


def banana_checkpoint_name(cfg: BananaConfig, seed: int, member: tuple[str, float, int] | None = None) -> str:
    """Checkpoint name of :func:`run_banana`'s training: the vectorised ensemble of every member (``member=None``,
    the small scale) or one ``(objective, beta, seed index)`` member; both carry ``cfg.tag()``, so that other
    settings (betas, steps, learning rate, widths, seeds, ...) never resume or return this run."""
    if member is None:
        return f"banana-v2-{cfg.scale}-{seed}-{cfg.tag()}"
    obj, beta, s = member
    return f"banana-v4-{cfg.scale}-{seed}-{obj}-{beta:g}-{s}-{cfg.tag()}"


# ----------------------------------------------------------------------------------- banana (Fig. 5)
@dataclass
class BananaRun:
    objective: str
    beta: float
    seed: int
    model: InvariantCompressor
    rate_bits: float = math.nan      # estimated, per sample
    coded_bits: float = math.nan     # 8 * len(bitstream) / N for the whole test batch
    coded_alone_bits: float = math.nan  # mean 8 * len(bitstream) when each example is its own bitstream
    mse: float = math.nan            # squared error of the Bayes predictor of |x| from Z
    distortion_bits: float = math.nan
    num_codes: int = 0


def _banana_members(cfg: BananaConfig) -> list[tuple[str, float, int]]:
    return [(obj, float(b), s) for obj in ("VC", "VIC") for b in cfg.betas for s in range(cfg.seeds)]


def _banana_inputs(objective: str, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return random_rotation(x, generator) if objective == "VIC" else x


def run_banana(cfg: BananaConfig, seed: int = 0, *, progress: bool | None = None,
               checkpoint_dir: str | Path | None = None) -> list[BananaRun]:
    """Train VC and VIC for every (beta, seed) of ``cfg`` and evaluate them on a fixed test set."""
    src = Banana()
    members = _banana_members(cfg)
    init_seeds = [10_000 * seed + 1000 * s + i for i, (_, _, s) in enumerate(members)]
    models: list[InvariantCompressor] = []
    if not cfg.batchnorm and cfg.prior == "factorized" and cfg.latent_dim("VC") == cfg.latent_dim("VIC") \
            and not cfg.weight_decay and not cfg.n_val and not cfg.authors_clip:
        # small scale: every member in one vectorised pass (models/ensemble.py)
        k, b = len(members), cfg.batch_size
        is_vic = torch.tensor([o == "VIC" for o, _, _ in members]).view(k, 1, 1)
        g = torch.Generator().manual_seed(seed)

        def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
            x = src.sample(k * b, g).view(k, b, 2)
            xa = random_rotation(x, g)
            rep = representative(maximal_invariant(x))
            return torch.where(is_vic, xa, x), torch.where(is_vic, rep, x)

        ens = CompressorEnsemble(k, (2,), cfg.z_dim, cfg.hidden, cfg.layers, init_seeds)
        train_ensemble(ens, batch, [bb for _, bb, _ in members], steps=cfg.steps, lr=cfg.lr, lr_decay=cfg.lr_decay,
                       likelihood="gaussian", seed=seed,
                       checkpoint_path=_ckpt(checkpoint_dir, banana_checkpoint_name(cfg, seed)),
                       progress=progress, desc=f"banana: {k} compressors", streams={"batches": g})
        models = [ens.member(i) for i in range(k)]
    else:
        for i, (obj, beta, s) in enumerate(members):
            torch.manual_seed(init_seeds[i])
            model = cfg.build(obj)
            g = torch.Generator().manual_seed(init_seeds[i])
            from ..augment.views import banana_pair

            val = banana_pair(src, obj, cfg.n_val, torch.Generator().manual_seed(30_000 + seed)) if cfg.n_val else None
            train_compressor(model, obj, lambda step, o=obj, gg=g: banana_pair(src, o, cfg.batch_size, gg),
                             beta=beta, steps=cfg.steps, lr=cfg.lr, lr_decay=cfg.lr_decay, likelihood="gaussian",
                             grad_clip=cfg.grad_clip(beta),
                             seed=init_seeds[i], progress=progress, desc=f"banana {obj} beta={beta:g} run {s}",
                             streams={"batches": g}, weight_decay=cfg.weight_decay,
                             validation=val, validate_every=cfg.val_every, val_batch_size=2048,
                             lr_epoch_steps=cfg.lr_epoch_steps,
                             checkpoint_path=_ckpt(checkpoint_dir, banana_checkpoint_name(cfg, seed, (obj, beta, s))))
            models.append(model)
    runs = [BananaRun(o, b, s, m) for (o, b, s), m in zip(members, models)]
    evaluate_banana(runs, cfg.n_test, seed)
    return runs


@torch.no_grad()
def evaluate_banana(runs: list[BananaRun], n: int, seed: int = 0) -> None:
    """Fill in rates and distortions: codes of ``n`` fresh samples fit the cell means, ``n`` others test them."""
    src = Banana()
    x_fit = src.sample(n, torch.Generator().manual_seed(10_000 + seed))
    x_test = src.sample(n, torch.Generator().manual_seed(20_000 + seed))
    m_fit, m_test = maximal_invariant(x_fit), maximal_invariant(x_test)
    for r in runs:
        inp_fit = _banana_inputs(r.objective, x_fit, torch.Generator().manual_seed(30_000 + seed))
        inp_test = _banana_inputs(r.objective, x_test, torch.Generator().manual_seed(40_000 + seed))
        z_fit, _ = r.model.represent(inp_fit)
        z_test, bits = r.model.represent(inp_test)
        pred = cell_mean_regression(z_fit, m_fit, z_test)
        r.mse = float(((pred - m_test) ** 2).mean())
        r.distortion_bits = float(gaussian_distortion_bits(r.mse))
        r.rate_bits = float(bits.mean())
        data = r.model.compress(inp_test)
        if not torch.equal(r.model.decompress(data), z_test):
            raise RuntimeError("banana: the decoded codes differ from the encoder's (entropy coder mismatch)")
        r.coded_bits = 8.0 * len(data) / n
        r.coded_alone_bits = coded_alone_bits(r.model, inp_test)
        r.num_codes = int(len(torch.unique(z_test, dim=0)))


@torch.no_grad()
def coded_alone_bits(model: InvariantCompressor, x: torch.Tensor, count: int = 64) -> float:
    """Mean size in bits of the first ``count`` examples of ``x`` each written as its own bitstream.

    This is the per-example cost when examples are stored one by one: the container header (15 bytes)
    and the rANS flush (32-64 bits) are paid by every example instead of once per batch."""
    k = min(count, len(x))
    return sum(8.0 * len(model.compress(x[i:i + 1])) for i in range(k)) / k


def banana_table(runs: list[BananaRun]) -> pd.DataFrame:
    return pd.DataFrame([{
        "objective": r.objective, "beta": r.beta, "seed": r.seed, "rate_bits": r.rate_bits,
        "coded_bits": r.coded_bits, "overhead_%": 100 * (r.coded_bits / r.rate_bits - 1) if r.rate_bits > 0 else math.nan,
        "coded_alone_bits": r.coded_alone_bits,
        "mse_norm": r.mse, "distortion_bits": r.distortion_bits, "codes": r.num_codes,
    } for r in runs])


def aurd_table(table: pd.DataFrame, rate: str = "rate_bits") -> pd.DataFrame:
    """AURD per objective: mean and standard error over seeds, on the distortion interval every curve covers
    (``aurd_common``), and on each curve's own interval as in the authors' script (``aurd_own``)."""
    curves = {key: g.sort_values("distortion_bits") for key, g in table.groupby(["objective", "seed"])}
    lo = max(float(g["distortion_bits"].min()) for g in curves.values())
    hi = min(float(g["distortion_bits"].max()) for g in curves.values())
    rows = []
    for (obj, s), g in curves.items():
        rows.append({"objective": obj, "seed": s,
                     "aurd_common": aurd(g["distortion_bits"], g[rate], d_min=lo, d_max=hi) if hi > lo else math.nan,
                     "aurd_own": aurd(g["distortion_bits"], g[rate])})
    per = pd.DataFrame(rows)
    out = per.groupby("objective").agg(
        aurd_common=("aurd_common", "mean"), aurd_common_sem=("aurd_common", "sem"),
        aurd_own=("aurd_own", "mean"), aurd_own_sem=("aurd_own", "sem"), runs=("seed", "count"))
    out.attrs["interval"] = (lo, hi)
    return out


def aurd_status(aurd: pd.DataFrame, *, margin_sems: float = 2.0) -> dict[str, Any]:
    """Whether VIC's AURD is below VC's (Fig. 5), judged against the spread over seeds.

    ``aurd``: :func:`aurd_table`. Returns ``ratio`` (VIC / VC, on the common interval), ``ratio_sem`` (its standard
    error from the two means' standard errors over seeds, to first order: ``ratio * sqrt((s_VIC / VIC)^2 +
    (s_VC / VC)^2)``), ``status`` and ``reason``: ``"qualitative"`` if ``ratio < 1`` and ``|1 - ratio|`` exceeds
    ``margin_sems`` standard errors, ``"differs"`` if ``ratio > 1`` by that margin, else ``"info"`` (inconclusive:
    the gap is within the seeds' spread, or there is a single seed per objective and so no spread to judge it by).
    """
    vic, vc = aurd.loc["VIC"], aurd.loc["VC"]
    ratio = float(vic["aurd_common"] / vc["aurd_common"])
    runs = int(min(vic["runs"], vc["runs"]))
    out: dict[str, Any] = {"ratio": ratio, "ratio_sem": math.nan, "runs": runs}
    if not math.isfinite(ratio):
        return {**out, "status": "info", "reason": "no common distortion interval: the AURDs do not compare"}
    if runs < 2:
        return {**out, "status": "info",
                "reason": "inconclusive: one seed per objective, so no seed spread to judge the ratio by"}
    sem = abs(ratio) * math.hypot(float(vic["aurd_common_sem"] / vic["aurd_common"]),
                                  float(vc["aurd_common_sem"] / vc["aurd_common"]))
    out["ratio_sem"] = sem
    gap = f"|1 - ratio| = {abs(1 - ratio):.3g} vs {margin_sems:g} s.e. = {margin_sems * sem:.3g} ({runs} seeds)"
    if not abs(1 - ratio) > margin_sems * sem:
        return {**out, "status": "info", "reason": f"inconclusive: the gap is within the seeds' spread, {gap}"}
    return {**out, "status": "qualitative" if ratio < 1 else "differs", "reason": gap}


@torch.no_grad()
def quantization_map(model: InvariantCompressor, extent: float = 6.0, n: int = 300) -> dict:
    """Codes of a grid over ``[-extent, extent]^2``: cell ids, their boundaries, and each cell's code vector
    (decoded reconstruction) with its probability under the entropy model."""
    g = torch.linspace(-extent, extent, n)
    yy, xx = torch.meshgrid(g, g, indexing="ij")
    pts = torch.stack([xx.flatten(), yy.flatten()], 1)
    z_hat, bits = model.represent(pts)
    uniq, ids = torch.unique(z_hat, dim=0, return_inverse=True)
    ids = ids.view(n, n)
    boundary = torch.zeros(n, n, dtype=torch.bool)
    boundary[:, 1:] |= ids[:, 1:] != ids[:, :-1]
    boundary[1:, :] |= ids[1:, :] != ids[:-1, :]
    centers = model.decode(uniq)
    dev = next(model.parameters()).device
    code_bits = model.prior.estimate_bits(uniq.to(dev)).cpu()   # the codes are on the quantization grid already
    return {"grid": g.numpy(), "ids": ids.numpy(), "boundary": boundary.numpy(), "centers": centers.numpy(),
            "probability": np.exp2(-code_bits.numpy())}


def plot_quantization(ax, model: InvariantCompressor, title: str, *, extent: float = 6.0, n: int = 300,
                      source: Banana | None = None) -> None:
    """Fig. 5 (right): the banana density, quantization boundaries (pink) and code vectors (dots sized by
    their probability under the learned entropy model)."""
    src = source or Banana()
    q = quantization_map(model, extent, n)
    g = torch.linspace(-extent, extent, 200)
    yy, xx = torch.meshgrid(g, g, indexing="ij")
    dens = src.log_prob(torch.stack([xx, yy], -1)).exp().numpy()
    ax.imshow(dens, extent=(-extent, extent, -extent, extent), origin="lower", cmap="Greys", alpha=0.8)
    mask = np.ma.masked_where(~q["boundary"], q["boundary"])
    ax.imshow(mask, extent=(-extent, extent, -extent, extent), origin="lower", cmap="spring", alpha=0.9,
              interpolation="nearest")
    p = q["probability"]
    ax.scatter(q["centers"][:, 0], q["centers"][:, 1], s=4 + 400 * p / p.max(), c="#d6336c", edgecolors="white",
               linewidths=0.5, zorder=3)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)


# ----------------------------------------------------------------------------------- augmented MNIST (Fig. 6, Sec. 5.1)
@dataclass
class MNISTData:
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    label: str


def mnist_at_size(data: MNISTData, size: int) -> MNISTData:
    """``data`` with every digit resized to ``size × size`` (bilinear, as the authors' ``Resize((32, 32))`` on
    their PIL digits); ``data`` itself when the digits already have that size."""
    if data.train_x.shape[-1] == size and data.train_x.shape[-2] == size:
        return data

    def resize(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 1)

    return MNISTData(resize(data.train_x), data.train_y, resize(data.test_x), data.test_y,
                     f"{data.label}, resized to {size}×{size}")


def load_mnist(*, download: bool | None = None) -> MNISTData:
    """MNIST through the asset registry (``perceptual_compression.datasets.mnist``), as float images."""
    from ..datasets import mnist

    trx, try_ = mnist("train", download=download)
    tex, tey = mnist("test", download=download)
    return MNISTData(to_float_images(trx), try_, to_float_images(tex), tey,
                     f"MNIST ({len(trx):,} train / {len(tex):,} test images, asset 'mnist')")


@dataclass(frozen=True)
class MNISTSpec:
    name: str
    objective: str
    augmentation: str  # "standard" | "mild" | "supervised"
    beta: float        # the sweep value; the run trains with MNISTConfig.training_beta(objective, beta)
    sec51: bool = False  # a run of Sec. 5.1's own (the authors' augmnist_aug.sh), not of the Fig. 6 sweep


def mnist_run_seeds(cfg: MNISTConfig, seed: int = 0) -> list[int]:
    """The training seeds of every run: ``seed, seed + 1, ...``, ``cfg.seeds`` of them (the first is ``seed``
    itself, so that one seed gives the runs it always gave)."""
    if cfg.seeds < 1:
        raise ValueError(f"seeds must be >= 1, not {cfg.seeds}")
    return [seed + r for r in range(cfg.seeds)]


def mnist_checkpoint_name(spec: MNISTSpec, cfg: MNISTConfig, seed: int) -> str:
    """Checkpoint name of a compressor: the scale, the run's seed, the spec's name, objective, augmentation, β and
    whether it is a Sec. 5.1 run, and ``cfg.tag()`` (every other setting that changes the weights)."""
    return (f"mnist-v5-{cfg.scale}-{seed}-{spec.name.replace(' ', '_')}-{spec.objective}-{spec.augmentation}"
            f"-beta{spec.beta!r}{'-sec51' if spec.sec51 else ''}-{cfg.tag()}")


def predictor_checkpoint_name(spec: MNISTSpec, cfg: MNISTConfig, seed: int, pcfg: ReconPredictorConfig, *,
                              fresh_augmentations: bool, eval_seed: int | None = None,
                              predictor_seed: int | None = None) -> str:
    """Checkpoint name of the ResNet-18 trained on a compressor's reconstructions: the compressor's own name
    (:func:`mnist_checkpoint_name`, with ``cfg.tag()``; ``seed`` is the compressor's) and a hash of what the
    predictor trains on (its settings, the number of training digits, fresh augmentations or the evaluation set of
    ``eval_seed``) and of its own training seed (``predictor_seed``, default ``seed``)."""
    train_on = "fresh augmentations" if fresh_augmentations else f"evaluation set, seed {eval_seed}"
    ptag = settings_hash({"predictor": asdict(pcfg), "n_train": cfg.n_train, "train_on": train_on,
                          "seed": seed if predictor_seed is None else predictor_seed})
    return f"{mnist_checkpoint_name(spec, cfg, seed)}-resnet18-predictor-v4-{ptag}"


def mnist_specs(cfg: MNISTConfig) -> list[MNISTSpec]:
    """VC and VIC over ``cfg.betas`` (Fig. 6); VIC with the mild and supervised augmentations and BINCE with
    the supervised one at a single beta (Sec. 5.1). Sec. 5.1's VIC with the standard set is the sweep's
    ``beta_vic`` run, or, when Sec. 5.1 selects by the training loss (``cfg.sec51_selection == "train"``, the
    authors' script), a run of its own ("VIC standard")."""
    specs = [MNISTSpec(f"{o} beta={b:g}", o, "standard", float(b)) for o in ("VC", "VIC") for b in cfg.betas]
    if not any(s.objective == "VIC" and math.isclose(s.beta, cfg.beta_vic) for s in specs):
        specs.append(MNISTSpec(f"VIC beta={cfg.beta_vic:g}", "VIC", "standard", cfg.beta_vic))
    specs += [MNISTSpec("VIC mild", "VIC", "mild", cfg.beta_vic, sec51=True),
              MNISTSpec("VIC supervised", "VIC", "supervised",
                        cfg.beta_vic if cfg.beta_supervised is None else cfg.beta_supervised, sec51=True),
              MNISTSpec("BINCE supervised", "BINCE", "supervised", cfg.beta_bince, sec51=True)]
    if cfg.sec51_selection == "train":
        specs.append(MNISTSpec("VIC standard", "VIC", "standard", cfg.beta_vic, sec51=True))
    return specs


def sec51_rows(table: pd.DataFrame, cfg: MNISTConfig) -> dict[str, dict[str, Any]]:
    """Sec. 5.1's compressors in :func:`mnist_table`: ``"mild"``, ``"standard"``, ``"supervised"`` (VIC) and
    ``"bince"`` (BINCE, supervised augmentation), each ``{"run", "beta", "rate_bits", "mlp_error"}``. The standard
    VIC is the Sec. 5.1 run of its own when there is one, else the Fig. 6 sweep's run at ``beta_vic``. A table
    with several seeds per run must be :func:`mnist_summary`'s (their means): picking one seed's row is refused."""
    if "seed" in table.columns and table.duplicated(["run", "beta", "sec51"]).any():
        raise ValueError("the table holds several seeds of a run: pass mnist_summary(table), their means")
    out = {}
    for aug in ("mild", "standard", "supervised"):
        beta = cfg.beta_supervised if aug == "supervised" and cfg.beta_supervised is not None else cfg.beta_vic
        m = table[(table.objective == "VIC") & (table.augmentation == aug) & np.isclose(table.beta, beta)]
        m = m.sort_values("sec51", ascending=False, kind="stable")  # a run of Sec. 5.1's own first
        out[aug] = m.iloc[0]
    out["bince"] = table[(table.objective == "BINCE") & (table.augmentation == "supervised")].iloc[0]
    extra = [c for c in ("rate_bits_std", "mlp_error_std", "runs") if c in table.columns]   # of mnist_summary
    return {k: {"run": r["run"], "beta": float(r["beta"]), "rate_bits": float(r["rate_bits"]),
                "mlp_error": float(r["mlp_error"]), **{c: float(r[c]) for c in extra}} for k, r in out.items()}


def fewer_bits(a: dict[str, Any], b: dict[str, Any], *, error_tolerance: float = 0.01) -> tuple[str, str]:
    """Whether compressor ``b`` (a VIC whose augmentation erases more of ``X``) needs fewer bits than ``a``, comparing
    like with like. ``a``, ``b``: rows of :func:`sec51_rows`. Returns ``(status, reason)``.

    A larger β weighs the distortion more, so it raises the rate (and lowers the error) by itself:

    - equal β: the rates decide (``"qualitative"`` if ``b``'s is lower, else ``"differs"``);
    - ``b`` at a lower β: a higher rate for ``b`` is ``"differs"`` (not lower even with the lower β); a lower one is
      ``"qualitative"`` only if ``b``'s MLP error is at most ``a``'s (+ ``error_tolerance``), the lower rate then not
      being bought with error, else ``"info"`` (the lower β alone may explain it);
    - ``b`` at a higher β: a lower rate for ``b`` is ``"qualitative"``; a higher one is ``"info"`` if ``b``'s error is
      lower than ``a``'s by more than ``error_tolerance`` (the higher β may buy it), else ``"differs"``.
    """
    ra, rb, ea, eb = a["rate_bits"], b["rate_bits"], a["mlp_error"], b["mlp_error"]
    rates = f"{rb:.3g} vs {ra:.3g} bits"
    if math.isclose(a["beta"], b["beta"]):
        return ("qualitative" if rb < ra else "differs"), f"{rates} at equal β={a['beta']:g}"
    betas = f"β={b['beta']:g} vs {a['beta']:g}"
    errors = f"MLP error {eb:.3f} vs {ea:.3f}"
    if b["beta"] < a["beta"]:
        if rb >= ra:
            return "differs", f"{rates} although at the lower {betas}"
        if eb <= ea + error_tolerance:
            return "qualitative", f"{rates} at {betas}, with no higher {errors}"
        return "info", (f"{rates}, but at the lower {betas} and a higher {errors}: a lower β alone lowers the rate, "
                        "so the rates do not compare")
    if rb < ra:
        return "qualitative", f"{rates} although at the higher {betas}"
    if eb < ea - error_tolerance:
        return "info", (f"{rates} at the higher {betas} with a lower {errors}: a higher β alone raises the rate, so "
                        "the rates do not compare")
    return "differs", f"{rates} at {betas} with no lower {errors}"


def sec51_status(picked: dict[str, dict[str, Any]], *, num_classes: int = 10,
                 error_tolerance: float = 0.01) -> dict[str, tuple[str, str]]:
    """``(status, reason)`` of Sec. 5.1's three claims from :func:`sec51_rows`:

    - ``"mnist_vic_rate_by_augmentation"``: the rate falls from the mild to the standard to the supervised set
      (:func:`fewer_bits` for both steps: ``"differs"`` if either differs, ``"qualitative"`` if both hold, else
      ``"info"``);
    - ``"mnist_vic_supervised_rate"``: the supervised VIC needs fewer bits than the standard one (:func:`fewer_bits`);
    - ``"mnist_bince_supervised_rate"``: BINCE with the supervised augmentation keeps the label with fewer bits than
      the standard VIC. Its β weighs another distortion (InfoNCE bits), so β do not compare: ``"qualitative"`` if it
      needs fewer bits at an MLP error no higher than the standard VIC's (+ ``error_tolerance``) and at most half
      of chance (``(1 - 1 / num_classes) / 2``); ``"differs"`` if its error exceeds half of chance or it needs
      more bits at no lower error; else ``"info"``.
    """
    mild, std, sup, bince = picked["mild"], picked["standard"], picked["supervised"], picked["bince"]
    steps = [fewer_bits(mild, std, error_tolerance=error_tolerance),
             fewer_bits(std, sup, error_tolerance=error_tolerance)]
    statuses = [st for st, _ in steps]
    order = "differs" if "differs" in statuses else "qualitative" if statuses == ["qualitative"] * 2 else "info"
    out = {"mnist_vic_rate_by_augmentation": (order, f"mild -> standard: {steps[0][1]}; standard -> supervised: "
                                                     f"{steps[1][1]}"),
           "mnist_vic_supervised_rate": steps[1]}
    bound = (1 - 1 / num_classes) / 2
    rb, eb, rs, es = bince["rate_bits"], bince["mlp_error"], std["rate_bits"], std["mlp_error"]
    text = (f"{rb:.3g} vs {rs:.3g} bits (standard VIC), MLP error {eb:.3f} vs {es:.3f}; "
            f"chance {1 - 1 / num_classes:.2f}, bound {bound:.2f}")
    if eb > bound or (rb >= rs and eb >= es - error_tolerance):
        out["mnist_bince_supervised_rate"] = ("differs", text)
    elif rb < rs and eb <= es + error_tolerance:
        out["mnist_bince_supervised_rate"] = ("qualitative", text)
    else:
        out["mnist_bince_supervised_rate"] = ("info", text + ": a trade of rate against error, which no β decides")
    return out


def training_extent(cfg: MNISTConfig, n_images: int) -> str:
    """What every VC/VIC compressor of ``cfg`` sees, for results notes: steps, batch and epochs over the
    ``n_images`` training digits (less the held-out share ``cfg.val_fraction``) and the encoder."""
    n = n_images - (max(1, round(cfg.val_fraction * n_images)) if cfg.val_fraction else 0)
    epochs = cfg.steps * cfg.batch_size / n
    amount = f"{epochs:.2f} of an epoch" if epochs < 1 else f"{epochs:.3g} epochs"
    encoder = {"small_cnn": "a small CNN", "resnet18": "a ResNet-18"}.get(cfg.encoder, cfg.encoder)
    return f"{cfg.scale} scale: {cfg.steps:,} steps of {cfg.batch_size} digits ({amount} of {n:,}) of {encoder}"


@dataclass
class MNISTRun:
    spec: MNISTSpec
    model: InvariantCompressor
    history: object = None
    rate_bits: float = math.nan
    coded_bits: float = math.nan
    coded_alone_bits: float = math.nan
    linear_error: float = math.nan
    mlp_error: float = math.nan
    recon_linear_error: float = math.nan   # linear probe on the decoded images (VC, VIC)
    recon_resnet_error: float = math.nan   # ResNet-18 trained on the decoded images (VC, VIC; cfg.recon_predictor)
    bayes_error: float = math.nan
    conflicting_images: int = -1
    num_codes: int = 0
    extra: dict = field(default_factory=dict)
    seed: int = 0                          # the run's training seed (one of mnist_run_seeds)


@dataclass
class MNISTEvalSet:
    """Fixed augmented images (standard augmentation, fixed seed): a probe-training set and a test set."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    seed: int | None = None                # the seed of mnist_eval_set (None: built otherwise)


def mnist_eval_set(data: MNISTData, cfg: MNISTConfig, seed: int = 0) -> MNISTEvalSet:
    data = mnist_at_size(data, cfg.image_size)
    g = torch.Generator().manual_seed(50_000 + seed)
    n_tr = len(data.train_x) if cfg.n_train is None else min(cfg.n_train, len(data.train_x))
    n_te = len(data.test_x) if cfg.n_test is None else min(cfg.n_test, len(data.test_x))
    idx = torch.randperm(len(data.train_x), generator=g)[:n_tr]
    aug = RandomAffine("standard")
    return MNISTEvalSet(aug(data.train_x[idx], g), data.train_y[idx], aug(data.test_x[:n_te], g), data.test_y[:n_te],
                        seed=seed)


def split_validation(data: MNISTData, fraction: float, seed: int = 0) -> tuple[MNISTData, MNISTData]:
    """``data`` with a seeded random ``fraction`` of its training images moved to a second set's training images
    (the authors hold out 5% for validation); the test images stay in both."""
    if not 0 < fraction < 1:
        raise ValueError(f"the validation fraction must lie in (0, 1), not {fraction}")
    n = len(data.train_x)
    n_val = max(1, round(fraction * n))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(40_000 + seed))
    keep, held = perm[n_val:].sort().values, perm[:n_val].sort().values
    return (MNISTData(data.train_x[keep], data.train_y[keep], data.test_x, data.test_y, data.label),
            MNISTData(data.train_x[held], data.train_y[held], data.test_x, data.test_y, data.label + " (validation)"))


def _views(data: MNISTData, augmentation: str) -> ImageViews:
    if augmentation == "supervised":
        return ImageViews(data.train_x, data.train_y, affine=RandomAffine("standard"), supervised=True)
    return ImageViews(data.train_x, data.train_y, affine=RandomAffine(augmentation))


def run_init_seed(spec: MNISTSpec, seed: int) -> int:
    """The seed of a run's initial weights and of its training: a hash of the run's name and its seed. (A sum of
    the name's characters, used before, gave the paper's anagram names "beta=3.33333" and "beta=33.3333" the
    same initial weights and batches.)"""
    return int(settings_hash({"run": spec.name, "seed": seed}), 16)


def train_mnist_run(spec: MNISTSpec, cfg: MNISTConfig, data: MNISTData, seed: int = 0, *,
                    progress: bool | None = None, checkpoint_dir: str | Path | None = None) -> MNISTRun:
    init = run_init_seed(spec, seed)
    torch.manual_seed(init)
    model = cfg.build(spec.objective)
    data = mnist_at_size(data, cfg.image_size)
    # the Sec. 5.1 runs of the authors' augmnist_aug.sh keep their best training-loss checkpoint (the 5% are
    # held out all the same)
    by_train_loss = cfg.sec51_selection == "train" and spec.sec51
    train_data, val = data, None
    if cfg.val_fraction:
        train_data, val_data = split_validation(data, cfg.val_fraction, seed)
    views = _views(train_data, spec.augmentation)
    if cfg.val_fraction and not by_train_loss:
        gv = torch.Generator().manual_seed(50_000 + seed)
        val = _views(val_data, spec.augmentation).pair(spec.objective, len(val_data.train_x), gv,
                                                       indices=torch.arange(len(val_data.train_x)))
        # the held-out images are augmented once, with a fixed seed, so that every check sees the same set (the
        # authors' data module augments its validation set as it loads it)
        if spec.objective == "VIC" and views.labels_aug is not None:
            # the supervised VIC's targets are its classes' representatives among the *training* images, the
            # images the model learns to produce; the held-out images only supply the inputs
            val = (val[0], views.images[views.labels_aug.representative_indices(val_data.train_y)])
    g = torch.Generator().manual_seed(init)
    steps = cfg.bince_steps if spec.objective == "BINCE" else cfg.steps
    # the authors' BINCE: effective_batch_size is their data.length, the number of training images
    bince = {"symmetric": True, "effective_batch_size": len(views.images)} if cfg.bince_authors_form else None
    res = train_compressor(model, spec.objective, lambda step: views.pair(spec.objective, cfg.batch_size, g),
                           beta=cfg.training_beta(spec.objective, spec.beta),
                           grad_clip=cfg.grad_clip(spec.objective, spec.beta),
                           steps=steps, lr=cfg.lr, lr_decay=cfg.lr_decay, likelihood="bernoulli",
                           seed=init, progress=progress, desc=f"MNIST {spec.name}", rate_warmup=cfg.rate_warmup,
                           streams={"batches": g}, weight_decay=cfg.weight_decay,
                           validation=val, validate_every=cfg.val_every, val_batch_size=cfg.batch_size,
                           bince_options=bince if spec.objective == "BINCE" else None,
                           lr_epoch_steps=cfg.lr_epoch_steps, rate_warmup_steps=cfg.rate_warmup_steps,
                           select_by_train_loss=by_train_loss, bince_separate_views=cfg.bince_separate_views,
                           checkpoint_path=_ckpt(checkpoint_dir, mnist_checkpoint_name(spec, cfg, seed)))
    # extra: best_step etc. when a model was selected
    return MNISTRun(spec, res.model, res.history, extra=dict(res.extra), seed=seed)


@torch.no_grad()
def evaluate_mnist_run(run: MNISTRun, ev: MNISTEvalSet, cfg: MNISTConfig, seed: int = 0, *,
                       data: MNISTData | None = None, progress: bool | None = None,
                       checkpoint_dir: str | Path | None = None) -> MNISTRun:
    """Rates (estimated and coded) on the augmented test set; linear and MLP probes on ``Z``; predictors on
    the reconstructions (VC, VIC: linear, plus :func:`recon_resnet_error` if ``cfg.recon_predictor`` says
    ``"resnet18"``; ``data`` lets it see fresh augmentations); Bayes check."""
    if cfg.recon_predictor not in RECON_PREDICTORS:
        raise ValueError(f"recon_predictor={cfg.recon_predictor!r} is not valid; valid values are: "
                         + ", ".join(repr(p) for p in RECON_PREDICTORS))
    model = run.model
    z_tr, _ = model.represent(ev.train_x)
    z_te, bits = model.represent(ev.test_x)
    run.rate_bits = float(bits.mean())
    stream = model.compress(ev.test_x)
    if not torch.equal(model.decompress(stream).cpu(), z_te):
        raise RuntimeError(f"MNIST {run.spec.name}: decoded codes differ from the encoder's")
    run.coded_bits = 8.0 * len(stream) / len(ev.test_x)
    run.coded_alone_bits = coded_alone_bits(model, ev.test_x)
    with torch.enable_grad():
        run.linear_error = probe_error(z_tr, ev.train_y, z_te, ev.test_y, kind="linear", steps=100, seed=seed)["error"]
        if model.decoder is not None:   # predictors trained on reconstructions instead of codes
            run.recon_linear_error = probe_error(_decoded(model, z_tr), ev.train_y, _decoded(model, z_te), ev.test_y,
                                                 kind="linear", steps=100, seed=seed)["error"]
            if cfg.recon_predictor == "resnet18":
                run.recon_resnet_error = recon_resnet_error(run, ev, cfg, seed, data=data, progress=progress,
                                                            checkpoint_dir=checkpoint_dir)
        run.mlp_error = probe_error(z_tr, ev.train_y, z_te, ev.test_y, kind="mlp", steps=cfg.probe_steps,
                                    hidden=cfg.probe_hidden, lr=2e-3, seed=seed)["error"]
    check = bayes_risk_check(z_tr, ev.train_y, z_te, ev.test_y)
    run.bayes_error = check.empirical_bayes_error
    run.conflicting_images = check.num_conflicting_images
    run.num_codes = check.num_codes
    return run


@torch.no_grad()
def _decoded(model: InvariantCompressor, z_hat: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Bernoulli means of the decoder for quantized codes, on the CPU."""
    dev = next(model.parameters()).device
    return torch.cat([torch.sigmoid(model.decode(z_hat[i:i + batch_size].to(dev))).cpu()
                      for i in range(0, len(z_hat), batch_size)])


@torch.no_grad()
def _reconstruct(model: InvariantCompressor, x: torch.Tensor) -> torch.Tensor:
    """``sigmoid(dec(round(enc(x))))`` in eval mode, on the model's device (what a receiver decodes)."""
    was = model.training
    model.eval()
    try:
        z_hat, _ = model(x.to(next(model.parameters()).device))
        return torch.sigmoid(model.decode(z_hat))
    finally:
        model.train(was)


def recon_resnet_error(run: MNISTRun, ev: MNISTEvalSet, cfg: MNISTConfig, seed: int = 0, *,
                       data: MNISTData | None = None, progress: bool | None = None,
                       checkpoint_dir: str | Path | None = None) -> float:
    """Test error of the paper's predictor for Fig. 6: a ResNet-18 trained on the compressor's reconstructions
    (:mod:`.recon_predictor`, settings ``ReconPredictorConfig.for_scale(cfg.scale)``).

    With ``data``, every training batch is a fresh standard augmentation of MNIST training digits, compressed
    and decoded on the fly (the authors' setting); without it, the fixed augmented images of ``ev``. Tested on
    the reconstructions of ``ev``'s augmented test images.
    """
    if run.model.decoder is None:
        raise ValueError(f"{run.spec.name}: a BINCE compressor has no reconstructions")
    pcfg = ReconPredictorConfig.for_scale(cfg.scale)
    if data is not None:
        data = mnist_at_size(data, cfg.image_size)
        n = len(data.train_x) if cfg.n_train is None else min(cfg.n_train, len(data.train_x))
        x, y, augment = data.train_x[:n], data.train_y[:n], RandomAffine("standard")
    else:
        x, y, augment = ev.train_x, ev.train_y, None
    model = run.model
    name = predictor_checkpoint_name(run.spec, cfg, run.seed, pcfg, fresh_augmentations=data is not None,
                                     eval_seed=ev.seed, predictor_seed=seed)
    with torch.enable_grad():
        out = recon_predictor_error(x, y, ev.test_x, ev.test_y, pcfg, reconstruct=lambda b: _reconstruct(model, b),
                                    augment=augment, seed=seed, progress=progress,
                                    checkpoint_path=_ckpt(checkpoint_dir, name))
    return out["error"]


def mnist_jobs(cfg: MNISTConfig, seed: int = 0) -> list[tuple[MNISTSpec, int]]:
    """Every ``(spec, training seed)`` to run: each spec of :func:`mnist_specs` with each seed of
    :func:`mnist_run_seeds`, spec by spec."""
    return [(spec, s) for spec in mnist_specs(cfg) for s in mnist_run_seeds(cfg, seed)]


def run_mnist(cfg: MNISTConfig, data: MNISTData, seed: int = 0, *, progress: bool | None = None,
              checkpoint_dir: str | Path | None = None) -> tuple[list[MNISTRun], MNISTEvalSet]:
    """Train and evaluate every run of :func:`mnist_jobs` (each spec with each of ``cfg.seeds`` seeds), one after
    the other in this process. Every run is evaluated on the same evaluation set (of ``seed``), its probes seeded
    with the run's own seed."""
    ev = mnist_eval_set(data, cfg, seed)
    runs = []
    for spec, s in mnist_jobs(cfg, seed):
        run = train_mnist_run(spec, cfg, data, s, progress=progress, checkpoint_dir=checkpoint_dir)
        runs.append(evaluate_mnist_run(run, ev, cfg, s, data=data, progress=progress, checkpoint_dir=checkpoint_dir))
    return runs, ev


def _portable_state(model: InvariantCompressor) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if not is_coder_table(k)}


def _rebuild(cfg: MNISTConfig, spec: MNISTSpec, state: dict[str, torch.Tensor]) -> InvariantCompressor:
    model = cfg.build(spec.objective)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not is_coder_table(k) for k in missing):
        raise RuntimeError(f"cannot rebuild {spec.name}: missing {missing}, unexpected {unexpected}")
    model.prior.update(force=True)
    return model.eval()


_METRICS = ("rate_bits", "coded_bits", "coded_alone_bits", "linear_error", "mlp_error", "recon_linear_error",
            "recon_resnet_error", "bayes_error", "conflicting_images", "num_codes")


_WORKER_CACHE: dict = {}


def _mnist_job(spec: MNISTSpec, cfg: MNISTConfig, seed: int, run_seed: int, checkpoint_dir: str | None) -> dict:
    """One training (seed ``run_seed``) + evaluation (on the evaluation set of ``seed``) in a worker process (loads
    MNIST once per process; returns weights and metrics)."""
    torch.set_num_threads(1)
    key = (cfg.n_train, cfg.n_test, seed)
    if key not in _WORKER_CACHE:
        _WORKER_CACHE.clear()
        data = load_mnist(download=False)
        _WORKER_CACHE[key] = (data, mnist_eval_set(data, cfg, seed))
    data, ev = _WORKER_CACHE[key]
    run = evaluate_mnist_run(train_mnist_run(spec, cfg, data, run_seed, progress=False, checkpoint_dir=checkpoint_dir),
                             ev, cfg, run_seed, data=data, progress=False, checkpoint_dir=checkpoint_dir)
    return {"state": _portable_state(run.model), "history": list(run.history.rows),
            "metrics": {k: getattr(run, k) for k in _METRICS}, "extra": run.extra}


class MNISTJobs:
    """MNIST runs started in worker processes (:func:`start_mnist`); :meth:`result` waits for them."""

    def __init__(self, cfg: MNISTConfig, data: MNISTData, seed: int, futures: list, executor) -> None:
        self.cfg, self.data, self.seed = cfg, data, seed
        self._futures, self._executor = futures, executor

    def result(self) -> tuple[list[MNISTRun], MNISTEvalSet]:
        from ..training import TrainingHistory

        runs = []
        try:
            for (spec, run_seed), fut in self._futures:
                out = fut.result()
                run = MNISTRun(spec, _rebuild(self.cfg, spec, out["state"]), TrainingHistory(out["history"]),
                               extra=out.get("extra", {}), seed=run_seed)
                for k, v in out["metrics"].items():
                    setattr(run, k, v)
                runs.append(run)
        finally:
            self._executor.shutdown(wait=True)
        return runs, mnist_eval_set(self.data, self.cfg, self.seed)


def start_mnist(cfg: MNISTConfig, data: MNISTData, seed: int = 0, *, workers: int = 2,
                checkpoint_dir: str | Path | None = None) -> MNISTJobs:
    """Start every run of :func:`mnist_jobs` in ``workers`` single-threaded processes and return at once.

    Small models do not profit from intra-op threads, but independent runs do profit from separate cores:
    on a 2-core machine two workers halve the wall-clock time (the main process can meanwhile train the
    banana models). Every run is seeded on its own, so the results do not depend on ``workers``.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = mnist_jobs(cfg, seed)
    order = {(spec.name, s): i for i, (spec, s) in enumerate(jobs)}
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    ckpt = str(checkpoint_dir) if checkpoint_dir else None
    futures = [((spec, s), executor.submit(_mnist_job, spec, cfg, seed, s, ckpt))
               for spec, s in sorted(jobs, key=lambda job: job[0].objective != "BINCE")]   # the longest jobs first
    futures.sort(key=lambda jf: order[jf[0][0].name, jf[0][1]])
    return MNISTJobs(cfg, data, seed, futures, executor)


def mnist_table(runs: list[MNISTRun]) -> pd.DataFrame:
    """One row per run (each spec once per seed)."""
    return pd.DataFrame([{
        "run": r.spec.name, "objective": r.spec.objective, "augmentation": r.spec.augmentation, "beta": r.spec.beta,
        "sec51": r.spec.sec51, "seed": r.seed,
        "rate_bits": r.rate_bits, "coded_bits": r.coded_bits,
        "overhead_%": 100 * (r.coded_bits / r.rate_bits - 1) if r.rate_bits > 0 else math.nan,
        "coded_alone_bits": r.coded_alone_bits,
        "linear_error": r.linear_error, "mlp_error": r.mlp_error, "recon_linear_error": r.recon_linear_error,
        "recon_resnet_error": r.recon_resnet_error, "bayes_error": r.bayes_error,
        "codes": r.num_codes,
    } for r in runs])


_SPEC_COLUMNS = ["run", "objective", "augmentation", "beta", "sec51"]


def mnist_summary(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`mnist_table` with one row per spec: every metric's mean over the spec's seeds, its standard deviation
    (``<metric>_std``, ``ddof=1``; NaN for a single seed) and the number of seeds (``runs``). With one seed per
    spec the means are the runs' own values (what Fig. 6 and Sec. 5.1 are drawn from at every scale)."""
    metrics = [c for c in table.columns if c not in _SPEC_COLUMNS + ["seed"]]
    groups = table.groupby(_SPEC_COLUMNS, sort=False)
    out = groups[metrics].mean()
    std = groups[metrics].std(ddof=1)
    for c in metrics:
        out[f"{c}_std"] = std[c]
    out["runs"] = groups.size()
    return out.reset_index()


@torch.no_grad()
def reconstructions(run: MNISTRun, images: torch.Tensor) -> torch.Tensor:
    """Decoded images (Bernoulli means) of a VC or VIC run, from the entropy-decoded codes."""
    z_hat = run.model.decompress(run.model.compress(images))
    return torch.sigmoid(run.model.decode(z_hat))


# ----------------------------------------------------------------------------------- feature compressor (Sec. 5.3)
def bince_feature_compression(run: MNISTRun, ev: MNISTEvalSet, betas: list[float], *, steps: int = 300,
                              lr: float = 1e-2, seed: int = 0, progress: bool | None = None) -> pd.DataFrame:
    """An entropy bottleneck over the (unquantized) outputs of a BINCE encoder, as the paper does with CLIP."""
    from ..compressors.feature_compressor import feature_rate, fit_feature_compressor

    f_tr = run.model.encode_latents(ev.train_x)
    f_te = run.model.encode_latents(ev.test_x)
    rows = [{"beta": math.inf, "features": "raw float32", "estimated_bits": 32.0 * f_te.shape[1],
             "coded_bits": 32.0 * f_te.shape[1],
             "linear_error": probe_error(f_tr, ev.train_y, f_te, ev.test_y, kind="linear", steps=100, seed=seed)["error"]}]
    for b in betas:
        fc = fit_feature_compressor(f_tr, beta=b, steps=steps, lr=lr, seed=seed, progress=progress)
        rate = feature_rate(fc, f_te)
        g_tr, _ = fc.reconstruct(f_tr)
        g_te = fc.decompress(fc.compress(f_te))
        err = probe_error(g_tr, ev.train_y, g_te, ev.test_y, kind="linear", steps=100, seed=seed)["error"]
        rows.append({"beta": b, "features": "entropy bottleneck", "estimated_bits": rate.estimated_bits,
                     "coded_bits": rate.coded_bits, "linear_error": err})
    return pd.DataFrame(rows)
