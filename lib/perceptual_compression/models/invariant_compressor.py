"""Invariant neural compressors (Dubois et al. 2021, Sec. 4): encoder -> entropy model -> decoder or critic.

One :class:`InvariantCompressor` serves the three objectives of the chapter:

- VC and VIC (:mod:`perceptual_compression.losses.vic`): a decoder ``q_phi(x | z)`` reconstructs the
  augmented input (VC) or the unaugmented one (VIC);
- BINCE (:mod:`perceptual_compression.losses.bince`): no decoder, a critic ``f_psi`` scores pairs of codes.

The encoder is deterministic; the entropy model (:mod:`.vector_prior`) adds uniform noise while training
and rounds at test time, so that ``Z`` is discrete and entropy-coded with
:class:`perceptual_compression.coding.EntropyBottleneckCodec`.

Architectures, per scale (see :class:`BananaConfig` and :class:`MNISTConfig`):

- banana: MLPs (paper: 2 hidden layers of 1024 with batch norm and softplus — the authors' ``mlp_fancy``);
- MNIST: the paper uses a ResNet-18 encoder (first convolution 3×3/stride 1, no max-pool, for small
  images) and a transposed CNN decoder (channels 256-128-64-32 from 2×2 to 32×32) on digits resized to 32×32,
  as in the authors' code; the small scale uses a three-layer strided CNN encoder and an MLP decoder on the
  28×28 digits (the transposed CNN then crops its 32×32 output to 28×28).

:func:`train_compressor` runs one objective with :class:`perceptual_compression.training.Trainer`
(seeded, checkpoint/resume, progress bar), Adam (or AdamW with a weight decay, the authors' MNIST optimizer)
with an exponential learning-rate decay (per step, or per epoch as the authors' scheduler steps), gradient-norm
clipping (``grad_clip``: 3 on our loss at the small scale; at the paper scale the authors' clip at 3 on *their* loss,
:func:`~perceptual_compression.losses.vic.clip_from_lossyless`), an optional warm-up
of the rate weight and, given a validation set, the model of the best validation loss (the authors'
best-validation checkpoint), or the model of the best training loss at the checks (their ``bestTrainLoss``
checkpoint of the Sec. 5.1 runs). The entropy models'
tail quantiles are found after training by bisection (:meth:`VectorPrior.update`), so CompressAI's
auxiliary loss is not needed.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..losses.bince import Critic, bince_loss
from ..losses.vic import beta_from_lossyless, clip_from_lossyless, distortion_bits, rate_distortion_loss
from ..params import check_choice
from ..training.schedules import exponential_decay
from ..training.tags import settings_tag
from .vector_prior import VectorPrior, make_prior

SCALES = ("small", "paper")
OBJECTIVES = ("VC", "VIC", "BINCE")


# ----------------------------------------------------------------------------------- architectures
def mlp(in_dim: int, out_dim: int, hidden: int, layers: int = 2, *, activation: str = "softplus",
        batchnorm: bool = False) -> nn.Sequential:
    """``layers`` hidden layers of width ``hidden``."""
    act = {"softplus": nn.Softplus, "relu": nn.ReLU}[activation]
    mods: list[nn.Module] = []
    d = in_dim
    for _ in range(layers):
        mods.append(nn.Linear(d, hidden, bias=not batchnorm))
        if batchnorm:
            mods.append(nn.BatchNorm1d(hidden))
        mods.append(act())
        d = hidden
    mods.append(nn.Linear(d, out_dim))
    return nn.Sequential(*mods)


class SmallConvEncoder(nn.Module):
    """28×28 -> three stride-2 conv–batch-norm–ReLU blocks (5×5 then 3×3; ``c``, ``2c``, ``2c`` channels)
    -> linear -> ``z_dim``."""

    def __init__(self, z_dim: int, channels: int = 16, in_channels: int = 1) -> None:
        super().__init__()
        c = channels

        def block(i: int, o: int, k: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, k, stride=2, padding=k // 2, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

        self.net = nn.Sequential(*block(in_channels, c, 5), *block(c, 2 * c, 3), *block(2 * c, 2 * c, 3),
                                 nn.Flatten(), nn.Linear(2 * c * 4 * 4, z_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MLPImageDecoder(nn.Module):
    """``z_dim`` -> two hidden layers of ``hidden`` -> 28×28 logits (a cheap decoder for the small scale)."""

    def __init__(self, z_dim: int, hidden: int = 256, shape: tuple[int, int, int] = (1, 28, 28)) -> None:
        super().__init__()
        self.shape = shape
        self.net = mlp(z_dim, shape[0] * shape[1] * shape[2], hidden, 2, activation="relu")

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.shape)


class ResNet18Encoder(nn.Module):
    """torchvision's ResNet-18 for small images (3×3 stride-1 stem, no max-pool), output ``z_dim``."""

    def __init__(self, z_dim: int, in_channels: int = 1) -> None:
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None, num_classes=z_dim)
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PyramidConvDecoder(nn.Module):
    """The authors' image decoder shape: linear -> 2×2×8c, four stride-2 transposed convolutions with batch
    norm (8c, 4c, 2c, c channels) up to 32×32, then a centre crop to ``size``."""

    def __init__(self, z_dim: int, channels: int = 32, out_channels: int = 1, size: int = 28) -> None:
        super().__init__()
        c = channels
        chans = [8 * c, 4 * c, 2 * c, c]
        self.fc = nn.Linear(z_dim, chans[0] * 2 * 2)
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]
        layers.append(nn.ConvTranspose2d(chans[-1], out_channels, 4, stride=2, padding=1))
        self.net = nn.Sequential(*layers)
        self.c0 = chans[0]
        self.size = size

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.net(F.relu(self.fc(z)).view(-1, self.c0, 2, 2))
        off = (y.shape[-1] - self.size) // 2
        return y[..., off:off + self.size, off:off + self.size]


