r"""The VQ-VAE labeler :math:`u(x)` of MS-ILLM (Muckley et al. 2023, Sec. 4.3 and supplement A.2).

The ILLM discriminator does not only tell real from fake: for a real image it predicts, at every position of a
coarse grid, which of :math:`C` clusters the image's local content falls in (eq. 8),

.. math::
    u^{(c,i,j)}(x) = 1 \quad\text{if}\quad c = \arg\min_q \lVert e^{(i,j)} - m_q \rVert_2^2,

where :math:`e^{(i,j)}` is the VQ-VAE encoder's vector at position :math:`(i, j)` and :math:`m_q` the codebook.
The labeler is a VQ-GAN-style autoencoder (Esser et al. 2021) with two changes made by the paper:
ChannelNorm instead of GroupNorm, and XCiT's cross-covariance attention (El-Nouby et al. 2021), whose cost is
linear in the number of positions. As in the released labeler (``vqvae_xcit_p8_ch64_cb1024_h8``), the encoder's
256-channel output is projected to low-dimensional (8-channel) vectors that are L2-normalised before the
nearest-code search (so the search is a cosine similarity, which keeps the codebook in use), and projected back
for the decoder. As in VQ-GAN, the network sees images in :math:`[-1, 1]` (inputs in :math:`[0, 1]` are mapped
on the way in and back on the way out), and the VQ terms are means over the code's elements.

:class:`LabelerConfig` holds the sizes: ``paper()`` is the released labeler (64 base channels, multipliers
1/2/2/4, i.e. 8× downsampling — a 32×32 label map for 256² inputs —, two residual blocks per level,
attention at the lowest resolution, codebook 1024, 8-dimensional codes, one attention head: the released code
builds its XCA with ``num_heads=1``, and each strided convolution of its encoder sees the feature map padded by one
row and one column at the bottom and right only, ``F.pad(x, (0, 1, 0, 1))``, as in taming-transformers);
``small()`` the CPU-sized one (4 heads and symmetric padding, with which the committed runs were made).
``spatial`` (16 or 32 labels per side of a 256² image) and ``codebook_size`` (256 or 1024) are the two axes of
the paper's Table 2.

Training (eq. 10) is in :mod:`perceptual_compression.training.labeler`. Parameter names are our own: the
released labeler checkpoint (registry id ``neuralcompression-msillm-vqvae-xcit-p8-ch64-cb1024-h8``) does not
load into this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..layers.channel_norm import ChannelNorm2d

#: Table 2's axes: label-map side for a 256² image, and codebook sizes.
SPATIAL_SIZES = (16, 32)
CODEBOOK_SIZES = (256, 1024)
#: Padding of the encoder's strided convolutions (:attr:`LabelerConfig.downsample_padding`).
DOWNSAMPLE_PADDINGS = ("reference", "symmetric")


@dataclass(frozen=True)
class LabelerConfig:
    """Sizes of the VQ-VAE labeler. ``downsampling = 2 ** (len(channel_mult) - 1)``."""

    channels: int = 64
    channel_mult: tuple[int, ...] = (1, 2, 2, 4)
    res_blocks: int = 2
    embed_dim: int = 256
    code_dim: int = 8
    codebook_size: int = 1024
    heads: int = 1
    beta: float = 0.25  # commitment weight (van den Oord et al. 2017)
    #: padding of the encoder's stride-2 convolutions: "reference" pads (0, 1, 0, 1) (bottom and right, as the
    #: released encoder), "symmetric" pads 1 on every side (the small scale's committed runs)
    downsample_padding: str = "reference"

    def __post_init__(self) -> None:
        if len(self.channel_mult) < 1 or self.channels < 1 or self.code_dim < 1 or self.codebook_size < 2:
            raise ValueError("channel_mult must be non-empty; channels, code_dim >= 1; codebook_size >= 2")
        if self.embed_dim % self.heads or any((self.channels * m) % self.heads for m in self.channel_mult):
            raise ValueError(f"every width must be divisible by heads={self.heads}")
        if self.downsample_padding not in DOWNSAMPLE_PADDINGS:
            raise ValueError(f"downsample_padding must be one of {DOWNSAMPLE_PADDINGS}, "
                             f"got {self.downsample_padding!r}")

    @property
    def downsampling(self) -> int:
        return 2 ** (len(self.channel_mult) - 1)

    def label_shape(self, height: int, width: int) -> tuple[int, int]:
        """Size of the label map of an image (height and width must be multiples of :attr:`downsampling`)."""
        d = self.downsampling
        if height % d or width % d:
            raise ValueError(f"image size {height}x{width} is not a multiple of the labeler's downsampling {d}")
        return height // d, width // d

    @classmethod
    def paper(cls, *, spatial: int = 32, codebook_size: int = 1024) -> LabelerConfig:
        """The released labeler (``spatial=32``: 8× downsampling); ``spatial=16`` adds one level (16×)."""
        if spatial not in SPATIAL_SIZES:
            raise ValueError(f"spatial must be one of {SPATIAL_SIZES} (labels per side of a 256² image)")
        mult = (1, 2, 2, 4) if spatial == 32 else (1, 2, 2, 4, 4)
        return cls(channel_mult=mult, codebook_size=codebook_size)

    @classmethod
    def small(cls, *, spatial: int = 32, codebook_size: int = 1024) -> LabelerConfig:
        """CPU size: 8 base channels, one residual block per level, 32-d embedding, 4 heads, symmetric padding;
        same downsampling."""
        return replace(cls.paper(spatial=spatial, codebook_size=codebook_size), channels=8, res_blocks=1,
                       embed_dim=32, heads=4, downsample_padding="symmetric")

    @property
    def spatial(self) -> int:
        """Label-map side for a 256² image (Table 2's "spatial size")."""
        return 256 // self.downsampling

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channel_mult"] = list(self.channel_mult)
        return d


def swish(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x)


class XCiTAttention(nn.Module):
    r"""Cross-covariance attention (XCA, El-Nouby et al. 2021) over the positions of a feature map.

    Queries and keys are L2-normalised along the *token* axis and attention is a :math:`d\times d` softmax over
    channels within each head, :math:`\mathrm{softmax}(\tau\, \hat K^\top \hat Q)`, with a learned temperature
    :math:`\tau` per head; its cost is linear in the number of positions. Used as a residual block after a
    ChannelNorm: ``x + XCA(norm(x))``.
    """

    def __init__(self, channels: int, heads: int = 1, eps: float = 1e-3) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        self.heads = heads
        self.norm = ChannelNorm2d(channels, eps=eps)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)  # (B, N, C)
        q, k, v = self.qkv(tokens).reshape(b, h * w, 3, self.heads, c // self.heads).permute(2, 0, 3, 4, 1)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)  # (B, heads, d, N), unit norm over tokens
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.temperature, dim=-1)  # (B, heads, d, d)
        out = (attn @ v).reshape(b, c, h * w).transpose(1, 2)
        return x + self.proj(out).transpose(1, 2).reshape(b, c, h, w)


