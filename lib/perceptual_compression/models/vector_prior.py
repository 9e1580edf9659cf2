"""Entropy models for flat representations ``z`` of shape ``(B, C)`` (Dubois et al. 2021, Sec. 4).

Both compressors of the paper bound the rate by ``H[Z] <= E[-log q_theta(Z)]`` with a learned entropy
model ``q_theta`` that is also used to entropy-code ``Z``. Two models, both on CompressAI:

- :class:`FactorizedPrior` — CompressAI's :class:`~compressai.entropy_models.EntropyBottleneck`, one
  learned univariate density per coordinate (the paper's banana experiments; their "H_factorized").
- :class:`MeanScaleHyperprior` — Ballé et al. (2018)'s hyperprior with Minnen et al.'s predicted means,
  written for vectors: an MLP maps ``z`` to side information ``s`` (``max(10, C // 5)`` coordinates) that
  is coded with an EntropyBottleneck; an MLP maps ``s_hat`` to per-coordinate Gaussian means and scales
  for :class:`~compressai.entropy_models.GaussianConditional` (the paper's MNIST/STL10 models).
  The means are used both when estimating and when coding (the authors' ``decompress`` passed the
  scales as means — a bug we do not reproduce).

``forward(z)`` returns the (noisy in training, quantized in eval) ``z_hat`` and the estimated bits per
sample; ``estimate_bits(z)`` is the eval-mode estimate that the entropy-coded size is compared with
(:mod:`perceptual_compression.coding` codes a whole batch as one stream).
"""

from __future__ import annotations

import math

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from torch import nn

_LOG2 = math.log(2.0)


def _bits(likelihoods: torch.Tensor) -> torch.Tensor:
    """``-log2`` likelihoods summed over every axis but the first: bits per sample, shape ``(B,)``."""
    return -torch.log(likelihoods).flatten(1).sum(1) / _LOG2


def _as_map(z: torch.Tensor) -> torch.Tensor:
    if z.dim() != 2:
        raise ValueError(f"expected a flat representation of shape (B, C), got {tuple(z.shape)}")
    return z.reshape(z.shape[0], z.shape[1], 1, 1)


class VectorPrior(nn.Module):
    """Common interface: ``forward(z) -> (z_hat, bits)``, ``aux_loss()``, ``update()``, ``estimate_bits(z)``,
    ``compress(z) -> bytes`` and ``decompress(bytes) -> z_hat`` (real bitstreams, a whole batch at once)."""

    dim: int

    def aux_loss(self) -> torch.Tensor:
        """CompressAI's auxiliary loss that fits the quantiles of every EntropyBottleneck. The training loops
        of this package skip it: :meth:`update` finds the quantiles by bisection instead."""
        return sum(m.loss() for m in self.modules() if isinstance(m, EntropyBottleneck))

    def main_parameters(self):
        """Every parameter except the EntropyBottleneck quantiles (which only the aux loss trains)."""
        return [p for n, p in self.named_parameters() if not n.endswith("quantiles")]

    def aux_parameters(self):
        return [p for n, p in self.named_parameters() if n.endswith("quantiles")]

    @torch.no_grad()
    def estimate_bits(self, z: torch.Tensor) -> torch.Tensor:
        """Eval-mode (quantized) estimate of the bits of each sample, shape ``(B,)``."""
        was = self.training
        self.eval()
        try:
            return self.forward(z)[1]
        finally:
            self.train(was)