# ----------------------------------------------------------------------------------- the compressor
class InvariantCompressor(nn.Module):
    """Encoder + entropy model + (decoder for VC/VIC | critic for BINCE)."""

    def __init__(self, encoder: nn.Module, prior: VectorPrior, *, decoder: nn.Module | None = None,
                 critic: Critic | None = None) -> None:
        super().__init__()
        if (decoder is None) == (critic is None):
            raise ValueError("give exactly one of decoder (VC/VIC) or critic (BINCE)")
        self.encoder = encoder
        self.prior = prior
        self.decoder = decoder
        self.critic = critic

    @property
    def z_dim(self) -> int:
        return self.prior.dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z_hat, bits per example)``: noisy ``z`` while training, rounded in eval mode."""
        return self.prior(self.encode(x))

    def decode(self, z_hat: torch.Tensor) -> torch.Tensor:
        """The decoder's output for codes on any device, returned on the codes' device (the model may be on CUDA
        while evaluation keeps its codes on the CPU, as :meth:`represent` returns them)."""
        if self.decoder is None:
            raise RuntimeError("a BINCE compressor has no decoder")
        dev = next(self.decoder.parameters()).device
        return self.decoder(z_hat.to(dev)).to(z_hat.device)

    @torch.no_grad()
    def represent(self, x: torch.Tensor, batch_size: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
        """Eval mode: the quantized codes ``z_hat`` and estimated bits of each example."""
        was = self.training
        self.eval()
        try:
            dev = next(self.parameters()).device
            outs = [self(x[i:i + batch_size].to(dev)) for i in range(0, len(x), batch_size)]
            return torch.cat([o[0] for o in outs]).cpu(), torch.cat([o[1] for o in outs]).cpu()
        finally:
            self.train(was)

    @torch.no_grad()
    def compress(self, x: torch.Tensor) -> bytes:
        """A batch of inputs (on any device) as one bitstream: encode, quantize and entropy-code (eval mode)."""
        was = self.training
        self.eval()
        try:
            return self.prior.compress(self.encode(x.to(next(self.parameters()).device)))
        finally:
            self.train(was)

    @torch.no_grad()
    def decompress(self, data: bytes) -> torch.Tensor:
        """The quantized codes ``z_hat`` of the batch, on the CPU as :meth:`represent` returns them (decode them
        with :meth:`decode` for VC/VIC)."""
        return self.prior.decompress(data).cpu()

    @torch.no_grad()
    def encode_latents(self, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
        """Eval mode: the unquantized encoder outputs ``z`` (what an entropy coder quantizes and codes)."""
        was = self.training
        self.eval()
        try:
            dev = next(self.parameters()).device
            return torch.cat([self.encode(x[i:i + batch_size].to(dev)) for i in range(0, len(x), batch_size)]).cpu()
        finally:
            self.train(was)


# ----------------------------------------------------------------------------------- configurations
def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} is not valid; valid values are: " + ", ".join(repr(s) for s in SCALES))


#: :class:`BananaConfig` fields that do not change the trained weights, left out of :meth:`BananaConfig.tag`: the
#: scale's name (checkpoint names carry it) and the size of the test set. The betas and the number of seeds stay
#: in: every member's initial seed is its index in the list of (objective, beta, seed) members.
BANANA_UNTAGGED_FIELDS = ("scale", "n_test")
#: :class:`MNISTConfig` fields that do not change a compressor's weights, left out of :meth:`MNISTConfig.tag`: the
#: scale's name, the number of repetitions (each run's name carries its own seed), the evaluation (probe-training
#: and test images, probes, predictor on reconstructions, Sec. 5.3's feature compressor) and the β values that
#: choose which runs exist (each run's name carries its own β, objective and augmentation).
MNIST_UNTAGGED_FIELDS = ("scale", "seeds", "n_train", "n_test", "probe_steps", "probe_hidden", "recon_predictor",
                         "feature_betas", "feature_steps", "feature_lr", "betas", "beta_vic", "beta_bince",
                         "beta_supervised")


@dataclass(frozen=True)
class BananaConfig:
    """Banana experiments (Fig. 5). ``paper`` holds the authors' settings (bin/banana/banana_RD.sh)."""

    scale: str
    hidden: int
    layers: int
    batchnorm: bool
    z_dim: int
    batch_size: int
    steps: int
    lr: float
    lr_decay: float          # the learning rate decays exponentially by this factor over training
    betas: tuple[float, ...]  # multiplies the distortion (bits); rate in bits
    seeds: int
    n_test: int
    prior: str = "factorized"
    z_dim_vic: int | None = None  # VIC's latent size where it differs from VC's ``z_dim`` (None: the same)
    weight_decay: float = 0.0     # > 0: AdamW with this decoupled weight decay instead of Adam
    n_val: int = 0                # > 0: fresh validation samples; the run keeps its best-validation model
    val_every: int = 0            # steps between validations (the authors: once per epoch)
    authors_clip: bool = False    # True: the authors' clip at 3 on their loss (clip_from_lossyless); False: 3 on ours
    lr_epoch_steps: int = 0       # > 0: the learning rate decays once per epoch of this many steps (else per step)

    @classmethod
    def for_scale(cls, scale: str) -> "BananaConfig":
        _check_scale(scale)
        if scale == "paper":
            # mlp_fancy (1024 wide, 2 hidden layers, batch norm, softplus); 100 epochs of 1,024,000 samples
            # at batch 1024; Adam 3e-4 with a 1000x exponential decay; 9 values of beta (code: 1e-4..10 on
            # the rate in nats, here 1 / beta_code on the distortion, see losses.vic.beta_from_lossyless: the
            # script sets distortion.factor_beta=1 for VC and VIC alike, overriding VAE.yaml's 0.5);
            # 5 runs (Fig. 5 caption); test set of 100,000 samples. The script gives VC a 2-D latent and VIC a
            # 1-D one ("distortion=VAE encoder.z_dim=2", "distortion=VIC encoder.z_dim=1"): the norm suffices.
            return cls("paper", 1024, 2, True, 2, 1024, 100_000, 3e-4, 1000.0,
                       tuple(beta_from_lossyless(b) for b in (10, 3, 1, 0.3, 0.1, 0.03, 0.01, 0.001, 0.0001)),
                       5, 100_000,
                       # config/data/base_banana.yaml: 100,000 validation samples; config/main.yaml keeps the
                       # checkpoint of the best validation loss (checked every epoch of 1,000 steps) and clips
                       # gradient norms at 3 on the authors' loss
                       z_dim_vic=1, n_val=100_000, val_every=1000, authors_clip=True,
                       # ExponentialLR (gamma = 1000 ** (-1 / 100)) stepped by Lightning once per epoch
                       lr_epoch_steps=1000)
        return cls("small", 32, 2, False, 2, 256, 1000, 5e-3, 30.0, (1.0, 4.0, 16.0, 64.0), 2, 20_000)

    def with_(self, **changes) -> "BananaConfig":
        return replace(self, **changes)

    def tag(self) -> str:
        """Short, stable hash of every setting that changes the trained weights (names checkpoint files, so that
        a run with other settings never resumes, or returns, another run's checkpoint); the fields in
        :data:`BANANA_UNTAGGED_FIELDS` do not enter it (as chapter 3's ``PIMConfig.tag``)."""
        return settings_tag(self, BANANA_UNTAGGED_FIELDS)

    def latent_dim(self, objective: str) -> int:
        """The latent size of ``objective``'s compressor."""
        if objective not in ("VC", "VIC"):
            raise ValueError(f"objective={objective!r} is not valid for the banana; valid values are: 'VC', 'VIC'")
        return self.z_dim_vic if objective == "VIC" and self.z_dim_vic is not None else self.z_dim

    def grad_clip(self, beta: float) -> float:
        """Gradient-norm clip of a run of ``beta``: 3, or the authors' 3 on their loss (``authors_clip``)."""
        return clip_from_lossyless(beta) if self.authors_clip else 3.0

    def build(self, objective: str = "VIC") -> InvariantCompressor:
        z = self.latent_dim(objective)
        enc = mlp(2, z, self.hidden, self.layers, batchnorm=self.batchnorm)
        dec = mlp(z, 2, self.hidden, self.layers, batchnorm=self.batchnorm)
        return InvariantCompressor(enc, make_prior(self.prior, z), decoder=dec)


