"""The MNIST experiment of Blau & Michaeli (2019), Sec. 4 and supplement E–F.

For each rate — encoder output dimension ``dim`` and ``L`` quantization levels, at most ``dim·log2 L`` bits per
digit — an encoder–decoder pair is trained on eq. (10),

.. math:: \\mathbb E[\\Delta(X, g(\\hat f(X)))] + \\lambda \\max_{h}\\big(\\mathbb E[h(X)] - \\mathbb E[h(g(\\hat f(X)))]\\big),

first with :math:`\\lambda = 0` (distortion only: an approximation of Shannon's :math:`R(D)`), then for every
:math:`\\lambda > 0` of supplement Table 2 by continuing from that model. Each trained pair is a point
:math:`(R, D, P)`: the rate (nominal ``dim·log2 L`` and the measured size of the entropy-coded codes of the test
set), the distortion on test digits, and the perception index — the final critic's Wasserstein estimate on test
digits (footnote 7). Sec. 4.2 repeats the experiment with the deep-feature distortion of eq. (11).

:class:`RDPMnistConfig` holds the paper's settings (``scale="paper"``: the 98 models of Table 2, 25 + 25 epochs,
Table 1 networks) and a small setting for a 2-core CPU (``scale="small"``: a subset of the grid, a fraction of
an epoch, narrower convolutions). Training goes through :class:`~perceptual_compression.training.Trainer`
(seeded, checkpoint/resume, progress bar); checkpoints live in a run directory, one file per model.

What the paper does not state, and what we chose (all in :class:`RDPMnistConfig`): the number of critic steps per
encoder–decoder step (``n_critic``; 5, the WGAN-GP default of Gulrajani et al. 2017), the gradient-penalty weight
(10, idem), the leaky-ReLU slope (0.2), and that every :math:`\\lambda > 0` run restarts Adam and the learning-rate
schedule (25 epochs, /5 after 20) from the :math:`\\lambda = 0` weights (encoder, decoder and critic). We read
"decreased by 1/5 after 20 epochs" as a multiplication by 1/5 (``lr_factor``), and :math:`\\Psi` of eq. (11) as the
raw output of the classifier's second convolution
(:meth:`~perceptual_compression.models.rdp_mnist.MnistClassifier.features`, 20×8×8) rather than its Table 3 block
output (after dropout, max-pool and leaky ReLU, 20×4×4), with which the paper's α would weigh several times less.
The critic is trained alongside the :math:`\\lambda = 0` models too (it does not affect them), so that every model
has a perception index. What an epoch counts: ``ceil(N / batch)`` encoder–decoder steps, so the encoder–decoder sees
``N`` digits per epoch; each step's ``n_critic`` critic batches come from the same shuffled stream, which therefore
passes over the training set ``1 + n_critic`` times per epoch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..losses.deep_feature import DeepFeatureDistortion, squared_error
from ..losses.wgan_gp import critic_loss, rdp_generator_loss, wasserstein_estimate
from ..models.rdp_mnist import PSI_LAYERS, Critic, MnistClassifier, RDPMnistCodec
from ..params import check_choice
from ..training import Trainer, default_device, seed_everything
from ..training.schedules import piecewise_constant
from ..training.tags import settings_hash

__all__ = [
    "PAPER_GRID", "SCALES", "DISTORTIONS", "ClassifierConfig", "RDPMnistConfig", "EpochSampler", "load_mnist",
    "train_classifier", "classifier_accuracy", "feature_term_ratios", "train_codec", "evaluate_codec", "coded_rate",
    "perception_index", "run_grid", "shannon_curve", "equi_perception_curve", "smoothing_spline",
    "constant_distortion_curve",
]

#: Supplement Table 2: (dim, L, λ values) of the 98 encoder–decoder pairs.
PAPER_GRID: tuple[tuple[int, int, tuple[float, ...]], ...] = (
    (2, 2, (0, 2, 2.5, 3, 3.5, 4, 4.3, 4.6, 5, 5.5, 6, 8, 10, 15, 20)),
    (3, 2, (0, 2, 2.5, 3, 3.5, 4, 4.3, 4.6, 5, 6, 8, 9, 10)),
    (4, 2, (0, 2, 2.5, 3, 3.5, 4, 4.3, 4.6, 4.8, 4.9, 5, 6, 8, 10)),
    (4, 3, (0, 2, 2.5, 3, 3.5, 4, 4.3, 4.6, 5, 6, 8, 10)),
    (4, 4, (0, 2, 2.5, 3, 3.5, 4, 4.3, 4.6, 5, 6, 8, 10)),
    (4, 6, (0, 2, 2.5, 3, 3.5, 4, 5, 10)),
    (4, 8, (0, 2, 2.5, 3, 4, 5, 6, 10)),
    (4, 11, (0, 2, 2.5, 3, 4, 5, 6, 10)),
    (4, 16, (0, 2, 2.5, 3, 4, 5, 6, 10)),
)

SCALES = ("small", "paper")
DISTORTIONS = ("mse", "deep_feature")

#: Bump when the networks or the training step change, so that old checkpoints are not resumed.
#: 2: the codec, critic and classifier are built after seeding with the run's seed (before: from the caller's RNG
#: state, so a λ = 0 model's and the classifier's initial weights depended on what the caller had drawn).
_VERSION = 2


@dataclass(frozen=True)
class ClassifierConfig:
    """Training of the Table 3 classifier (supplement F: SGD, 30 epochs, batch 30, lr 1e-2, /5 after 20; momentum ours)."""

    epochs: float = 30.0
    batch_size: int = 30
    lr: float = 1e-2
    lr_drop_epoch: float = 20.0
    lr_factor: float = 0.2
    # not stated in the paper; plain SGD (0) reaches 98.69%, short of its ">99%" (benchmarks/results/
    # rdp_classifier_momentum0)
    momentum: float = 0.9

    def steps(self, n_train: int) -> int:
        return max(1, round(self.epochs * math.ceil(n_train / self.batch_size)))

    def drop_step(self, n_train: int) -> int:
        return round(self.lr_drop_epoch * math.ceil(n_train / self.batch_size))


@dataclass(frozen=True)
class RDPMnistConfig:
    """Every setting of the experiment. ``RDPMnistConfig.for_scale("paper")`` is supplement E–F."""

    scale: str
    #: (dim, L, λ values) trained with the squared-error distortion (Sec. 4.1, Fig. 6–7)
    grid: tuple[tuple[int, int, tuple[float, ...]], ...] = PAPER_GRID
    #: (dim, L, λ values) trained with the deep-feature distortion (Sec. 4.2, Fig. 8)
    deep_feature_grid: tuple[tuple[int, int, tuple[float, ...]], ...] = PAPER_GRID
    batch_size: int = 64
    base_epochs: float = 25.0          # λ = 0 models (an epoch: ceil(N / batch_size) encoder/decoder steps)
    continue_epochs: float = 25.0      # λ > 0 models, continuing from the λ = 0 one
    lr_drop_epoch: float = 20.0        # learning rates × lr_factor after this many epochs of a run
    lr_factor: float = 0.2
    lr_codec: float = 1e-2             # encoder/decoder, Sec. 4.1
    lr_codec_deep_feature: float = 5e-3  # encoder/decoder, Sec. 4.2
    lr_critic: float = 2e-4
    lr_codec_continue: float | None = None  # encoder/decoder rate of λ > 0 runs (None: the same as λ = 0 runs)
    betas: tuple[float, float] = (0.5, 0.9)
    n_critic: int = 5                  # critic steps per encoder/decoder step (not stated in the paper)
    gp_weight: float = 10.0            # gradient-penalty weight (not stated in the paper)
    mse_scale: float = 1e-3            # factor of ||x - x̂||² in eq. (10)
    feature_scale: float = 5e-5        # factor of ||Ψ(x) - Ψ(x̂)||² in eq. (10)
    psi: str = "conv"                  # Ψ: the second convolution's output, or "block", its Table 3 row (20×4×4)
    width: float = 1.0                 # channel multiplier of the decoder's and critic's convolutions (1 = Table 1)
    train_size: int | None = None      # training digits used (None: all 60,000)
    eval_size: int | None = None       # test digits for distortion and perception (None: all 10,000)
    pmf_size: int | None = None        # training digits for the entropy coder's pmf (None: all 60,000)
    checkpoint_every: int = 2000
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    classifier_train_size: int | None = None

    def __post_init__(self) -> None:
        check_choice("psi", self.psi, PSI_LAYERS)

    @classmethod
    def for_scale(cls, scale: str) -> "RDPMnistConfig":
        check_choice("scale", scale, SCALES)
        if scale == "paper":
            return cls(scale="paper")
        # A 2-core CPU budget of a few minutes: a subset of Table 2 (three rates, the most λ at the lowest rate,
        # where the tradeoff is strongest; two rates for Fig. 8), 100 steps of 32 digits per λ = 0 model and 50
        # per λ > 0 model, quarter-width convolutions, one critic step per step at a faster critic learning rate,
        # λ > 0 runs at a lower encoder/decoder rate (at a tenth of an epoch the paper's 1e-2 lets the decoder
        # overpower the barely trained critic). The classifier trains 0.2 epochs with momentum.
        return cls(
            scale="small",
            grid=((2, 2, (0, 2, 20)), (4, 2, (0, 5)), (4, 4, (0, 5))),
            deep_feature_grid=((2, 2, (0, 5)), (4, 4, (0, 5))),
            batch_size=32, base_epochs=100 / 1875, continue_epochs=50 / 1875, lr_drop_epoch=80 / 1875,
            lr_critic=1e-3, lr_codec_continue=1e-3, n_critic=1, width=0.25, eval_size=2000, pmf_size=10_000,
            checkpoint_every=0,
            classifier=ClassifierConfig(epochs=0.2, batch_size=30, lr=1e-2, lr_drop_epoch=0.15, momentum=0.9),
        )

    # ------------------------------------------------------------------ derived quantities
    def steps_per_epoch(self, n_train: int = 60_000) -> int:
        return math.ceil((self.train_size or n_train) / self.batch_size)

    def steps(self, epochs: float, n_train: int = 60_000) -> int:
        return max(1, round(epochs * self.steps_per_epoch(n_train)))

    def models(self, distortion: str = "mse") -> list[tuple[int, int, float]]:
        grid = self.grid if distortion == "mse" else self.deep_feature_grid
        return [(d, L, float(lam)) for d, L, lams in grid for lam in lams]

    def tag(self) -> str:
        """Short hash of every training setting (names checkpoint files, so changed settings never resume)."""
        return settings_hash({"v": _VERSION, **dataclasses.asdict(self)})

    def classifier_tag(self) -> str:
        """Short hash of the classifier's training settings only (names its checkpoint: a classifier is reused by
        configs that differ elsewhere, e.g. in ``psi``, which reads its features but does not change its training)."""
        return settings_hash({"v": _VERSION, "classifier": dataclasses.asdict(self.classifier),
                              "classifier_train_size": self.classifier_train_size})


# ---------------------------------------------------------------------- data
def load_mnist(device: torch.device | None = None) -> dict[str, torch.Tensor]:
    """MNIST through the asset registry: uint8 images ``(N, 1, 28, 28)`` and labels, on ``device``."""
    from ..datasets import mnist

    out = {}
    for split in ("train", "test"):
        x, y = mnist(split)
        out[f"{split}_x"] = x.unsqueeze(1).to(device or "cpu")
        out[f"{split}_y"] = y.to(device or "cpu")
    return out


def _as_float(x_u8: torch.Tensor) -> torch.Tensor:
    return x_u8.float().div_(255.0) if x_u8.dtype == torch.uint8 else x_u8.float()


class EpochSampler:
    """Batches of a fresh random permutation per epoch; the ``k``-th batch is a pure function of ``(seed, k)``,
    so training resumed from a checkpoint sees exactly the batches it would have seen."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if n < batch_size:
            raise ValueError(f"need at least batch_size={batch_size} samples, got {n}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.per_epoch = n // batch_size
        self._epoch, self._perm = -1, None

    def indices(self, k: int) -> torch.Tensor:
        epoch, j = divmod(k, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._epoch = torch.randperm(self.n, generator=g), epoch
        return self._perm[j * self.batch_size:(j + 1) * self.batch_size]


# ---------------------------------------------------------------------- the classifier of Table 3
def train_classifier(cfg: RDPMnistConfig, data: dict[str, torch.Tensor], *, seed: int = 0,
                     checkpoint: Path | None = None, device: torch.device | None = None,
                     progress: bool | None = None) -> MnistClassifier:
    """Train :class:`MnistClassifier` with SGD as in supplement F (returned in eval mode).

    Seeds the global random generators with ``seed`` before building the network (the training loop seeds them
    again at its first step), so the result depends on ``seed`` alone; the caller's RNG state is not kept."""
    device = device or default_device()
    ccfg = cfg.classifier
    train_x, train_y = data["train_x"], data["train_y"]
    n = min(len(train_x), cfg.classifier_train_size or len(train_x))
    seed_everything(seed)  # the initial weights depend on the seed alone, not on what the caller drew before
    model = MnistClassifier(psi=cfg.psi).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=ccfg.lr, momentum=ccfg.momentum)
    drop = ccfg.drop_step(n)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: piecewise_constant(s, boundaries=[max(1, drop)], factors=[1.0, ccfg.lr_factor]))
    sampler = EpochSampler(n, ccfg.batch_size, seed)
    trainer = Trainer(modules={"classifier": model}, optimizers={"opt": opt}, schedulers={"sched": sched},
                      checkpoint_path=checkpoint, seed=seed, progress=progress, desc="classifier (Table 3)",
                      log_every=50)

    def step_fn(step: int) -> dict[str, Any]:
        idx = sampler.indices(step).to(train_x.device)
        x = _as_float(train_x[idx]).to(device)
        y = train_y[idx].to(device)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        return {"loss": loss}

    trainer.run(step_fn, ccfg.steps(n))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@torch.no_grad()