class FactorizedPrior(VectorPrior):
    """A factorized (per-coordinate) learned prior: CompressAI's EntropyBottleneck over ``C`` channels."""

    def __init__(self, dim: int, *, init_scale: float = 10.0, filters: tuple[int, ...] = (3, 3, 3, 3)) -> None:
        super().__init__()
        self.dim = int(dim)
        self.entropy_bottleneck = EntropyBottleneck(self.dim, init_scale=init_scale, filters=tuple(filters))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z_hat, lik = self.entropy_bottleneck(_as_map(z))
        return z_hat.reshape(z.shape), _bits(lik)

    def forward_elementwise(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Like :meth:`forward` but the bits of every coordinate, shape ``(B, C)``."""
        z_hat, lik = self.entropy_bottleneck(_as_map(z))
        return z_hat.reshape(z.shape), (-torch.log(lik) / _LOG2).reshape(z.shape)

    def update(self, force: bool = True) -> None:
        """Recompute the CDF tables used by the entropy coder (call after training).

        The tail quantiles and medians are found by bisection on the learned CDF (CompressAI's
        ``update_quantiles``), which is exact where the auxiliary loss is only approximately converged.
        """
        self.entropy_bottleneck.update(force=force, update_quantiles=True)

    def codec_id(self) -> str:
        return f"ch5-factorized-prior-{self.dim}"

    def _codec(self):
        from ..coding import EntropyBottleneckCodec

        return EntropyBottleneckCodec(self.entropy_bottleneck, codec_id=self.codec_id())

    @torch.no_grad()
    def compress(self, z: torch.Tensor) -> bytes:
        """The whole batch ``z`` (``(B, C)``) as one bitstream: header + one rANS stream."""
        return self._codec().compress(_as_map(z))

    @torch.no_grad()
    def decompress(self, data: bytes) -> torch.Tensor:
        """The quantized ``z_hat`` (``(B, C)``), bit-exactly the eval-mode :meth:`forward` output."""
        z_hat = self._codec().decompress(data)
        return z_hat.reshape(z_hat.shape[0], self.dim)


def _mlp(i: int, o: int, h: int, layers: int = 2) -> nn.Sequential:
    mods: list[nn.Module] = []
    d = i
    for _ in range(layers):
        mods += [nn.Linear(d, h), nn.ReLU()]
        d = h
    mods.append(nn.Linear(d, o))
    return nn.Sequential(*mods)


class MeanScaleHyperprior(VectorPrior):
    """Mean-scale hyperprior for vectors: ``z -> s`` (coded by an EntropyBottleneck), ``s_hat -> (mu, sigma)``.

    Bits per sample = side bits ``-log2 q(s_hat)`` + ``-log2 q(z_hat | s_hat)``.
    """

    def __init__(self, dim: int, *, side_dim: int | None = None, hidden: int | None = None,
                 init_scale: float = 10.0) -> None:
        super().__init__()
        self.dim = int(dim)
        self.side_dim = int(side_dim) if side_dim is not None else max(10, self.dim // 5)
        h = hidden if hidden is not None else max(self.dim, 256)
        self.side_encoder = _mlp(self.dim, self.side_dim, h)
        self.param_decoder = _mlp(self.side_dim, 2 * self.dim, h)
        self.entropy_bottleneck = EntropyBottleneck(self.side_dim, init_scale=init_scale)
        self.gaussian_conditional = GaussianConditional(None)

    def gaussian_params(self, s_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scales (positive, via softplus) and means of ``q(z | s_hat)``, each ``(B, C)``."""
        raw_scale, means = self.param_decoder(s_hat).chunk(2, dim=-1)
        return nn.functional.softplus(raw_scale), means

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.side_encoder(z)
        s_hat, s_lik = self.entropy_bottleneck(_as_map(s))
        scales, means = self.gaussian_params(s_hat.reshape(s.shape))
        z_hat, z_lik = self.gaussian_conditional(_as_map(z), _as_map(scales), means=_as_map(means))
        return z_hat.reshape(z.shape), _bits(s_lik) + _bits(z_lik)

    def side(self, z: torch.Tensor) -> torch.Tensor:
        """The side information ``s`` (before quantization), shape ``(B, side_dim)``."""
        return self.side_encoder(z)

    def update(self, force: bool = True) -> None:
        """Recompute the CDF tables of the side bottleneck (quantiles by bisection) and the Gaussian scale table."""
        self.entropy_bottleneck.update(force=force, update_quantiles=True)
        self.gaussian_conditional.update_scale_table(default_scale_table(), force=force)

    def codec_id(self) -> str:
        return f"ch5-mean-scale-hyperprior-{self.dim}-{self.side_dim}"

    def _codecs(self):
        from ..coding import EntropyBottleneckCodec, GaussianConditionalCodec

        return (EntropyBottleneckCodec(self.entropy_bottleneck, codec_id=self.codec_id() + "-side"),
                GaussianConditionalCodec(self.gaussian_conditional, codec_id=self.codec_id() + "-z"))

    @torch.no_grad()
    def compress(self, z: torch.Tensor) -> bytes:
        """The batch as one bitstream holding two coded streams: the side information ``s_hat`` (factorized
        prior), then ``z`` given the means and scales that the decoder recomputes from ``s_hat``."""
        from ..coding import pack

        side_codec, z_codec = self._codecs()
        side_data = side_codec.compress(_as_map(self.side_encoder(z)))
        s_hat = side_codec.decompress(side_data).reshape(len(z), self.side_dim)
        scales, means = self.gaussian_params(s_hat)
        z_data = z_codec.compress(_as_map(z), _as_map(scales), _as_map(means))
        return pack(self.codec_id(), [len(z), self.dim], [side_data, z_data])

    @torch.no_grad()
    def decompress(self, data: bytes) -> torch.Tensor:
        from ..coding import CodecError, unpack

        box = unpack(data, self.codec_id())
        if len(box.streams) != 2 or len(box.fields) != 2 or box.fields[1] != self.dim:
            raise CodecError("bitstream is corrupt (expected side and latent streams)")
        side_codec, z_codec = self._codecs()
        s_hat = side_codec.decompress(box.streams[0]).reshape(box.fields[0], self.side_dim)
        scales, means = self.gaussian_params(s_hat)
        z_hat = z_codec.decompress(box.streams[1], _as_map(scales), _as_map(means))
        return z_hat.reshape(box.fields[0], self.dim)


def default_scale_table(low: float = 0.11, high: float = 256.0, levels: int = 64) -> torch.Tensor:
    """CompressAI's scale table for Gaussian conditionals: ``exp(linspace(log low, log high, levels))``."""
    return torch.exp(torch.linspace(math.log(low), math.log(high), levels))


def make_prior(kind: str, dim: int) -> VectorPrior:
    """``"factorized"`` or ``"hyperprior"``."""
    if kind == "factorized":
        return FactorizedPrior(dim)
    if kind == "hyperprior":
        return MeanScaleHyperprior(dim)
    raise ValueError(f"prior={kind!r} is not valid; valid values are: 'factorized', 'hyperprior'")