@dataclass(frozen=True)
class MNISTConfig:
    """Augmented-MNIST experiments (Fig. 6, Sec. 5.1). ``paper``: bin/mnist/augmnist_RD.sh and config/."""

    scale: str
    encoder: str             # "small_cnn" | "resnet18"
    decoder: str             # "mlp" | "pyramid_cnn"
    channels: int
    z_dim: int
    prior: str               # "factorized" | "hyperprior"
    batch_size: int
    steps: int
    lr: float
    lr_decay: float
    betas: tuple[float, ...]             # VC/VIC sweep (distortion in bits, rate in bits; see factor_beta)
    beta_vic: float                       # the single beta of the Sec. 5.1 runs and of the reconstructions
    beta_bince: float
    bince_steps: int
    seeds: int                            # repetitions of every run (seeds seed, seed + 1, ...; mean ± std shown)
    n_train: int | None      # None: all 60,000 training images
    n_test: int | None
    probe_steps: int
    probe_hidden: int = 256
    decoder_hidden: int = 256
    rate_warmup: float = 0.1     # the authors anneal the rate weight over the first 10% of training
    beta_supervised: float | None = None   # VIC with the supervised augmentation (None: beta_vic)
    feature_betas: tuple[float, ...] = (1.0, 10.0)   # Sec. 5.3 recipe on BINCE features (l1 distortion weight)
    feature_steps: int = 300
    feature_lr: float = 1e-2
    # predictor trained on VC's and VIC's reconstructions: "linear" (L-BFGS logistic regression on the decoded
    # pixels, always computed: cheap) or "resnet18" (the paper's: evaluation.recon_predictor, added to "linear")
    recon_predictor: str = "linear"
    weight_decay: float = 0.0     # > 0: AdamW with this decoupled weight decay instead of Adam
    val_fraction: float = 0.0     # > 0: this share of the training images is held out for validation, and the run
    val_every: int = 0            # keeps its best-validation model, checked every ``val_every`` steps
    # the authors' distortion.factor_beta of VC (config/distortion/VAE.yaml) and BINCE (BINCE.yaml), whose
    # distortion their loss divides by it (VIC's is 1); see :meth:`factor_beta`
    vc_factor_beta: float = 1.0
    bince_factor_beta: float = 1.0
    # BINCE as the authors' code computes it (losses.bince.info_nce_symmetric: both codes of a pair as anchors,
    # 2B - 1 candidates, corrected as if the batch were the whole training set); False: eq. 9's form
    bince_authors_form: bool = False
    # side of the digits the compressors see: 28 (MNIST's own) or 32, the authors' (their MnistDataset resizes
    # every augmented digit to 1x32x32; we resize first and augment at 32, the same up to interpolation, as the
    # augmentations' translations are relative); the decoder outputs this size
    image_size: int = 28
    authors_clip: bool = False    # True: the authors' clip at 3 on their loss (clip_from_lossyless); False: 3 on ours
    lr_epoch_steps: int = 0       # > 0: the learning rate decays once per epoch of this many steps (else per step)
    rate_warmup_steps: int | None = None  # the rate warm-up's length in steps (None: rate_warmup of the steps)
    # the model the Sec. 5.1 runs (VIC mild, VIC supervised, BINCE supervised) keep: "validation" (like the sweep's
    # runs; Sec. 5.1's standard VIC is then the Fig. 6 sweep's run at beta_vic) or "train", the authors'
    # bestTrainLoss checkpoint of bin/mnist/augmnist_aug.sh (the lowest loss of the last batch of an epoch, checked
    # every val_every steps), with a standard-augmentation VIC run of Sec. 5.1's own, as in their script
    sec51_selection: str = "validation"
    bince_separate_views: bool = False  # True: BINCE's two views in two forward passes, as the authors' code does

    def __post_init__(self) -> None:
        if self.image_size not in (28, 32):
            raise ValueError(f"image_size must be 28 or 32, got {self.image_size}")
        check_choice("sec51_selection", self.sec51_selection, ("validation", "train"))
        if self.sec51_selection == "train" and self.val_every < 1:
            raise ValueError("sec51_selection='train' checks the training loss every val_every steps: set val_every")

    def factor_beta(self, objective: str) -> float:
        """The authors' ``distortion.factor_beta`` of ``objective`` (VC, VIC or BINCE) at this scale."""
        return {"VC": self.vc_factor_beta, "VIC": 1.0, "BINCE": self.bince_factor_beta}[objective]

    def training_beta(self, objective: str, beta: float) -> float:
        """The β ``objective`` trains with for a sweep value ``beta``: ``beta / factor_beta(objective)``, the
        authors' weight ``1 / factor_beta`` on the distortion (at the paper scale ``beta`` is ``1 / beta_code``)."""
        return beta / self.factor_beta(objective)

    def grad_clip(self, objective: str, beta: float) -> float:
        """Gradient-norm clip of the run of sweep value ``beta``: 3, or the authors' 3 on their loss
        (``authors_clip``; :func:`~perceptual_compression.losses.vic.clip_from_lossyless`)."""
        if not self.authors_clip:
            return 3.0
        return clip_from_lossyless(self.training_beta(objective, beta), self.factor_beta(objective))

    @classmethod
    def for_scale(cls, scale: str) -> "MNISTConfig":
        _check_scale(scale)
        if scale == "paper":
            # ResNet-18 encoder, z of 128, mean-scale hyperprior, batch 128, AdamW 1e-3 (weight decay 1e-5,
            # config/main.yaml: AdamW_lr1e-3_w1e-5) with a 100x decay,
            # 100 epochs; 10 values of beta (code 1e-4..100 on the rate; the sweep's beta = 1/beta_code here,
            # which VC and BINCE divide by their factor_beta, 0.5 and 0.003);
            # Fig. 6 shows 5 runs (the script sweeps 3 seeds): every run is repeated with `seeds` = 5 seeds and
            # the chapter reports mean and standard deviation (experiments.ch5_invariance.mnist_summary);
            # figure 1 uses beta_code = 0.1.
            # 100 epochs of the 57,000 training images at batch 128 (drop_last off): 446 steps each, 44,600 in
            # all; ExponentialLR (gamma = 100 ** (-1 / 100)) stepped once per epoch; the rate's linear warm-up runs
            # over ceil(0.1 * max_steps) = 4,450 steps, their max_steps being 100 * (57,000 // 128) = 44,500
            return cls("paper", "resnet18", "pyramid_cnn", 32, 128, "hyperprior", 128, 44_600, 1e-3, 100.0,
                       tuple(1.0 / b for b in (100, 10, 3, 1, 0.3, 0.1, 0.03, 0.01, 0.001, 0.0001)),
                       # BINCE: beta_code 1e-4, one value of the authors' sweep (1e-7..1e-3)
                       10.0, 1.0 / 1e-4, 44_600, 5, None, None, 20_000, 2048,
                       # bin/mnist/augmnist_RD.sh: architecture@predictor=resnet18, featurizer=neural_rec
                       # config/data/mnist_aug.yaml holds out 5% for validation (augmented); config/main.yaml
                       # keeps the best-validation checkpoint, checked every epoch (57,000 / 128 steps)
                       recon_predictor="resnet18", weight_decay=1e-5, val_fraction=0.05, val_every=446,
                       vc_factor_beta=0.5, bince_factor_beta=0.003, authors_clip=True, bince_authors_form=True,
                       image_size=32, lr_epoch_steps=446, rate_warmup_steps=4_450, sec51_selection="train",
                       bince_separate_views=True)
        # the supervised target depends on the label only: a smaller beta lets the rate fall towards H[Y]
        return cls("small", "small_cnn", "mlp", 16, 32, "factorized", 64, 800, 1e-2, 10.0,
                   (3.0, 10.0), 10.0, 300.0, 800, 1, 10_000, 5_000, 400, 256, beta_supervised=1.0)

    def with_(self, **changes) -> "MNISTConfig":
        return replace(self, **changes)

    def tag(self) -> str:
        """Short, stable hash of every setting that changes a compressor's weights (with the run's own objective,
        augmentation, β and seed it names the run's checkpoint); the fields in :data:`MNIST_UNTAGGED_FIELDS` do not
        enter it."""
        return settings_tag(self, MNIST_UNTAGGED_FIELDS)

    def build(self, objective: str) -> InvariantCompressor:
        if objective not in OBJECTIVES:
            raise ValueError(f"objective={objective!r} is not valid; valid values are: "
                             + ", ".join(repr(o) for o in OBJECTIVES))
        enc = ResNet18Encoder(self.z_dim) if self.encoder == "resnet18" else SmallConvEncoder(self.z_dim, self.channels)
        prior = make_prior(self.prior, self.z_dim)
        if objective == "BINCE":
            return InvariantCompressor(enc, prior, critic=Critic(self.z_dim))
        s = self.image_size
        dec = (PyramidConvDecoder(self.z_dim, self.channels, size=s) if self.decoder == "pyramid_cnn"
               else MLPImageDecoder(self.z_dim, self.decoder_hidden, shape=(1, s, s)))
        return InvariantCompressor(enc, prior, decoder=dec)