class ResBlock(nn.Module):
    """VQ-GAN residual block with ChannelNorm: (norm, swish, conv 3×3) twice, 1×1 shortcut when widths differ."""

    def __init__(self, cin: int, cout: int, eps: float = 1e-3) -> None:
        super().__init__()
        self.body = nn.Sequential(ChannelNorm2d(cin, eps=eps), _Swish(), nn.Conv2d(cin, cout, 3, padding=1),
                                  ChannelNorm2d(cout, eps=eps), _Swish(), nn.Conv2d(cout, cout, 3, padding=1))
        self.shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.body(x)


class _Swish(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return swish(x)


class Downsample(nn.Conv2d):
    """A 3×3 convolution of stride 2 that halves even sides, padded by one row and column at the bottom and right
    (``mode="reference"``, the released encoder's) or by one on every side (``"symmetric"``). A ``Conv2d``, so its
    parameters are named as a plain convolution's in either mode."""

    def __init__(self, channels: int, mode: str = "reference") -> None:
        if mode not in DOWNSAMPLE_PADDINGS:
            raise ValueError(f"mode must be one of {DOWNSAMPLE_PADDINGS}, got {mode!r}")
        super().__init__(channels, channels, 3, stride=2, padding=0 if mode == "reference" else 1)
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, (0, 1, 0, 1)) if self.mode == "reference" else x)


