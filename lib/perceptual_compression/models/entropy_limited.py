"""The entropy-limited autoencoder of Hepburn et al. (ICLR 2022), Sec. 5.2 and appendix E (Fig. 17).

Instead of a learned rate term, the entropy is bounded by quantizing every latent to one of ``L`` fixed
centers (:class:`~perceptual_compression.quantizers.soft_centers.SoftCenterQuantizer`; ``forward`` takes its
mode: chapter 2's trainer rounds in the forward pass and takes eq. 15's gradient, see
``EntropyLimitedConfig.train_quantization``) and only the distortion is minimised. Encoder and decoder have 5
convolutions and 4 GDN / inverse-GDN layers each (``N = 128`` filters, ``M = 64`` latent channels).
Four of the encoder's convolutions have stride 2, so the bound of eq. 16 is ``64 log2(L) / 4^4``:
0.25 bpp for ``{-1, 1}`` and 0.58 bpp for ``{-2, ..., 2}`` (which the paper calls 0.5 bpp). The exact
kernel sizes of Fig. 17 are not given in the text; we use 5x5 for the strided layers and 3x3 for the
fifth, unstrided one. The decoder's last bias starts at 0.5 (mid-grey; see ``__init__``), so that
``1 - MS-SSIM`` has a gradient at initialisation.

Appendix E.1 uses the same architecture *without* quantization (pure dimensionality reduction):
``quantize=False``.

The model follows CompressAI's codec protocol (``compress`` returns ``{"strings", "shape"}``,
``decompress`` returns ``{"x_hat"}``), so :class:`perceptual_compression.coding.ImageCodec` writes real
bitstreams; the symbols are coded with :class:`perceptual_compression.coding.CategoricalCodec` under a
per-channel probability table (uniform by default, i.e. exactly the bound; :meth:`fit_pmf` estimates it
from data).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from compressai.layers import GDN
from torch import nn

from ..quantizers.soft_centers import SoftCenterQuantizer, entropy_bound_bpp

N_DOWN = 4  # stride-2 layers in the encoder


def _conv(cin: int, cout: int, k: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def _deconv(cin: int, cout: int, k: int, stride: int) -> nn.Module:
    if stride == 1:
        return nn.Conv2d(cin, cout, k, padding=k // 2)
    return nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=k // 2, output_padding=stride - 1)


class EntropyLimitedAutoencoder(nn.Module):
    """5 conv + 4 GDN encoder, 5 conv + 4 IGDN decoder, quantization to fixed ``centers``."""

    def __init__(self, n: int = 128, m: int = 64, centers: Sequence[float] = (-1.0, 1.0), *,
                 soft_scale: float = 1.0, quantize: bool = True) -> None:
        super().__init__()
        if n < 1 or m < 1:
            raise ValueError("n and m must be >= 1")
        self.n, self.m = n, m
        self.encoder = nn.Sequential(
            _conv(3, n, 5, 2), GDN(n),
            _conv(n, n, 5, 2), GDN(n),
            _conv(n, n, 5, 2), GDN(n),
            _conv(n, n, 5, 2), GDN(n),
            _conv(n, m, 3, 1),
        )
        self.decoder = nn.Sequential(
            _deconv(m, n, 3, 1), GDN(n, inverse=True),
            _deconv(n, n, 5, 2), GDN(n, inverse=True),
            _deconv(n, n, 5, 2), GDN(n, inverse=True),
            _deconv(n, n, 5, 2), GDN(n, inverse=True),
            _deconv(n, 3, 5, 2),
        )
        # Start at mid-grey (the mean of images in [0, 1]) rather than at 0. From an output mean below 0 the
        # coarsest-scale SSIM of MS-SSIM (luminance term 2 mu_x mu_y + C1 < 0) is negative, MS-SSIM's ReLU
        # clamps it to 0, and 1 - MS-SSIM has no gradient: measured with N = 64, seed 0, on uniform noise, the
        # MS-SSIM model stayed at loss 1.0 for 300 steps at every learning rate tried.
        nn.init.constant_(self.decoder[-1].bias, 0.5)
        self.use_quantization = bool(quantize)
        self.quantizer = SoftCenterQuantizer(centers, soft_scale)
        L = self.quantizer.n_centers
        self.register_buffer("pmf", torch.full((m, L), 1.0 / L))

    @property
    def stride(self) -> int:
        return 2 ** N_DOWN

    @property
    def bpp_bound(self) -> float:
        """Eq. 16 per pixel (``inf`` without quantization)."""
        if not self.use_quantization:
            return float("inf")
        return entropy_bound_bpp(N_DOWN, self.m, self.quantizer.n_centers)

    def forward(self, x: torch.Tensor, mode: str | None = None) -> dict[str, torch.Tensor]:
        """``y = e(x)``, ``y_hat = Q(y)`` (soft in training, hard in evaluation, or ``mode``), ``x_hat = d(y_hat)``."""
        y = self.encoder(x)
        y_hat = self.quantizer(y, mode) if self.use_quantization else y
        return {"y": y, "y_hat": y_hat, "x_hat": self.decoder(y_hat)}

    # ------------------------------------------------------------------ coding
    def _check_codable(self) -> None:
        if not self.use_quantization:
            raise RuntimeError("this autoencoder has no quantizer (quantize=False): it cannot be entropy coded")

    @torch.no_grad()
    def fit_pmf(self, batches: Iterable[torch.Tensor], *, floor: float = 1e-3) -> torch.Tensor:
        """Estimate each channel's symbol probabilities from images (counts + ``floor``, normalised)."""
        self._check_codable()
        counts = torch.zeros_like(self.pmf, dtype=torch.float64)
        L = self.quantizer.n_centers
        for x in batches:
            s = self.quantizer.symbols(self.encoder(x.to(self.pmf.device)))  # (B, M, h, w)
            s = s.permute(1, 0, 2, 3).reshape(self.m, -1)
            counts += torch.nn.functional.one_hot(s, L).sum(1).double()
        p = counts / counts.sum(1, keepdim=True).clamp_min(1) + floor
        self.pmf.copy_((p / p.sum(1, keepdim=True)).float())
        return self.pmf

    def _codec(self):
        from ..coding import CategoricalCodec

        return CategoricalCodec(self.pmf.detach().cpu(), codec_id=f"ch2-entropy-limited-L{self.quantizer.n_centers}")

    @torch.no_grad()
    def compress(self, x: torch.Tensor) -> dict:
        """CompressAI protocol: ``{"strings": [[bytes per image]], "shape": (h, w)}``."""
        self._check_codable()
        y = self.encoder(x.to(self.pmf.device))
        sym = self.quantizer.symbols(y)  # (B, M, h, w)
        codec = self._codec()
        strings = [codec.compress(s.unsqueeze(0).cpu()) for s in sym]
        return {"strings": [strings], "shape": tuple(y.shape[-2:])}

    @torch.no_grad()
    def decompress(self, strings, shape) -> dict:
        """CompressAI protocol: ``{"x_hat": ...}`` from :meth:`compress`'s strings and shape."""
        self._check_codable()
        h, w = shape
        codec = self._codec()
        syms = []
        for s in strings[0]:
            sym = codec.decompress(s)  # (1, M, h, w)
            if tuple(sym.shape) != (1, self.m, h, w):
                raise ValueError(f"decoded symbols have shape {tuple(sym.shape)}, expected (1, {self.m}, {h}, {w})")
            syms.append(sym[0])
        sym = torch.stack(syms).to(self.pmf.device)
        y_hat = self.quantizer.dequantize(sym)
        return {"x_hat": self.decoder(y_hat).clamp(0, 1)}