# ----------------------------------------------------------------------------------- training
def adam(params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam, or AdamW with decoupled ``weight_decay`` when it is > 0, with the fused kernel when this PyTorch
    has it (3x faster steps on CPU), else the default."""
    params = list(params)
    opt, kw = (torch.optim.AdamW, {"weight_decay": weight_decay}) if weight_decay else (torch.optim.Adam, {})
    try:
        return opt(params, lr=lr, fused=True, **kw)
    except (RuntimeError, TypeError, ValueError):
        return opt(params, lr=lr, **kw)


@dataclass
class TrainResult:
    model: InvariantCompressor
    history: object
    objective: str
    beta: float
    extra: dict = field(default_factory=dict)


def train_compressor(model: InvariantCompressor, objective: str, batch_fn: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
                     *, beta: float, steps: int, lr: float, lr_decay: float = 1.0,
                     likelihood: str = "bernoulli", seed: int = 0, checkpoint_path: str | Path | None = None,
                     progress: bool | None = None, desc: str | None = None, grad_clip: float = 3.0,
                     rate_warmup: float = 0.0, streams: Mapping[str, Any] | None = None,
                     weight_decay: float = 0.0, validation: tuple[torch.Tensor, torch.Tensor] | None = None,
                     validate_every: int = 0, val_batch_size: int = 1024,
                     bince_options: Mapping[str, Any] | None = None, lr_epoch_steps: int = 0,
                     rate_warmup_steps: int | None = None, select_by_train_loss: bool = False,
                     bince_separate_views: bool = False) -> TrainResult:
    """Train ``model`` on one objective. ``batch_fn(step)`` returns ``(input, target)`` for VC/VIC
    (the caller chooses the target: ``A(x)`` for VC, ``x`` for VIC) or ``(view, positive view)`` for BINCE.

    ``lr_decay``: the learning rate falls exponentially by this factor over the ``steps``, at every step or, with
    ``lr_epoch_steps > 0``, once per epoch of that many steps (the authors' ``ExponentialLR``, stepped per epoch;
    :func:`~perceptual_compression.training.schedules.exponential_decay`).
    ``rate_warmup``: the weight of the rate grows linearly from 1e-5 to 1 over this fraction of the steps
    (the authors anneal it over the first 10% on images, which keeps the code from collapsing before the
    encoder has learnt anything), or over ``rate_warmup_steps`` steps when that is given; 0 trains on the final
    objective from the start.
    ``streams``: the random generators ``batch_fn`` draws from (saved in checkpoints and restored on resume,
    see :class:`~perceptual_compression.training.Trainer`).
    ``weight_decay``: > 0 trains with AdamW and this decoupled weight decay (the authors' MNIST setting), else Adam.
    ``bince_options``: keyword arguments of :func:`~perceptual_compression.losses.bince.bince_loss` for BINCE
    (``symmetric``, ``effective_batch_size``: the authors' form); none gives eq. 9's. ``bince_separate_views``:
    the two views of a BINCE batch go through the compressor in two forward passes, as in the authors' code (each
    view's batch-norm statistics its own), rather than in one.
    ``validation``: a fixed ``(input, target)`` pair (as ``batch_fn`` returns, for BINCE the two views) on which the
    objective is measured in evaluation mode (codes rounded about the medians the coder uses, full rate weight) every ``validate_every`` steps and
    after the last, in chunks of ``val_batch_size`` (for BINCE the chunk supplies the InfoNCE negatives, as a
    validation batch does in the authors' code); the model returned is the one of the lowest validation loss
    (the authors keep their best-validation checkpoint). The best model is part of the training checkpoint, and
    ``result.extra`` holds ``best_val_loss``, ``best_step`` and ``val_history`` (``[step, loss]`` of every check).
    ``select_by_train_loss`` (without ``validation``): the model returned is instead the one of the lowest
    *training* loss of the batch of every ``validate_every``-th step and of the last step (the authors' Sec. 5.1
    runs keep their ``bestTrainLoss`` checkpoint, which Lightning compares at each epoch's end on the loss logged
    for the epoch's last batch); ``result.extra`` then holds ``best_train_loss``, ``best_step`` and
    ``train_checks`` (``[step, loss]`` of every check).
    """
    from ..training import Trainer, default_device

    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r} is not valid; valid values are: " + ", ".join(repr(o) for o in OBJECTIVES))
    if objective == "BINCE" and model.critic is None:
        raise ValueError("BINCE needs a compressor built with a critic")
    if objective != "BINCE" and model.decoder is None:
        raise ValueError(f"{objective} needs a compressor built with a decoder")
    device = default_device()
    model.to(device)
    main = adam([p for n, p in model.named_parameters() if not n.endswith("quantiles")], lr, weight_decay)
    decay = float(lr_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        main, lambda s: exponential_decay(s, total_steps=max(1, steps), decay=decay, epoch_steps=lr_epoch_steps))
    main_params = [p for g in main.param_groups for p in g["params"]]

    if rate_warmup_steps is not None:
        warm = max(0, int(rate_warmup_steps))
    else:
        warm = max(1, int(rate_warmup * steps)) if rate_warmup > 0 else 0
    if (validation is not None or select_by_train_loss) and validate_every < 1:
        raise ValueError(f"validate_every must be >= 1 with a validation set or select_by_train_loss, "
                         f"not {validate_every}")
    if validation is not None and select_by_train_loss:
        raise ValueError("select_by_train_loss selects without a validation set: pass one or the other")

    def objective_terms(m: InvariantCompressor, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        if objective == "BINCE":
            if bince_separate_views:
                (z_a, bits_a), (z_b, _) = m(a), m(b)
            else:
                z_hat, bits = m(torch.cat([a, b]))
                n = len(a)
                z_a, bits_a, z_b = z_hat[:n], bits[:n], z_hat[n:]
            return bince_loss(bits_a, z_a, z_b, m.critic, beta, **(bince_options or {}))
        z_hat, bits = m(a)
        dist = distortion_bits(m.decode(z_hat), b, likelihood)
        return {"loss": rate_distortion_loss(bits, dist, beta), "rate": bits.mean(), "distortion": dist.mean()}

    best = _BestModel(model) if validation is not None or select_by_train_loss else None

    @torch.no_grad()
    def validate() -> float:
        # a copy with the coder's medians, which rounding uses in the coded model (training ignores them; the
        # trained model keeps its tables empty so that its checkpoints load into a fresh model)
        m = copy.deepcopy(model).eval()
        m.prior.update(force=True)
        total, n = 0.0, len(validation[0])
        if objective == "BINCE" and n > 1 and n % val_batch_size == 1:
            n -= 1  # a last chunk of one pair has no negatives (and the symmetric form needs two pairs)
        for i in range(0, n, val_batch_size):
            j = min(i + val_batch_size, n)
            a, b = validation[0][i:j].to(device), validation[1][i:j].to(device)
            total += float(objective_terms(m, a, b)["loss"]) * len(a)
        return total / n

    def step_fn(step: int) -> dict[str, torch.Tensor]:
        a, b = batch_fn(step)
        a, b = a.to(device), b.to(device)
        w = 1.0 if not warm else max(1e-5, min(1.0, step / warm))
        out = objective_terms(model, a, b)
        loss = w * out["rate"] + beta * out["distortion"]
        main.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(main_params, grad_clip)
        main.step()
        sched.step()
        logged = {"loss": out["loss"].detach(), "rate": out["rate"].detach(), "distortion": out["distortion"].detach()}
        if best is not None and ((step + 1) % validate_every == 0 or step == steps - 1):
            check = float(out["loss"].detach()) if select_by_train_loss else validate()
            v = best.offer(model, check, step + 1)
            trainer.extra_state["val_history"].append([step + 1, v])  # every check (the history logs every 10th step)
        return logged

    modules = {"model": model} if best is None else {"model": model, "best": best}
    trainer = Trainer(modules=modules, optimizers={"main": main}, schedulers={"main": sched},
                      checkpoint_path=checkpoint_path, checkpoint_every=max(1, steps // 4) if checkpoint_path else 0,
                      seed=seed, progress=progress, desc=desc or f"{objective} beta={beta:g}", log_every=10,
                      loss_keys=("loss",), streams=streams,
                      extra_state={"val_history": []} if best is not None else None)
    history = trainer.run(step_fn, steps)
    extra = {}
    if best is not None and int(best.step) == 0 and trainer.extra_state["val_history"]:
        warnings.warn(f"{desc or objective}: no {'training' if select_by_train_loss else 'validation'} loss checked "
                      "was finite; the last model is returned", RuntimeWarning, stacklevel=2)
    if best is not None and int(best.step) > 0:
        best.restore(model)
        kind = "train" if select_by_train_loss else "val"
        extra = {f"best_{kind}_loss": float(best.loss), "best_step": int(best.step),
                 "train_checks" if select_by_train_loss else "val_history":
                     [list(r) for r in trainer.extra_state["val_history"]]}
    model.prior.update(force=True)
    model.eval()
    return TrainResult(model, history, objective, beta, extra)


# the entropy coder's tables (CompressAI buffers): their sizes change with the learned densities, and
# ``prior.update`` rebuilds them
CODER_TABLES = ("_offset", "_quantized_cdf", "_cdf_length", "scale_table")


def is_coder_table(state_key: str) -> bool:
    """Whether ``state_key`` (of a ``state_dict``) names one of the entropy coder's rebuilt tables."""
    return state_key.rsplit(".", 1)[-1] in CODER_TABLES


def _learned_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if not is_coder_table(k)}


class _BestModel(nn.Module):
    """The lowest-validation-loss weights of a model seen so far (a module, so that checkpoints keep it). It keeps
    the learned state (parameters, quantiles, batch-norm statistics), not the coder's tables."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = copy.deepcopy(model)
        self.register_buffer("loss", torch.tensor(math.inf, dtype=torch.float64))
        self.register_buffer("step", torch.tensor(0))

    @torch.no_grad()
    def offer(self, model: nn.Module, loss: float, step: int) -> float:
        """Keep ``model``'s weights if ``loss`` is the lowest yet; returns ``loss``."""
        if loss < float(self.loss):
            _copy_learned(model, self.model)
            self.loss.fill_(loss)
            self.step.fill_(step)
        return loss

    @torch.no_grad()
    def restore(self, model: nn.Module) -> None:
        """Put the kept weights into ``model`` (call ``model.prior.update`` afterwards for the coder's tables)."""
        _copy_learned(self.model, model)


def _copy_learned(src: nn.Module, dst: nn.Module) -> None:
    target = _learned_state(dst)
    for k, v in _learned_state(src).items():
        target[k].copy_(v)