class LabelerEncoder(nn.Module):
    """Image -> ``embed_dim`` features at 1/:attr:`LabelerConfig.downsampling` resolution."""

    def __init__(self, cfg: LabelerConfig) -> None:
        super().__init__()
        widths = [cfg.channels * m for m in cfg.channel_mult]
        layers: list[nn.Module] = [nn.Conv2d(3, cfg.channels, 3, padding=1)]
        cin = cfg.channels
        for level, cout in enumerate(widths):
            last = level == len(widths) - 1
            for _ in range(cfg.res_blocks):
                layers.append(ResBlock(cin, cout))
                cin = cout
                if last:
                    layers.append(XCiTAttention(cin, cfg.heads))
            if not last:
                layers.append(Downsample(cin, cfg.downsample_padding))
        layers += [ResBlock(cin, cin), XCiTAttention(cin, cfg.heads), ResBlock(cin, cin),
                   ChannelNorm2d(cin), _Swish(), nn.Conv2d(cin, cfg.embed_dim, 3, padding=1)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class LabelerDecoder(nn.Module):
    """``embed_dim`` features -> image (mirror of :class:`LabelerEncoder`, nearest upsampling + conv)."""

    def __init__(self, cfg: LabelerConfig) -> None:
        super().__init__()
        widths = [cfg.channels * m for m in cfg.channel_mult][::-1]
        cin = widths[0]
        layers: list[nn.Module] = [nn.Conv2d(cfg.embed_dim, cin, 3, padding=1), ResBlock(cin, cin),
                                   XCiTAttention(cin, cfg.heads), ResBlock(cin, cin)]
        for level, cout in enumerate(widths):
            for _ in range(cfg.res_blocks + 1):
                layers.append(ResBlock(cin, cout))
                cin = cout
                if level == 0:
                    layers.append(XCiTAttention(cin, cfg.heads))
            if level != len(widths) - 1:
                layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cin, 3, padding=1)]
        layers += [ChannelNorm2d(cin), _Swish(), nn.Conv2d(cin, 3, 3, padding=1)]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(z)


class NormalizedVectorQuantizer(nn.Module):
    r"""Vector quantisation with low-dimensional, L2-normalised codes.

    ``embed_dim`` features are projected (1×1 conv) to ``code_dim`` and normalised to unit length; the code of
    a vector is its nearest codebook entry (codebook rows also unit length), i.e. the largest cosine
    similarity; the decoder receives the code projected back to ``embed_dim``. Gradients pass to the encoder
    with the straight-through estimator; in training, the codebook is initialised from data and dead codes are
    restarted (:meth:`_maintain_codebook`). ``forward`` also returns the two VQ terms of eq. 10,
    :math:`\lVert \mathrm{sg}[e] - m\rVert^2` (embedding) and :math:`\lVert e - \mathrm{sg}[m]\rVert^2`
    (commitment), computed on the normalised vectors as means over their elements (the VQ-VAE/VQ-GAN convention,
    e.g. taming-transformers; a sum over the ``code_dim`` elements would weigh both terms ``code_dim`` times more
    against the distortion, and at small scale that collapsed the encoder's vectors onto a few codes).
    """

    def __init__(self, embed_dim: int, code_dim: int, codebook_size: int, *, restart_decay: float = 0.9,
                 restart_threshold: float = 0.1, restart_noise: float = 1e-3) -> None:
        super().__init__()
        self.project_in = nn.Conv2d(embed_dim, code_dim, 1)
        self.project_out = nn.Conv2d(code_dim, embed_dim, 1)
        self.codebook = nn.Parameter(F.normalize(torch.randn(codebook_size, code_dim), dim=1))
        self.restart_decay = float(restart_decay)
        self.restart_threshold = float(restart_threshold)
        self.restart_noise = float(restart_noise)
        # EMA of each code's share of the positions; 0 means "not yet initialised from data"
        self.register_buffer("usage", torch.zeros(codebook_size))

    @torch.no_grad()
    def _maintain_codebook(self, e: Tensor, idx: Tensor) -> None:
        """Training only: initialise the codebook from the first batch of vectors, then restart dead codes.

        A code whose usage (an exponential moving average of its share of the positions, decay
        ``restart_decay``) falls below ``restart_threshold / C`` and that no position chose in this batch is
        moved to a randomly drawn vector of the batch, plus a small jitter (``restart_noise``; it must stay
        below the spread of the vectors, or restarted codes land off the data and the labels coarsen). Without
        this the codebook collapses to a handful of entries within tens of steps (every image would get the same
        labels); it is the standard remedy
        (Dhariwal et al. 2020; Zeghidour et al. 2021). No effect in eval mode.
        """
        k = self.codebook_size
        vectors = e.permute(0, 2, 3, 1).reshape(-1, e.shape[1])
        if float(self.usage.sum()) == 0.0:  # data-dependent initialisation
            pick = torch.randint(0, vectors.shape[0], (k,), device=e.device)
            noise = self.restart_noise * torch.randn(k, vectors.shape[1], device=e.device)
            self.codebook.data.copy_(F.normalize(vectors[pick] + noise, dim=1))
            self.usage.fill_(1.0 / k)
            return
        counts = torch.bincount(idx.reshape(-1), minlength=k).to(self.usage.dtype)
        self.usage.mul_(self.restart_decay).add_((1 - self.restart_decay) * counts / counts.sum())
        dead = (self.usage < self.restart_threshold / k) & (counts == 0)
        n = int(dead.sum())
        if n:
            pick = torch.randint(0, vectors.shape[0], (n,), device=e.device)
            noise = self.restart_noise * torch.randn(n, vectors.shape[1], device=e.device)
            self.codebook.data[dead] = F.normalize(vectors[pick] + noise, dim=1)
            self.usage[dead] = 1.0 / k

    @property
    def codebook_size(self) -> int:
        return self.codebook.shape[0]

    def vectors(self, features: Tensor) -> Tensor:
        """The normalised vectors :math:`e^{(i,j)}`, ``(B, code_dim, h, w)``."""
        return F.normalize(self.project_in(features), dim=1)

    def nearest(self, e: Tensor) -> Tensor:
        """Index of the nearest (normalised) code for each position of ``e``: ``LongTensor (B, h, w)`` (eq. 8)."""
        codes = F.normalize(self.codebook, dim=1)
        # ||e - m||^2 = 2 - 2 <e, m> for unit vectors: the nearest code is the one of largest inner product
        return torch.einsum("bchw,kc->bkhw", e, codes).argmax(dim=1)

    def forward(self, features: Tensor) -> dict[str, Tensor]:
        e = self.vectors(features)
        if self.training:
            self._maintain_codebook(e.detach(), self.nearest(e.detach()))
        idx = self.nearest(e)
        m = F.normalize(self.codebook, dim=1)[idx].permute(0, 3, 1, 2)  # (B, code_dim, h, w)
        embedding = (m - e.detach()).pow(2).mean()
        commitment = (e - m.detach()).pow(2).mean()
        quantized = e + (m - e).detach()  # straight-through
        return {"indices": idx, "z_q": self.project_out(quantized), "embedding_loss": embedding,
                "commitment_loss": commitment}


