r"""PIM, the Perceptual Information Metric (Bhardwaj, Fischer, Ballé & Chinen, NeurIPS 2020).

The model maps an image :math:`x` to a *stochastic* multi-scale representation :math:`q(z\mid x)` and
measures the distance between two images as a divergence between their representations.

Architecture (paper Fig. 2 and the authors' TensorFlow inference code, google-research/perceptual-quality):

1. **Front end** :math:`f_\theta`: a steerable pyramid with 3 scales and 2 orientations (order 1), giving
   8 subbands: the residual highpass, 2 oriented bands at each of 3 scales, and the residual lowpass
   (strides 1, 1, 1, 2, 2, 4, 4, 8). The pyramid acts on each colour channel. Each subband goes
   through its own CNN of four 5×5 convolutions (64, 64, 64 and 3 filters, ReLU between them,
   "same" padding), so :math:`f_\theta(x)` is a list of 8 tensors of 3 channels at the subbands'
   resolutions.
2. **Marginal encoder** :math:`q_{\theta,\phi}(z\mid x)`: at every spatial position of every subband,
   a small fully-connected network (1×1 convolutions) maps the 3 feature values to a mixture of
   ``nmix`` = 5 Gaussians with identity covariance in ``z_dim`` = 10 dimensions: two ReLU layers and
   a linear layer give the 5 mean vectors, a second branch of two ReLU layers and a linear layer
   gives the mixture logits. The positions and subbands are independent given :math:`x`.
3. **Full (joint) encoder** :math:`p_{\theta,\psi}(z\mid x, y)`, used only for training: a unit-variance
   Gaussian whose mean comes from a network on :math:`f_\theta(x)` whose layers are modulated
   multiplicatively and additively by linear functions of :math:`f_\theta(y)`.

The distance (reference code, ``PIM._get_distance``): with one mixture component the symmetrised KL
between two unit-variance Gaussians is proportional to the squared distance of their means, and the
metric is the mean squared difference of the means; with several components it is a Monte-Carlo
estimate of the symmetrised KL divergence
:math:`D(x, y) = \mathrm{KL}[q(z\mid x)\,\|\,q(z\mid y)] + \mathrm{KL}[q(z\mid y)\,\|\,q(z\mid x)]`,
where log-densities are averaged (not summed) over positions and subbands, as in the reference code.

Differences from the reference code, all documented where they occur:

* The pyramid is plenoptic's frequency-domain steerable pyramid (order 1, circular boundaries)
  instead of the reference's spatial ``sp1`` filters with zero padding; subband count, strides and
  orientations agree.
* The marginal encoder's means come from a linear output layer, as the paper's Fig. 2 describes.
  (In the released code the linear layer is skipped because the check that selects it is always
  true, so the released model's means are ReLU outputs.)
* Training-time 8×8 crops (appendix A.2) are computed exactly but cheaply: each subband CNN runs only
  on the window of its input that the crop depends on (see :meth:`PIMFrontEnd.forward_crops`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "PIMArchitecture",
    "SteerableFrontEnd",
    "PIMFrontEnd",
    "MarginalEncoder",
    "JointEncoder",
    "MixtureRepresentation",
    "PIM",
    "PIMDistance",
    "aligned_crop_starts",
    "center_crops",
    "gaussian_log_density",
    "keras_init_",
]

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class PIMArchitecture:
    """Architecture hyperparameters. Defaults are the paper's / reference code's (``config.get_params``)."""

    nscales: int = 3                       # steerable pyramid scales
    order: int = 1                         # steerable filter order: order + 1 orientations per scale
    num_filters: tuple[int, ...] = (64, 64, 64, 3)  # per-subband CNN; the last entry is the feature depth
    kernel_size: int = 5                   # CNN kernel size
    num_distribution_layers: int = 2       # ReLU layers in the marginal and joint encoders
    nmix: int = 5                          # mixture components of q(z|x)
    z_dim: int = 10                        # dimension of z at each position and subband
    in_channels: int = 3                   # RGB

    def __post_init__(self) -> None:
        if self.nscales < 1 or self.order < 0:
            raise ValueError("nscales must be >= 1 and order >= 0")
        if len(self.num_filters) < 1 or any(n < 1 for n in self.num_filters):
            raise ValueError("num_filters must be a non-empty sequence of positive integers")
        if self.kernel_size % 2 != 1:
            raise ValueError("kernel_size must be odd (same padding keeps subband positions aligned)")
        if self.nmix < 1 or self.z_dim < 1 or self.num_distribution_layers < 1:
            raise ValueError("nmix, z_dim and num_distribution_layers must be >= 1")

    @property
    def num_orientations(self) -> int:
        return self.order + 1

    @property
    def num_subbands(self) -> int:
        return self.nscales * self.num_orientations + 2

    @property
    def strides(self) -> tuple[int, ...]:
        """Subsampling factor of each subband, in the order of :meth:`SteerableFrontEnd.forward`."""
        s = [1]
        for k in range(self.nscales):
            s += [2**k] * self.num_orientations
        s.append(2**self.nscales)
        return tuple(s)

    @property
    def receptive_radius(self) -> int:
        """How far (in samples of a subband) a CNN output depends on its input: ``layers * (k // 2)``."""
        return len(self.num_filters) * (self.kernel_size // 2)

    @property
    def feature_channels(self) -> int:
        return self.num_filters[-1]


# ----------------------------------------------------------------------------------------- front end
class SteerableFrontEnd(nn.Module):
    """Steerable pyramid (plenoptic's ``SteerablePyramidFreq``) returning a list of subbands.

    Order of the list: residual highpass (stride 1), then for each scale ``k = 0..nscales-1`` its
    ``order + 1`` oriented bands (stride ``2**k``), then the residual lowpass (stride ``2**nscales``).
    The pyramid is built lazily for each image size. Image sample ``n`` of a subband with stride
    ``s`` sits at full-resolution position ``n * s`` (checked in the tests).
    """

    def __init__(self, nscales: int = 3, order: int = 1) -> None:
        super().__init__()
        self.nscales = nscales
        self.order = order
        self._pyramids: dict[tuple[int, int], nn.Module] = {}

    def _pyramid(self, shape: tuple[int, int], device: torch.device) -> nn.Module:
        key = (int(shape[0]), int(shape[1]))
        pyr = self._pyramids.get(key)
        if pyr is None:
            from plenoptic.process.steerable_pyramid_freq import SteerablePyramidFreq

            m = 2**self.nscales
            if key[0] % m or key[1] % m:
                raise ValueError(f"image size {key} must be divisible by 2**nscales = {m}")
            pyr = SteerablePyramidFreq(key, height=self.nscales, order=self.order, downsample=True)
            self._pyramids[key] = pyr
        return pyr.to(device)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() != 4:
            raise ValueError(f"expected (B, C, H, W) images, got shape {tuple(x.shape)}")
        coeffs = self._pyramid(x.shape[-2:], x.device)(x)
        out = [coeffs["residual_highpass"]]
        for k in range(self.nscales):
            band = coeffs[k]  # (B, C, orientations, h, w)
            out += [band[:, :, o] for o in range(band.shape[2])]
        out.append(coeffs["residual_lowpass"])
        return out


def _subband_cnn(arch: PIMArchitecture) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = arch.in_channels
    pad = arch.kernel_size // 2
    for i, c_out in enumerate(arch.num_filters):
        layers.append(nn.Conv2d(c_in, c_out, arch.kernel_size, padding=pad))
        if i < len(arch.num_filters) - 1:
            layers.append(nn.ReLU())
        c_in = c_out
    return nn.Sequential(*layers)


def aligned_crop_starts(sizes: Sequence[int], strides: Sequence[int], crop: int,
                        anchor: float | None = None) -> list[int]:
    """Start indices of ``crop``-sample windows, one per subband, whose centres align across scales.

    Sample ``n`` of a subband with stride ``s`` sits at full-resolution position ``n * s``. The
    window of subband ``i`` starts at the integer ``a`` that brings its centre
    ``(a + (crop - 1) / 2) * s`` nearest to ``anchor`` (default: the centre of the full-resolution
    grid, ``(sizes[i] * strides[i] - 1) / 2`` for the finest subband), clipped to the valid range.
    Every centre is then within half a sample of its own subband (``s / 2`` pixels) of the anchor,
    the best any integer window can do; this keeps the crops of appendix A.2 translation-equivariant.
    """
    if len(sizes) != len(strides):
        raise ValueError("sizes and strides must have the same length")
    if anchor is None:
        full = max(n * s for n, s in zip(sizes, strides))
        anchor = (full - 1) / 2.0
    starts = []
    for n, s in zip(sizes, strides):
        if crop > n:
            raise ValueError(f"crop {crop} is larger than a subband of size {n}")
        a = math.floor(anchor / s - (crop - 1) / 2.0 + 0.5)
        starts.append(int(min(max(a, 0), n - crop)))
    return starts


def center_crops(tensors: Sequence[torch.Tensor], strides: Sequence[int], crop: int) -> list[torch.Tensor]:
    """``crop × crop`` windows of every tensor (B, C, h, w), centred on the same image point (A.2)."""
    rows = aligned_crop_starts([t.shape[-2] for t in tensors], strides, crop)
    cols = aligned_crop_starts([t.shape[-1] for t in tensors], strides, crop)
    return [t[..., r:r + crop, c:c + crop] for t, r, c in zip(tensors, rows, cols)]


class PIMFrontEnd(nn.Module):
    r""":math:`f_\theta`: steerable pyramid followed by one CNN per subband (parameters not shared)."""

    def __init__(self, arch: PIMArchitecture) -> None:
        super().__init__()
        self.arch = arch
        self.pyramid = SteerableFrontEnd(arch.nscales, arch.order)
        self.cnns = nn.ModuleList(_subband_cnn(arch) for _ in range(arch.num_subbands))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [cnn(b) for cnn, b in zip(self.cnns, self.pyramid(x))]

    def forward_crops(self, x: torch.Tensor, crop: int) -> list[torch.Tensor]:
        """The aligned ``crop × crop`` centre windows of :meth:`forward`, computed cheaply.

        A CNN output window depends only on its input window widened by the receptive radius ``r``.
        Where that widened window lies inside the subband, the CNN runs on it alone and the centre of
        its output is exactly the window of the full computation ("same" zero padding touches only
        the outer ``r`` samples). Otherwise the CNN runs on the whole subband. The result equals
        ``center_crops(self.forward(x), strides, crop)`` (tested), at a fraction of the cost.
        """
        bands = self.pyramid(x)
        strides = self.arch.strides
        r = self.arch.receptive_radius
        rows = aligned_crop_starts([b.shape[-2] for b in bands], strides, crop)
        cols = aligned_crop_starts([b.shape[-1] for b in bands], strides, crop)
        inputs, where = [], []  # CNN input per subband, and where its output crop lies
        for b, r0, c0 in zip(bands, rows, cols):
            h, w = b.shape[-2:]
            if r0 - r >= 0 and c0 - r >= 0 and r0 + crop + r <= h and c0 + crop + r <= w:
                inputs.append(b[..., r0 - r:r0 + crop + r, c0 - r:c0 + crop + r])
                where.append((r, r))
            else:
                inputs.append(b)
                where.append((r0, c0))
        outputs = [cnn(t) for cnn, t in zip(self.cnns, inputs)]
        return [o[..., a:a + crop, c:c + crop] for o, (a, c) in zip(outputs, where)]


# ---------------------------------------------------------------------------------- distributions
def gaussian_log_density(z: torch.Tensor, mean: torch.Tensor, dim: int) -> torch.Tensor:
    """log N(z; mean, I), summed over ``dim`` (the z dimension)."""
    d = z.shape[dim]
    return -0.5 * (z - mean).pow(2).sum(dim) - 0.5 * d * _LOG_2PI


@dataclass
class MixtureRepresentation:
    r"""The marginal encoder's output :math:`q(z\mid x)` for a batch, one entry per subband.

    ``means[i]``: (B, nmix, z_dim, h, w); ``logits[i]``: (B, nmix, h, w) (``None`` when ``nmix == 1``).
    Positions and subbands are independent; each position holds a mixture of unit-variance Gaussians.
    """

    means: list[torch.Tensor]
    logits: list[torch.Tensor | None] = field(default_factory=list)

    @property
    def nmix(self) -> int:
        return self.means[0].shape[1]

    def log_weights(self, i: int) -> torch.Tensor:
        m = self.means[i]
        lg = self.logits[i] if self.logits else None
        if lg is None:
            return torch.zeros(m.shape[0], m.shape[1], *m.shape[3:], device=m.device, dtype=m.dtype)
        return F.log_softmax(lg, dim=1)

    def log_prob_maps(self, z: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """log q(z|x) at every position: ``z[i]`` is (..., B, z_dim, h, w); returns (..., B, h, w) per subband."""
        out = []
        for i, zi in enumerate(z):
            comp = gaussian_log_density(zi.unsqueeze(-4), self.means[i], dim=-3)  # (..., B, nmix, h, w)
            out.append(torch.logsumexp(comp + self.log_weights(i), dim=-3))
        return out

    def log_prob(self, z: Sequence[torch.Tensor]) -> torch.Tensor:
        """Log-density averaged over positions and then over subbands (reference ``Independent``): (..., B)."""
        maps = self.log_prob_maps(z)
        return torch.stack([m.mean(dim=(-2, -1)) for m in maps]).mean(0)

    def mean(self) -> list[torch.Tensor]:
        """Mean of the mixture at every position: (B, z_dim, h, w) per subband."""
        out = []
        for i, m in enumerate(self.means):
            w = self.log_weights(i).exp().unsqueeze(2)  # (B, nmix, 1, h, w)
            out.append((w * m).sum(1))
        return out

    def sample(self, num_samples: int = 1, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Draw ``num_samples`` samples: (S, B, z_dim, h, w) per subband (component, then Gaussian noise)."""
        out = []
        for i, m in enumerate(self.means):
            b, k, d, h, w = m.shape
            logw = self.log_weights(i)  # (B, K, h, w)
            u = torch.rand((num_samples, b, h, w), generator=generator, device=m.device, dtype=m.dtype)
            cdf = logw.exp().cumsum(1).unsqueeze(0)  # (1, B, K, h, w)
            comp = (u.unsqueeze(2) > cdf).sum(2).clamp_(max=k - 1)  # (S, B, h, w)
            idx = comp.unsqueeze(2).unsqueeze(2).expand(num_samples, b, 1, d, h, w)
            mu = torch.gather(m.unsqueeze(0).expand(num_samples, *m.shape), 2, idx).squeeze(2)
            eps = torch.randn((num_samples, b, d, h, w), generator=generator, device=m.device, dtype=m.dtype)
            out.append(mu + eps)
        return out


class _MarginalHead(nn.Module):
    def __init__(self, c_in: int, nmix: int, z_dim: int, layers: int) -> None:
        super().__init__()
        self.nmix, self.z_dim = nmix, z_dim
        width = nmix * z_dim
        mean_layers: list[nn.Module] = []
        c = c_in
        for _ in range(layers):
            mean_layers += [nn.Conv2d(c, width, 1), nn.ReLU()]
            c = width
        mean_layers.append(nn.Conv2d(c, width, 1))
        self.mean_net = nn.Sequential(*mean_layers)
        if nmix > 1:
            mix_layers: list[nn.Module] = []
            c = c_in
            for _ in range(layers):
                mix_layers += [nn.Conv2d(c, nmix, 1), nn.ReLU()]
                c = nmix
            mix_layers.append(nn.Conv2d(c, nmix, 1))
            self.mix_net = nn.Sequential(*mix_layers)
        else:
            self.mix_net = None

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, _, h, w = f.shape
        means = self.mean_net(f).view(b, self.nmix, self.z_dim, h, w)
        logits = self.mix_net(f) if self.mix_net is not None else None
        return means, logits


class MarginalEncoder(nn.Module):
    r""":math:`q_{\theta,\phi}(z\mid x)`: one mixture head per subband (parameters not shared across scales)."""

    def __init__(self, arch: PIMArchitecture) -> None:
        super().__init__()
        self.heads = nn.ModuleList(
            _MarginalHead(arch.feature_channels, arch.nmix, arch.z_dim, arch.num_distribution_layers)
            for _ in range(arch.num_subbands)
        )

    def forward(self, features: Sequence[torch.Tensor]) -> MixtureRepresentation:
        if len(features) != len(self.heads):
            raise ValueError(f"{len(features)} feature tensors for {len(self.heads)} subbands")
        means, logits = zip(*(head(f) for head, f in zip(self.heads, features)))
        return MixtureRepresentation(list(means), list(logits))


class _JointHead(nn.Module):
    def __init__(self, c_in: int, z_dim: int, layers: int) -> None:
        super().__init__()
        self.base = nn.ModuleList()
        self.mul = nn.ModuleList()
        self.add = nn.ModuleList()
        c = c_in
        for _ in range(layers):
            self.base.append(nn.Conv2d(c, z_dim, 1))
            self.mul.append(nn.Conv2d(c_in, z_dim, 1))
            self.add.append(nn.Conv2d(c_in, z_dim, 1))
            c = z_dim

    def forward(self, fx: torch.Tensor, fy: torch.Tensor) -> torch.Tensor:
        h = fx
        for base, mul, add in zip(self.base, self.mul, self.add):
            h = F.relu(base(h)) * mul(fy) + add(fy)
        return h


class JointEncoder(nn.Module):
    r""":math:`p_{\theta,\psi}(z\mid x, y)`: unit-variance Gaussian; returns its mean per subband (B, z_dim, h, w).

    Each layer is ``relu(W h) * (A f(y)) + (C f(y))``: the representation of :math:`x` modulated by
    :math:`y` (reference ``EncoderDist(joint=True)``).
    """

    def __init__(self, arch: PIMArchitecture) -> None:
        super().__init__()
        self.heads = nn.ModuleList(
            _JointHead(arch.feature_channels, arch.z_dim, arch.num_distribution_layers)
            for _ in range(arch.num_subbands)
        )

    def forward(self, fx: Sequence[torch.Tensor], fy: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [head(a, b) for head, a, b in zip(self.heads, fx, fy)]


# --------------------------------------------------------------------------------------------- PIM
class PIM(nn.Module):
    """The Perceptual Information Metric: representation, distance, and the terms of its training objective.

    ``model(x)`` returns the representation :math:`q(z\\mid x)`; ``model.distance(x, y)`` the PIM
    distance (one value per batch element, 0 for identical images, symmetric); ``model.ixyz_terms``
    the log-densities that :mod:`perceptual_compression.losses.ixyz` combines into the objective.
    """

    def __init__(self, arch: PIMArchitecture | None = None) -> None:
        super().__init__()
        self.arch = arch or PIMArchitecture()
        self.frontend = PIMFrontEnd(self.arch)
        self.marginal = MarginalEncoder(self.arch)
        self.joint = JointEncoder(self.arch)

    def forward(self, x: torch.Tensor) -> MixtureRepresentation:
        return self.marginal(self.frontend(x))

    @staticmethod
    def representation_distance(rx: MixtureRepresentation, ry: MixtureRepresentation, *,
                                kld_samples: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """Distance between two representations (reference ``PIM._get_distance``).

        One component: mean over subbands of the mean (over positions and z dimensions) squared
        difference of the means. Several: Monte-Carlo symmetrised KL with ``kld_samples`` samples per
        direction; the same random numbers serve both directions, so the estimate is exactly
        symmetric and exactly 0 for identical representations.
        """
        if rx.nmix == 1:
            per_band = [(a - b).pow(2).mean(dim=tuple(range(1, a.dim()))) for a, b in zip(rx.mean(), ry.mean())]
            return torch.stack(per_band).mean(0)
        if generator is None:
            generator = torch.Generator(device=rx.means[0].device)
            generator.manual_seed(int(torch.randint(0, 2**62, (1,))))
        state = generator.get_state()
        zx = rx.sample(kld_samples, generator)
        generator.set_state(state)  # common random numbers: the estimate is exactly symmetric
        zy = ry.sample(kld_samples, generator)
        kl_xy = (rx.log_prob(zx) - ry.log_prob(zx)).mean(0)
        kl_yx = (ry.log_prob(zy) - rx.log_prob(zy)).mean(0)
        return kl_xy + kl_yx

    @torch.no_grad()
    def distance(self, x: torch.Tensor, y: torch.Tensor, *, kld_samples: int = 1, seed: int | None = 0,
                 batch_size: int = 16) -> torch.Tensor:
        """PIM distance between image batches ``x`` and ``y`` (B, 3, H, W) in [0, 1]: Tensor[B].

        For ``nmix > 1`` the Monte-Carlo noise is seeded (``seed``) so that repeated evaluations agree.
        """
        if x.shape != y.shape:
            raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        was_training = self.training
        self.eval()
        out = []
        dev = next(self.parameters()).device
        gen = None
        if seed is not None:
            gen = torch.Generator(device=dev)
            gen.manual_seed(seed)
        try:
            for i in range(0, x.shape[0], batch_size):
                a = x[i:i + batch_size].to(dev)
                b = y[i:i + batch_size].to(dev)
                out.append(self.representation_distance(self(a), self(b), kld_samples=kld_samples, generator=gen))
        finally:
            self.train(was_training)
        return torch.cat(out).cpu()

    def ixyz_terms(self, x: torch.Tensor, y: torch.Tensor, *, crop: int | None = 8,
                   generator: torch.Generator | None = None) -> dict[str, list[torch.Tensor]]:
        r"""Per-subband log-density maps for the IXYZ objective (appendix eq. 4), on aligned centre crops.

        Draws :math:`z \sim p(z\mid x, y)` (reparameterised) and returns, per subband, maps of shape
        (B, h, w): ``log_q_x`` = log q(z|x), ``log_q_y`` = log q(z|y), ``log_p_joint`` = log p(z|x,y),
        and ``joint_means`` and ``z`` (B, z_dim, h, w) from which the minibatch marginal is computed.
        ``crop=None`` uses the full tensors.
        """
        if x.shape != y.shape:
            raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        b = x.shape[0]
        xy = torch.cat([x, y])  # both frames in one pass through the shared networks
        f = self.frontend(xy) if crop is None else self.frontend.forward_crops(xy, crop)
        fx, fy = [t[:b] for t in f], [t[b:] for t in f]
        q = self.marginal(f)  # q(z|x) for the first b entries, q(z|y) for the last b
        mu = self.joint(fx, fy)
        z = [m + torch.randn(m.shape, generator=generator, device=m.device, dtype=m.dtype) for m in mu]
        log_q = q.log_prob_maps([torch.cat([zi, zi]) for zi in z])
        return {
            "z": z,
            "joint_means": mu,
            "log_q_x": [lq[:b] for lq in log_q],
            "log_q_y": [lq[b:] for lq in log_q],
            "log_p_joint": [gaussian_log_density(zi, m, dim=1) for zi, m in zip(z, mu)],
        }

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def keras_init_(model: nn.Module) -> nn.Module:
    r"""Re-initialise every convolution of ``model`` as Keras does by default (in place; returns ``model``).

    The reference networks are ``tf.keras`` ``Conv2D`` and ``Dense`` layers with their default initialisers,
    Glorot-uniform kernels (bound :math:`\sqrt{6/(\text{fan}_{in} + \text{fan}_{out})}`, fans counted over the
    kernel window) and zero biases; no PIM training code is public, so this is the initialisation its released
    layers imply. PyTorch's default (bound :math:`1/\sqrt{\text{fan}_{in}}` for weights and biases) is
    narrower for the 5×5 convolutions (0.025 against 0.043 for 64 → 64 filters).
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


class PIMDistance:
    """A metric ``d(x, x_hat) -> Tensor[B]`` from a trained :class:`PIM` (``x``, ``x_hat`` in [0, 1]).

    Evaluating many distortions of the same reference batch (the calibration of appendix A.3) encodes
    the reference once: the representation of the last reference batch is kept and reused when the
    next call passes an identical tensor. For ``nmix > 1`` each call seeds its Monte-Carlo noise with
    ``seed``, so values are reproducible.
    """

    def __init__(self, model: PIM, *, kld_samples: int = 1, seed: int = 0, batch_size: int = 16) -> None:
        self.model = model.eval()
        self.kld_samples = kld_samples
        self.seed = seed
        self.batch_size = batch_size
        self._ref: torch.Tensor | None = None
        self._ref_reps: list[MixtureRepresentation] = []

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def _encode(self, x: torch.Tensor) -> list[MixtureRepresentation]:
        return [self.model(x[i:i + self.batch_size].to(self.device)) for i in range(0, x.shape[0], self.batch_size)]

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        if x.shape != x_hat.shape:
            raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")
        if self._ref is None or self._ref.shape != x.shape or not torch.equal(self._ref, x):
            self._ref = x.detach().clone()
            self._ref_reps = self._encode(x)
        gen = torch.Generator(device=self.device)
        gen.manual_seed(self.seed)
        out = []
        for k, rx in enumerate(self._ref_reps):
            ry = self.model(x_hat[k * self.batch_size:(k + 1) * self.batch_size].to(self.device))
            out.append(PIM.representation_distance(rx, ry, kld_samples=self.kld_samples, generator=gen))
        return torch.cat(out).cpu()