def classifier_accuracy(classifier: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    """Top-1 accuracy (fraction) of ``classifier`` on images ``x`` (uint8 or float in [0, 1])."""
    dev = next(classifier.parameters()).device
    correct = 0
    for i in range(0, len(x), batch):
        logits = classifier(_as_float(x[i:i + batch]).to(dev))
        correct += int((logits.argmax(1).cpu() == y[i:i + batch].cpu()).sum())
    return correct / len(x)


@torch.no_grad()
def feature_term_ratios(classifier: MnistClassifier, x: torch.Tensor, *, blur_sigma: float = 1.0) -> dict[str, float]:
    """How many times larger eq. (11)'s feature term is with :math:`\\Psi` the second convolution's own output
    (``psi="conv"``, the book's reading) than with Table 3's whole second row (``psi="block"``), for one classifier
    in evaluation mode: the ratio of :math:`\\sum\\|\\Psi(x) - \\Psi(\\hat x)\\|^2` under the two readings, with
    :math:`\\hat x` a Gaussian blur of ``x`` (σ = ``blur_sigma`` pixels, ``"blurred"``) and another digit (the batch
    rolled by one, ``"mismatched"``). ``x``: digits ``(B, 1, 28, 28)``, uint8 or float in [0, 1], B >= 2."""
    from torchvision.transforms.functional import gaussian_blur

    if len(x) < 2:
        raise ValueError("feature_term_ratios needs at least two digits (one is compared with the next)")
    dev = next(classifier.parameters()).device
    x = _as_float(x).to(dev)
    k = 2 * math.ceil(3 * blur_sigma) + 1
    pairs = {"blurred": gaussian_blur(x, [k, k], [blur_sigma, blur_sigma]), "mismatched": x.roll(1, 0)}

    def term(x_hat: torch.Tensor, psi: str) -> float:
        return float((classifier.features(x, psi) - classifier.features(x_hat, psi)).double().pow(2).sum())

    was_training = classifier.training
    classifier.eval()
    try:
        return {name: term(x_hat, "conv") / term(x_hat, "block") for name, x_hat in pairs.items()}
    finally:
        classifier.train(was_training)


# ---------------------------------------------------------------------- encoder/decoder training
def _distortion_fn(cfg: RDPMnistConfig, distortion: str, classifier: nn.Module | None):
    check_choice("distortion", distortion, DISTORTIONS)
    if distortion == "mse":
        return lambda x, x_hat: cfg.mse_scale * squared_error(x, x_hat)
    if classifier is None:
        raise ValueError("the deep-feature distortion needs the trained classifier (train_classifier)")
    return DeepFeatureDistortion(classifier, cfg.mse_scale, cfg.feature_scale)


def _set_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def train_codec(cfg: RDPMnistConfig, dim: int, L: int, lam: float, data: dict[str, torch.Tensor], *,
                distortion: str = "mse", classifier: nn.Module | None = None,
                init: dict[str, dict] | None = None, checkpoint: Path | None = None, seed: int = 0,
                device: torch.device | None = None, progress: bool | None = None):
    """Train one encoder–decoder pair (and its critic) on eq. (10); returns ``(codec, critic, history)``.

    Seeds the global random generators with ``seed`` before building the networks (the training loop seeds them
    again at its first step), so the result depends on ``seed`` alone; the caller's RNG state is not kept.

    ``init`` holds the state dicts (``{"codec": ..., "critic": ...}``) of the λ = 0 model that a λ > 0 run
    continues from. With ``checkpoint`` the run resumes from (or, if complete, just reloads) that file.
    """
    device = device or default_device()
    distortion_fn = _distortion_fn(cfg, distortion, classifier)
    train_x = data["train_x"]
    n = min(len(train_x), cfg.train_size or len(train_x))
    seed_everything(seed)  # the initial weights depend on the seed alone, not on what the caller drew before
    codec = RDPMnistCodec(dim, L, cfg.width).to(device)
    critic = Critic(cfg.width).to(device)
    if init is not None:
        codec.load_state_dict(init["codec"])
        critic.load_state_dict(init["critic"])
    lr_codec = cfg.lr_codec if distortion == "mse" else cfg.lr_codec_deep_feature
    if init is not None and cfg.lr_codec_continue is not None:
        lr_codec = cfg.lr_codec_continue
    opt_g = torch.optim.Adam(codec.parameters(), lr=lr_codec, betas=cfg.betas)
    opt_c = torch.optim.Adam(critic.parameters(), lr=cfg.lr_critic, betas=cfg.betas)
    steps = cfg.steps(cfg.base_epochs if lam == 0 and init is None else cfg.continue_epochs, n)
    drop = max(1, cfg.steps(cfg.lr_drop_epoch, n))
    factor = lambda s: piecewise_constant(s, boundaries=[drop], factors=[1.0, cfg.lr_factor])  # noqa: E731
    sch_g = torch.optim.lr_scheduler.LambdaLR(opt_g, factor)
    sch_c = torch.optim.lr_scheduler.LambdaLR(opt_c, factor)
    sampler = EpochSampler(n, cfg.batch_size, seed)
    per_step = 1 + cfg.n_critic

    def batch(k: int) -> torch.Tensor:
        return _as_float(train_x[sampler.indices(k).to(train_x.device)]).to(device)

    trainer = Trainer(
        modules={"codec": codec, "critic": critic}, optimizers={"codec": opt_g, "critic": opt_c},
        schedulers={"codec": sch_g, "critic": sch_c}, checkpoint_path=checkpoint,
        checkpoint_every=cfg.checkpoint_every, seed=seed, progress=progress, log_every=10,
        desc=f"{distortion} dim={dim} L={L} λ={lam:g}",
        extra_state={"dim": dim, "L": L, "lam": lam, "distortion": distortion, "tag": cfg.tag()},
    )

    def step_fn(step: int) -> dict[str, Any]:
        # critic: ascend E[h(x)] - E[h(x̂)] with the gradient penalty
        _set_grad(critic, True)
        for j in range(cfg.n_critic):
            x = batch(step * per_step + j)
            with torch.no_grad():
                fake = codec(x)
            c_loss, w = critic_loss(critic, x, fake, cfg.gp_weight)
            opt_c.zero_grad(set_to_none=True)
            c_loss.backward()
            opt_c.step()
        # encoder/decoder: descend eq. (10)
        _set_grad(critic, False)
        x = batch(step * per_step + cfg.n_critic)
        x_hat = codec(x)
        dist = distortion_fn(x, x_hat).mean()
        if lam > 0:
            with torch.no_grad():
                h_real = critic(x)
            loss = rdp_generator_loss(dist, critic(x_hat), lam, h_real)
        else:
            loss = dist
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        sch_g.step()
        sch_c.step()
        out = {"loss": loss, "distortion": dist}
        if cfg.n_critic:
            out.update(critic_loss=c_loss.detach(), w_batch=w)
        return out

    history = trainer.run(step_fn, steps)
    _set_grad(critic, True)
    codec.eval()
    critic.eval()
    return codec, critic, history


# ---------------------------------------------------------------------- evaluation
@torch.no_grad()
def _reconstruct(codec: RDPMnistCodec, x_u8: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    dev = next(codec.parameters()).device
    return torch.cat([codec(_as_float(x_u8[i:i + batch]).to(dev)).cpu() for i in range(0, len(x_u8), batch)])


@torch.no_grad()
def _indices(codec: RDPMnistCodec, x_u8: torch.Tensor, batch: int = 5000) -> torch.Tensor:
    dev = next(codec.parameters()).device
    return torch.cat([codec.encode(_as_float(x_u8[i:i + batch]).to(dev)).cpu() for i in range(0, len(x_u8), batch)])


@torch.no_grad()
def perception_index(critic: nn.Module, x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Footnote 7: :math:`\\frac2N(\\sum_{i\\le N/2} h(x_i) - \\sum_{i>N/2} h(g(\\hat f(x_i))))` — real digits of
    the first half against reconstructions of the (disjoint) second half."""
    dev = next(critic.parameters()).device
    half = len(x) // 2
    return wasserstein_estimate(critic, _as_float(x[:half]).to(dev), x_hat[half:2 * half].to(dev))


def coded_rate(codec: RDPMnistCodec, train_x: torch.Tensor, test_x: torch.Tensor,
               pmf_size: int | None = None) -> dict[str, float]:
    """Entropy-code the quantizer indices of the test set with a pmf estimated on the training set.

    The pmf of each of the ``dim`` code entries is the training-set histogram of its ``L`` indices, plus one
    count per index (so that an index unseen in training stays codable); ``pmf_size`` limits it to the first
    training digits. The whole test set is written as one
    stream by :class:`~perceptual_compression.coding.CategoricalCodec`, header included. Returns bits per
    digit: ``coded`` (real bytes), ``estimated`` (``-log2 pmf`` of the test symbols) and ``nominal``
    (``dim·log2 L``).
    """
    from ..coding import CategoricalCodec

    train_idx = _indices(codec, train_x[:pmf_size] if pmf_size else train_x)
    counts = torch.stack([torch.bincount(train_idx[:, c], minlength=codec.L) for c in range(codec.dim)])
    pmf = (counts.double() + 1.0) / (counts.sum(1, keepdim=True).double() + codec.L)
    coder = CategoricalCodec(pmf, codec_id=f"ch1-rdp-mnist-d{codec.dim}-L{codec.L}")
    test_idx = _indices(codec, test_x)
    data = coder.compress(test_idx)
    if not torch.equal(coder.decompress(data), test_idx):
        raise RuntimeError("the entropy coder did not round-trip the quantizer indices")
    n = len(test_x)
    return {"coded": 8.0 * len(data) / n, "estimated": coder.estimate_bits(test_idx) / n,
            "nominal": codec.nominal_bits, "bytes": len(data), "digits": n}


@torch.no_grad()
def evaluate_codec(codec: RDPMnistCodec, critic: nn.Module, data: dict[str, torch.Tensor], *,
                   eval_size: int | None = None, classifier: nn.Module | None = None, feature_alpha: float = 0.05,
                   n_examples: int = 10, seed: int = 0, coded: bool = True,
                   pmf_size: int | None = None) -> dict[str, Any]:
    """Distortion, perception index and rates of one trained pair on the test set.

    Returns squared error per digit and MSE per pixel, the deep-feature term ``‖Ψ(x) − Ψ(x̂)‖²`` and eq. (11)
    with ``α = feature_alpha`` (when a classifier is given), the classifier's accuracy on the reconstructions,
    the perception index (footnote 7), the rates of :func:`coded_rate`, and ``n_examples`` decoded test digits.

    ``eval_size`` limits the distortion, perception index and accuracy to the first ``eval_size`` test digits
    (``eval_digits``); the coded rate is always that of the whole test set (``coded_digits``), with the pmf
    estimated on the first ``pmf_size`` training digits (None: all).
    """
    torch.manual_seed(seed)  # the decoder's noise
    codec.eval()
    critic.eval()
    test_x, test_y = data["test_x"], data["test_y"]
    n = min(len(test_x), eval_size or len(test_x))
    x_u8 = test_x[:n]
    x_hat = _reconstruct(codec, x_u8)
    x = _as_float(x_u8).cpu()
    se = squared_error(x, x_hat)
    out: dict[str, Any] = {
        "dim": codec.dim, "L": codec.L,
        "sq_error": float(se.mean()), "mse": float(se.mean() / x[0].numel()),
        "perception": perception_index(critic, x_u8, x_hat),
        "eval_digits": n,
    }
    if classifier is not None:
        dev = next(classifier.parameters()).device
        feats = []
        for i in range(0, n, 1000):
            fx = classifier.features(x[i:i + 1000].to(dev))
            fy = classifier.features(x_hat[i:i + 1000].to(dev))
            feats.append((fx - fy).pow(2).flatten(1).sum(1).cpu())
        fe = torch.cat(feats)
        out["feature_error"] = float(fe.mean())
        out["deep_feature"] = float((se + feature_alpha * fe).mean())
        out["accuracy"] = classifier_accuracy(classifier, x_hat, test_y[:n])
    if coded:
        rate = coded_rate(codec, data["train_x"], test_x, pmf_size)
        out.update(nominal_bits=rate["nominal"], coded_bits=rate["coded"], estimated_bits=rate["estimated"],
                   coded_digits=rate["digits"])
    else:
        out.update(nominal_bits=codec.nominal_bits)
    out["examples"] = x_hat[:n_examples, 0].numpy()
    return out


def run_grid(cfg: RDPMnistConfig, data: dict[str, torch.Tensor], run_dir: str | Path | None, *,
             distortion: str = "mse", classifier: nn.Module | None = None, seed: int = 0,
             device: torch.device | None = None, progress: bool | None = None, coded: bool = True):
    """Train and evaluate every model of the grid (λ = 0 first, then each λ > 0 from it).

    Returns a pandas DataFrame, one row per model, with the columns of :func:`evaluate_codec` plus
    ``distortion`` and ``lam``. Checkpoints go to ``run_dir`` (one file per model, named after the settings'
    hash), so an interrupted run resumes and a finished one only re-evaluates.
    """
    import pandas as pd

    check_choice("distortion", distortion, DISTORTIONS)
    grid = cfg.grid if distortion == "mse" else cfg.deep_feature_grid
    run_dir = Path(run_dir) if run_dir else None
    rows = []
    for dim, L, lams in grid:
        lams = sorted(float(v) for v in lams)
        if lams[0] != 0:
            raise ValueError(f"dim={dim}, L={L}: every rate needs its λ = 0 model first")

        def ckpt(lam: float) -> Path | None:
            if run_dir is None:
                return None
            return run_dir / f"{distortion}_dim{dim}_L{L}_lam{lam:g}_seed{seed}_{cfg.tag()}.pt"

        base_codec = base_critic = None
        for lam in lams:
            init = None
            if lam > 0:
                init = {"codec": base_codec.state_dict(), "critic": base_critic.state_dict()}
            codec, critic, hist = train_codec(cfg, dim, L, lam, data, distortion=distortion, classifier=classifier,
                                              init=init, checkpoint=ckpt(lam), seed=seed, device=device,
                                              progress=progress)
            if lam == 0:
                base_codec, base_critic = codec, critic
            row = evaluate_codec(codec, critic, data, eval_size=cfg.eval_size, classifier=classifier, seed=seed,
                                 feature_alpha=cfg.feature_scale / cfg.mse_scale, coded=coded, pmf_size=cfg.pmf_size)
            row.update(distortion=distortion, lam=lam, train_steps=int(hist.steps("loss")[-1] + 1) if len(hist) else 0)
            rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- curves of Fig. 6-8
def _rate_column(df, rate: str) -> np.ndarray:
    return df[{"nominal": "nominal_bits", "coded": "coded_bits"}.get(rate, rate)].to_numpy(dtype=float)


def shannon_curve(df, *, distortion_col: str = "mse", rate: str = "nominal"):
    """The λ = 0 models (distortion only), sorted by rate: the approximation of Shannon's R(D) in Fig. 6."""
    sub = df[df["lam"] == 0].copy()
    sub["rate"] = _rate_column(sub, rate)
    return sub.sort_values("rate")[["rate", distortion_col, "perception", "lam", "dim", "L"]]


def equi_perception_curve(df, P: float, *, distortion_col: str = "mse", rate: str = "nominal"):
    """Footnote 8: for each rate, the model of least distortion among those with perception index ``<= P``.

    Rates without such a model are left out. Sorted by rate.
    """
    import pandas as pd

    d = df.copy()
    d["rate"] = _rate_column(d, rate)
    picks = []
    for (dim, L), g in d.groupby(["dim", "L"]):
        ok = g[g["perception"] <= P]
        if len(ok):
            picks.append(ok.loc[ok[distortion_col].idxmin()])
    if not picks:
        return pd.DataFrame(columns=["rate", distortion_col, "perception", "lam", "dim", "L"])
    return pd.DataFrame(picks).sort_values("rate")[["rate", distortion_col, "perception", "lam", "dim", "L"]]


def smoothing_spline(curve, *, distortion_col: str = "mse", n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Footnote 8's drawing of a curve: a smoothing spline of the distortion as a function of the rate, through
    the points of ``curve`` (e.g. :func:`equi_perception_curve`), evaluated at ``n`` rates between its first
    and last. Returns ``(distortion, rate)``.

    The spline is SciPy's cubic smoothing spline with its smoothness chosen by generalised cross-validation (the
    paper does not state its smoothing). Of points at the same rate the least distortion is kept, as the footnote
    says. A cubic smoothing spline needs five rates: with fewer the points are returned as they are (joined by
    straight segments when drawn).
    """
    from scipy.interpolate import make_smoothing_spline

    r = np.asarray(curve["rate"], dtype=float)
    d = np.asarray(curve[distortion_col], dtype=float)
    rates = np.unique(r)
    least = np.array([d[r == x].min() for x in rates])
    if len(rates) < 5:
        return least, rates
    grid = np.linspace(rates[0], rates[-1], n)
    return make_smoothing_spline(rates, least)(grid), grid


def constant_distortion_curve(df, D: float, *, distortion_col: str = "mse", rate: str = "nominal"):
    """Fig. 7(c): for each rate, the least perception index among models with distortion ``<= D``."""
    import pandas as pd

    d = df.copy()
    d["rate"] = _rate_column(d, rate)
    rows = []
    for (dim, L), g in d.groupby(["dim", "L"]):
        ok = g[g[distortion_col] <= D]
        if len(ok):
            best = ok.loc[ok["perception"].idxmin()]
            rows.append({"rate": best["rate"], "perception": best["perception"], distortion_col: best[distortion_col]})
    return pd.DataFrame(rows, columns=["rate", "perception", distortion_col]).sort_values("rate")