class VQVAELabeler(nn.Module):
    """The labeler: :meth:`labels` gives :math:`u(x)` as class indices ``(B, H/d, W/d)`` in ``[0, C)``.

    ``forward(x)`` takes images in [0, 1] (the encoder sees ``2x - 1``) and returns the reconstruction ``x_hat``
    (in [0, 1] units), the ``indices`` and the two VQ losses (for training, eq. 10). The ILLM losses use class
    ``index + 1`` for real images and class 0 for reconstructions.
    Once trained, call :meth:`freeze`: the labeler is a fixed function during fine-tuning (eval mode, no
    gradients, and it stays so through ``.train()``).
    """

    def __init__(self, config: LabelerConfig | None = None) -> None:
        super().__init__()
        self.config = config or LabelerConfig.paper()
        self.encoder = LabelerEncoder(self.config)
        self.quantizer = NormalizedVectorQuantizer(self.config.embed_dim, self.config.code_dim,
                                                   self.config.codebook_size)
        self.decoder = LabelerDecoder(self.config)
        self._frozen = False

    @property
    def num_labels(self) -> int:
        return self.config.codebook_size

    @property
    def downsampling(self) -> int:
        return self.config.downsampling

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        q = self.quantizer(self.encoder(2 * x - 1))
        return {"x_hat": (self.decoder(q["z_q"]) + 1) / 2, **q}

    @torch.no_grad()
    def labels(self, x: Tensor) -> Tensor:
        """:math:`u(x)` of eq. 8 as indices ``LongTensor (B, H/d, W/d)`` (images in [0, 1], sides multiples of d)."""
        self.config.label_shape(*x.shape[-2:])
        return self.quantizer.nearest(self.quantizer.vectors(self.encoder(2 * x - 1)))

    def freeze(self) -> VQVAELabeler:
        self._frozen = True
        self.requires_grad_(False)
        return self.eval()

    @property
    def frozen(self) -> bool:
        return self._frozen

    def train(self, mode: bool = True) -> VQVAELabeler:
        return super().train(mode and not self._frozen)


def codebook_usage(indices: Tensor, codebook_size: int) -> dict[str, float]:
    """Share of the codebook in use and the perplexity :math:`2^{H}` of the label histogram."""
    counts = torch.bincount(indices.reshape(-1), minlength=codebook_size).double()
    p = counts / counts.sum()
    nz = p[p > 0]
    return {"used": float((counts > 0).double().mean()), "perplexity": float(2 ** (-(nz * nz.log2()).sum()))}

