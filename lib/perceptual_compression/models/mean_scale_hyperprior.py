r"""Mean-scale hyperprior autoencoder (Minnen, Ballé & Toderici 2018), the bottleneck MS-ILLM is built on.

An analysis transform maps the image to latents :math:`y = g_a(x)`; a hyper-analysis summarises them as
:math:`z = h_a(y)`, which is coded with a learned factorized prior (CompressAI's ``EntropyBottleneck``).
Two hyper-synthesis branches predict, from the decoded :math:`\hat z`, the mean and scale of a Gaussian for
every latent, and :math:`y` is coded under that Gaussian convolved with a unit box (``GaussianConditional``):

.. math::

    p(\hat y \mid \hat z) = \prod_i \Big[\mathcal N(\mu_i, \sigma_i^2) * \mathcal U(-\tfrac12, \tfrac12)\Big]
    (\hat y_i), \qquad \mu = h_\mu(\hat z),\ \sigma = h_\sigma(\hat z),

    R = \mathbb E\big[-\log_2 p(\hat y \mid \hat z) - \log_2 p(\hat z)\big].

Training uses additive uniform noise for the rate terms and, as in HiFiC/MS-ILLM, feeds the decoder
straight-through quantized latents :math:`\lfloor y - \mu \rceil + \mu` (forward value rounded, gradient of
the identity). In eval mode everything is rounded, and :meth:`compress` / :meth:`decompress` write and read
real rANS bitstreams, one per image, holding :math:`\hat z` and then :math:`\hat y` (one flush for both).

The submodules are named as in NeuralCompression's ``HiFiCAutoencoder`` (``encoder``, ``decoder``,
``hyper_analysis``, ``hyper_synthesis_mean``, ``hyper_synthesis_scale``, ``hyper_bottleneck``,
``latent_bottleneck``) with the same layer layout, so that, given HiFiC's encoder and generator, the official
MS-ILLM / No-GAN checkpoints load with ``strict=True``. The image transforms are arguments: chapter 4 passes
HiFiC's; :func:`minnen2018_mean_scale_hyperprior` builds Minnen et al.'s GDN transforms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import GDN
from compressai.models import CompressionModel
from compressai.models.base import get_scale_table
from compressai.ops import quantize_ste
from torch import Tensor, nn

from ..coding.entropy_bottleneck import channel_indexes
from ..coding.rans import StreamDecoder, encode_stream
from ..coding.tables import eb_medians, gaussian_indexes, require_updated, table_from_entropy_model

__all__ = ["MeanScaleHyperpriorAutoencoder", "minnen2018_mean_scale_hyperprior"]


def _conv(cin: int, cout: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=kernel_size // 2)


def _deconv(cin: int, cout: int, kernel_size: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, kernel_size, stride=stride, padding=kernel_size // 2,
                              output_padding=stride - 1)


def _hyper_synthesis(hyper_features: int, latent_features: int) -> nn.Sequential:
    return nn.Sequential(
        _deconv(hyper_features, hyper_features),
        nn.ReLU(inplace=True),
        _deconv(hyper_features, hyper_features),
        nn.ReLU(inplace=True),
        _conv(hyper_features, latent_features, kernel_size=3, stride=1),
    )


def _bits_per_image(likelihoods: Tensor) -> Tensor:
    return -torch.log2(likelihoods).flatten(1).sum(dim=1)


class MeanScaleHyperpriorAutoencoder(CompressionModel):
    """Mean-scale hyperprior around any image ``encoder``/``decoder`` pair.

    Args:
        encoder: image -> latents with ``latent_features`` channels, downsampling by ``latent_stride``.
        decoder: latents -> image.
        latent_features: channels of the latents ``y`` (coded by ``latent_bottleneck``).
        hyper_features: channels of the hyper-latents ``z`` (coded by ``hyper_bottleneck``).
        latent_stride: downsampling factor of ``encoder`` (16 for HiFiC and Minnen et al.).
        scale_table: scales of the Gaussian CDF tables built by :meth:`update`; default CompressAI's
            ``exp(linspace(log 0.11, log 256, 64))``.

    Attributes:
        stride: total downsampling factor (``latent_stride * 4``); images are padded to a multiple of it.

    ``forward(x)`` returns a dict with ``x_hat``, ``likelihoods`` (``{"y", "z"}``, CompressAI's convention),
    ``y`` and ``y_hat`` (what the decoder saw), the predicted ``means`` and ``scales``, ``bits`` (estimated
    bits per image, differentiable; noisy in training) and ``bits_quantized`` (no gradient: the bits of
    the rounded ``z`` and of the rounded ``y`` under the means and scales decoded from it, i.e. what the
    coder spends up to its overhead; the rate a hard rate target compares. The reference's hard rate, in
    training, rounds the *noisy* ``z`` and takes the means and scales from the noisy one, a slightly different
    number near the target). ``compress``/``decompress`` follow
    CompressAI's protocol, so
    :class:`~perceptual_compression.coding.ImageCodec` wraps the model. Call :meth:`update` after training.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        latent_features: int,
        hyper_features: int,
        *,
        latent_stride: int = 16,
        scale_table: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.hyper_analysis = nn.Sequential(
            _conv(latent_features, hyper_features, kernel_size=3, stride=1),
            nn.ReLU(inplace=True),
            _conv(hyper_features, hyper_features),
            nn.ReLU(inplace=True),
            _conv(hyper_features, hyper_features),
        )
        self.hyper_synthesis_mean = _hyper_synthesis(hyper_features, latent_features)
        self.hyper_synthesis_scale = _hyper_synthesis(hyper_features, latent_features)
        self.hyper_bottleneck = EntropyBottleneck(hyper_features)
        self.latent_bottleneck = GaussianConditional(None)
        self.latent_features = int(latent_features)
        self.hyper_features = int(hyper_features)
        self.latent_stride = int(latent_stride)
        table = get_scale_table() if scale_table is None else torch.as_tensor(list(scale_table), dtype=torch.float32)
        self.default_scale_table = [float(s) for s in table]
        self._frozen_encoder = False
        self._frozen_bottleneck = False

    # ------------------------------------------------------------------ structure
    @property
    def stride(self) -> int:
        """Total downsampling factor: the encoder's, times 4 for the two stride-2 hyper-analysis convolutions."""
        return self.latent_stride * 4

    @property
    def bottleneck_modules(self) -> list[nn.Module]:
        """The hyperprior: everything between the encoder and the decoder."""
        return [self.hyper_analysis, self.hyper_synthesis_mean, self.hyper_synthesis_scale,
                self.hyper_bottleneck, self.latent_bottleneck]

    @property
    def frozen_encoder(self) -> bool:
        return self._frozen_encoder

    @property
    def frozen_bottleneck(self) -> bool:
        return self._frozen_bottleneck

    def freeze_encoder(self) -> MeanScaleHyperpriorAutoencoder:
        """Freeze the encoder (eval mode, no gradients); stays frozen through ``.train()``."""
        self._frozen_encoder = True
        self.encoder.eval()
        self.encoder.requires_grad_(False)
        return self

    def freeze_bottleneck(self) -> MeanScaleHyperpriorAutoencoder:
        """Freeze the hyperprior and both entropy models (as MS-ILLM's GAN fine-tuning does); survives ``.train()``."""
        self._frozen_bottleneck = True
        for module in self.bottleneck_modules:
            module.eval()
            module.requires_grad_(False)
        return self

    def train(self, mode: bool = True) -> MeanScaleHyperpriorAutoencoder:
        super().train(mode)
        if self._frozen_encoder:
            self.encoder.eval()
        if self._frozen_bottleneck:
            for module in self.bottleneck_modules:
                module.eval()
        return self

    def main_parameters(self) -> list[nn.Parameter]:
        """Trainable parameters of the rate-distortion objective (all but the entropy bottleneck's quantiles)."""
        return [p for n, p in self.named_parameters() if p.requires_grad and not n.endswith(".quantiles")]

    def aux_parameters(self) -> list[nn.Parameter]:
        """The ``EntropyBottleneck.quantiles``, trained only by :meth:`aux_loss` (CompressAI's convention)."""
        return [p for n, p in self.named_parameters() if p.requires_grad and n.endswith(".quantiles")]

    def update(self, scale_table=None, force: bool = False, update_quantiles: bool = False) -> bool:
        """Build the entropy coder's CDF tables (``EntropyBottleneck.update`` and the Gaussian scale table).

        Call after training and before :meth:`compress`. Without ``force=True`` tables that already exist are
        kept, so after further training call ``update(force=True)``. Returns whether anything was updated.
        """
        if scale_table is None:
            scale_table = torch.tensor(self.default_scale_table)
        return super().update(scale_table=scale_table, force=force, update_quantiles=update_quantiles)

    # ------------------------------------------------------------------ training / evaluation forward
    def forward(self, x: Tensor) -> dict:
        y = self.encoder(x)
        z = self.hyper_analysis(y)
        z_tilde, z_likelihoods = self.hyper_bottleneck(z)  # noisy in training, rounded in eval
        means = self.hyper_synthesis_mean(z_tilde)
        scales = self.hyper_synthesis_scale(z_tilde)
        _, y_likelihoods = self.latent_bottleneck(y, scales, means=means)
        if self.training:
            y_hat = quantize_ste(y - means) + means
        else:
            y_hat = torch.round(y - means) + means
        x_hat = self.decoder(y_hat)
        bits = _bits_per_image(y_likelihoods) + _bits_per_image(z_likelihoods)
        if self.hyper_bottleneck.training or self.latent_bottleneck.training:
            with torch.no_grad():  # what the coder would spend: rounded z, its means/scales, rounded y
                z_hat, zq = self.hyper_bottleneck(z, training=False)
                means_q = self.hyper_synthesis_mean(z_hat)
                scales_q = self.hyper_synthesis_scale(z_hat)
                _, yq = self.latent_bottleneck(y, scales_q, means=means_q, training=False)
                bits_quantized = _bits_per_image(yq) + _bits_per_image(zq)
        else:
            bits_quantized = bits.detach()
        return {
            "x_hat": x_hat,
            "likelihoods": {"y": y_likelihoods, "z": z_likelihoods},
            "y": y,
            "y_hat": y_hat,
            "means": means,
            "scales": scales,
            "bits": bits,
            "bits_quantized": bits_quantized,
        }

    # ------------------------------------------------------------------ real bitstreams (CompressAI protocol)
    def _hyper_decode(self, z_symbols: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        medians = eb_medians(self.hyper_bottleneck).reshape(1, -1, 1, 1)
        z_hat = z_symbols.to(medians) + medians
        return z_hat, self.hyper_synthesis_mean(z_hat), self.hyper_synthesis_scale(z_hat)

    @torch.no_grad()
    def compress(self, x: Tensor) -> dict:
        """Real bitstreams for a batch ``x`` whose height and width are multiples of :attr:`stride`.

        Returns ``{"strings": [[one bytes per image]], "shape": z.shape[-2:]}``. Each image's single rANS stream
        holds ``ẑ`` (channel-wise factorized tables) followed by ``ŷ`` (Gaussian tables chosen by the decoded
        scales). Use :class:`~perceptual_compression.coding.ImageCodec` for padding, headers and error checks.
        """
        require_updated(self, "model")
        if x.shape[-2] % self.stride or x.shape[-1] % self.stride:
            raise ValueError(f"height and width must be multiples of {self.stride} (ImageCodec pads for you)")
        y = self.encoder(x)
        z = self.hyper_analysis(y)
        if not (torch.isfinite(y).all() and torch.isfinite(z).all()):
            raise ValueError("the latents are not finite (non-finite input, or diverged weights)")
        medians = eb_medians(self.hyper_bottleneck).reshape(1, -1, 1, 1)
        z_symbols = torch.round(z - medians).to(torch.int64)
        _, means, scales = self._hyper_decode(z_symbols)  # exactly as the decoder will compute them
        y_symbols = torch.round(y - means).to(torch.int64).cpu().numpy()
        indexes = gaussian_indexes(self.latent_bottleneck, scales).cpu().numpy()
        z_symbols = z_symbols.cpu().numpy()
        z_table = table_from_entropy_model(self.hyper_bottleneck)
        y_table = table_from_entropy_model(self.latent_bottleneck)
        z_indexes = channel_indexes((1, *z.shape[1:]))
        strings = [
            encode_stream([(z_symbols[b], z_indexes, z_table), (y_symbols[b], indexes[b], y_table)])
            for b in range(x.shape[0])
        ]
        return {"strings": [strings], "shape": z.shape[-2:]}

    @torch.no_grad()
    def decompress(self, strings: Sequence[Sequence[bytes]], shape: Sequence[int]) -> dict:
        """Reconstruction ``{"x_hat": ...}`` (clamped to ``[0, 1]``, padded size) from :meth:`compress`'s output."""
        require_updated(self, "model")
        if len(strings) != 1:
            raise ValueError(f"expected one group of strings (one stream per image), got {len(strings)}")
        streams = list(strings[0])
        h, w = (int(s) for s in shape)
        z_shape = (1, self.hyper_features, h, w)
        y_shape = (1, self.latent_features, 4 * h, 4 * w)
        total = int(np.prod(z_shape)) + int(np.prod(y_shape))
        decoders = [StreamDecoder(s, total) for s in streams]
        z_table = table_from_entropy_model(self.hyper_bottleneck)
        z_indexes = channel_indexes(z_shape)
        z_symbols = np.stack([d.decode(z_indexes, z_table).reshape(z_shape[1:]) for d in decoders])
        device = eb_medians(self.hyper_bottleneck).device
        _, means, scales = self._hyper_decode(torch.from_numpy(z_symbols).to(device))
        y_table = table_from_entropy_model(self.latent_bottleneck)
        indexes = gaussian_indexes(self.latent_bottleneck, scales).cpu().numpy()
        y_symbols = np.stack([d.decode(indexes[b], y_table) for b, d in enumerate(decoders)])
        y_hat = torch.from_numpy(y_symbols).to(means) + means
        return {"x_hat": self.decoder(y_hat).clamp_(0.0, 1.0), "y_hat": y_hat}


def minnen2018_mean_scale_hyperprior(n: int = 128, m: int = 192) -> MeanScaleHyperpriorAutoencoder:
    """Minnen et al. (2018)'s mean-scale hyperprior image model: GDN transforms with ``n`` filters and
    ``m`` latent channels (CompressAI's ``MeanScaleHyperprior(n, m)`` uses the same ``g_a``/``g_s``), and the
    HiFiC-layout hyperprior with ``n`` hyper-latent channels.

    The analysis is four 5x5 stride-2 convolutions with GDN between them; the synthesis mirrors it with
    transposed convolutions and inverse GDN. Total stride 64.
    """
    encoder = nn.Sequential(
        _conv(3, n), GDN(n),
        _conv(n, n), GDN(n),
        _conv(n, n), GDN(n),
        _conv(n, m),
    )
    decoder = nn.Sequential(
        _deconv(m, n), GDN(n, inverse=True),
        _deconv(n, n), GDN(n, inverse=True),
        _deconv(n, n), GDN(n, inverse=True),
        _deconv(n, 3),
    )
    return MeanScaleHyperpriorAutoencoder(encoder, decoder, latent_features=m, hyper_features=n, latent_stride=16)
