"""The HiFiC transforms (Mentzer et al. 2020) as MS-ILLM uses them (Muckley et al. 2023, Sec. 4.1).

MS-ILLM and its No-GAN baseline are a *mean-scale hyperprior* (Minnen et al. 2018) whose analysis
and synthesis transforms are HiFiC's encoder and generator:

* encoder :math:`f_\\varphi`: a 7×7 convolution to 60 channels, four 3×3 stride-2 convolutions to
  120/240/480/960 channels (each followed by ChannelNorm and ReLU), and a 3×3 convolution to the
  220-channel latent :math:`y` (16× downsampling);
* generator :math:`h_\\nu`: ChannelNorm, a 3×3 convolution to 960 channels and ChannelNorm, nine
  residual blocks wrapped in one more skip connection, four 3×3 stride-2 transposed convolutions
  back to 60 channels (ChannelNorm, ReLU), and a 7×7 convolution to RGB;
* hyperprior (in :mod:`perceptual_compression.models.mean_scale_hyperprior`): 320 hyper-latent
  channels, separate mean and scale synthesis branches, straight-through quantized latents into the
  generator.

:class:`HiFiCConfig` holds the widths. ``HiFiCConfig.paper()`` is the published model;
``HiFiCConfig.small()`` (or :meth:`HiFiCConfig.scaled`) keeps the same topology with fewer channels
and residual blocks so that the same code trains on a CPU. Parameter names follow
NeuralCompression's ``HiFiCEncoder``/``HiFiCGenerator`` so that the official checkpoints
(:func:`load_pretrained`) load with ``strict=True``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..layers.channel_norm import ChannelNorm2d
from ..layers.residual import ChannelNormResidualBlock

#: HiFiC/MS-ILLM encoder widths, input to latent (the generator uses them in reverse).
PAPER_CHANNELS: tuple[int, ...] = (60, 120, 240, 480, 960)


@dataclass(frozen=True)
class HiFiCConfig:
    """Widths of the HiFiC mean-scale hyperprior.

    ``channels`` are the encoder's five stage widths (the generator mirrors them); the latent has
    ``latent_features`` channels at 1/16 resolution and the hyper-latent ``hyper_features`` channels
    at 1/64 resolution. ``eps`` is ChannelNorm's epsilon.
    """

    channels: tuple[int, ...] = PAPER_CHANNELS
    latent_features: int = 220
    hyper_features: int = 320
    residual_blocks: int = 9
    eps: float = 1e-3
    in_channels: int = 3

    def __post_init__(self) -> None:
        if len(self.channels) != 5:
            raise ValueError(f"HiFiC has five encoder stages; channels={self.channels} has {len(self.channels)}")
        if min(self.channels) < 2 or self.latent_features < 2 or self.hyper_features < 1:
            raise ValueError("every width must be at least 2 (ChannelNorm needs a channel variance)")
        if self.residual_blocks < 0:
            raise ValueError("residual_blocks must be >= 0")

    @classmethod
    def paper(cls) -> HiFiCConfig:
        """The published MS-ILLM / No-GAN model: 60…960 channels, latent 220, hyper-latent 320, 9 blocks."""
        return cls()

    @classmethod
    def scaled(cls, width: float, *, latent_features: int | None = None, hyper_features: int | None = None,
               residual_blocks: int = 9) -> HiFiCConfig:
        """The paper's topology with every transform width multiplied by ``width`` (rounded, at least 4)."""
        if width <= 0:
            raise ValueError("width must be positive")
        ch = tuple(max(4, int(round(c * width))) for c in PAPER_CHANNELS)
        return cls(
            channels=ch,
            latent_features=latent_features if latent_features is not None else max(4, int(round(220 * width))),
            hyper_features=hyper_features if hyper_features is not None else max(4, int(round(320 * width))),
            residual_blocks=residual_blocks,
        )

    @classmethod
    def small(cls) -> HiFiCConfig:
        """The CPU model of the book's default build: same topology, 1/10 of the widths, 2 residual blocks."""
        return cls(channels=(8, 16, 24, 48, 96), latent_features=32, hyper_features=32, residual_blocks=2)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d


class HiFiCEncoder(nn.Module):
    """Analysis transform :math:`y = f_\\varphi(x)`; output at 1/16 resolution with ``latent_features`` channels.

    Submodule layout (for checkpoint compatibility): ``blocks.0`` = (conv 7×7, ChannelNorm, ReLU),
    ``blocks.1..4`` = (conv 3×3 stride 2, ChannelNorm, ReLU), ``blocks.5`` = conv 3×3 to the latent.
    """

    downsampling = 16

    def __init__(self, in_channels: int = 3, latent_features: int = 220,
                 channels: tuple[int, ...] = PAPER_CHANNELS, eps: float = 1e-3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for i, cout in enumerate(channels):
            conv = (nn.Conv2d(cin, cout, kernel_size=7, padding=3) if i == 0
                    else nn.Conv2d(cin, cout, kernel_size=3, stride=2, padding=1))
            layers.append(nn.Sequential(conv, ChannelNorm2d(cout, eps=eps), nn.ReLU()))
            cin = cout
        layers.append(nn.Conv2d(cin, latent_features, kernel_size=3, padding=1))
        self.blocks = nn.Sequential(*layers)
        self.latent_features = latent_features

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x)


class HiFiCGenerator(nn.Module):
    """Synthesis transform :math:`\\hat x = h_\\nu(\\hat y)`; input at 1/16 resolution, output RGB.

    Submodule layout: ``block_0`` = (ChannelNorm, conv 3×3, ChannelNorm); ``resid_blocks`` = the
    residual blocks, with one more skip around the whole stack; ``blocks.0..3`` = (transposed conv 3×3
    stride 2, ChannelNorm, ReLU); ``blocks.4`` = conv 7×7 to ``image_channels``. The output is not
    clamped (the codec clamps decoded images to [0, 1]).
    """

    upsampling = 16

    def __init__(self, image_channels: int = 3, latent_features: int = 220,
                 channels: tuple[int, ...] = PAPER_CHANNELS, residual_blocks: int = 9, eps: float = 1e-3) -> None:
        super().__init__()
        widths = list(reversed(channels))  # 960, 480, 240, 120, 60
        self.block_0 = nn.Sequential(
            ChannelNorm2d(latent_features, eps=eps),
            nn.Conv2d(latent_features, widths[0], kernel_size=3, padding=1),
            ChannelNorm2d(widths[0], eps=eps),
        )
        self.resid_blocks = nn.Sequential(*[ChannelNormResidualBlock(widths[0], eps=eps) for _ in range(residual_blocks)])
        ups: list[nn.Module] = []
        cin = widths[0]
        for cout in widths[1:]:
            ups.append(nn.Sequential(
                nn.ConvTranspose2d(cin, cout, kernel_size=3, stride=2, padding=1, output_padding=1),
                ChannelNorm2d(cout, eps=eps),
                nn.ReLU(),
            ))
            cin = cout
        ups.append(nn.Conv2d(cin, image_channels, kernel_size=7, padding=3))
        self.blocks = nn.Sequential(*ups)
        self.latent_features = latent_features

    def forward(self, y: Tensor) -> Tensor:
        x = self.block_0(y)
        x = x + self.resid_blocks(x)
        return self.blocks(x)


# ----------------------------------------------------------------------------- the MS-ILLM / No-GAN model
def msillm_autoencoder(config: HiFiCConfig | None = None, *, device: str | torch.device | None = None):
    """The MS-ILLM / No-GAN codec: HiFiC encoder and generator inside the mean-scale hyperprior.

    ``config`` defaults to :meth:`HiFiCConfig.paper` (the published model, about 181M parameters);
    pass :meth:`HiFiCConfig.small` for the CPU model. MS-ILLM and No-GAN share this architecture: they
    differ only by the GAN fine-tuning of the generator (chapter 4, part 2).

    ``device`` builds the model there (default: the CPU). ``device="meta"`` builds the encoder and
    generator without allocating their weights (the hyperprior stays on the CPU): enough to inspect the
    state-dict layout and to check that a checkpoint's keys and shapes fit, at no memory cost.
    """
    from .mean_scale_hyperprior import MeanScaleHyperpriorAutoencoder

    c = config or HiFiCConfig.paper()
    dev = torch.device(device) if device is not None else torch.device("cpu")
    with dev:
        encoder = HiFiCEncoder(c.in_channels, c.latent_features, c.channels, eps=c.eps)
        decoder = HiFiCGenerator(c.in_channels, c.latent_features, c.channels, c.residual_blocks, eps=c.eps)
    model = MeanScaleHyperpriorAutoencoder(encoder, decoder, c.latent_features, c.hyper_features,
                                           latent_stride=HiFiCEncoder.downsampling)
    if dev.type != "meta":
        model = model.to(dev)
    model.hific_config = c
    return model


@dataclass(frozen=True)
class PretrainedCheckpoint:
    """One official NeuralCompression checkpoint: its torch.hub name, registry id, family and target rate."""

    hub_name: str
    asset_id: str
    family: str  # "MS-ILLM" or "No-GAN"
    target_bpp: float


def _pretrained_table() -> dict[str, PretrainedCheckpoint]:
    table: dict[str, PretrainedCheckpoint] = {}
    for q, t in (("vlo1", 0.00218), ("vlo2", 0.00438)):
        table[f"msillm_quality_{q}"] = PretrainedCheckpoint(
            f"msillm_quality_{q}", f"neuralcompression-msillm-quality-{q}", "MS-ILLM", t)
    for q, t in enumerate((0.035, 0.07, 0.14, 0.3, 0.45, 0.9), start=1):
        table[f"msillm_quality_{q}"] = PretrainedCheckpoint(
            f"msillm_quality_{q}", f"neuralcompression-msillm-quality-{q}", "MS-ILLM", t)
        table[f"noganms_quality_{q}"] = PretrainedCheckpoint(
            f"noganms_quality_{q}", f"neuralcompression-noganms-quality-{q}", "No-GAN", t)
    return table


#: The hub entry points of NeuralCompression's ``hubconf.py`` (vlo1/vlo2 come from Careil et al., ICLR 2024).
PRETRAINED: dict[str, PretrainedCheckpoint] = _pretrained_table()


def pretrained_info(name: str) -> PretrainedCheckpoint:
    """Look up a checkpoint by hub name (``"noganms_quality_3"``) or registry id (``"neuralcompression-noganms-quality-3"``)."""
    if name in PRETRAINED:
        return PRETRAINED[name]
    for info in PRETRAINED.values():
        if info.asset_id == name:
            return info
    raise KeyError(f"unknown MS-ILLM checkpoint {name!r}; valid names: {', '.join(PRETRAINED)}")


def load_state_dict_file(path: str | Path) -> dict[str, Tensor]:
    """Read a checkpoint file as NeuralCompression's zoo does (a plain state dict), on the CPU, tensors only."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not state or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path} is not a plain state dict of tensors (as NeuralCompression's hub files are)")
    return state


def load_pretrained(name: str, *, download: bool | None = None, device: str | torch.device | None = None):
    """An official MS-ILLM / No-GAN model, weights resolved through the asset registry, ready to code.

    ``name`` is a hub name (:data:`PRETRAINED`) or its registry id. The file is found with
    :func:`perceptual_compression.assets.resolve` (local data directory, cache, then the official URL
    with checksum check); a missing file raises :class:`~perceptual_compression.assets.AssetUnavailableError`.
    The state dict loads with ``strict=True`` (CompressAI's ``load_state_dict`` resizes the entropy
    models' CDF buffers and maps CompressAI < 1.2.6 parameter names); the entropy tables are then
    rebuilt with ``update(force=True)`` and the model is returned in eval mode. Weights: CC-BY-NC 4.0.
    """
    from ..assets import resolve
    from ..training import default_device

    info = pretrained_info(name)
    path = resolve(info.asset_id, download=download)
    model = msillm_autoencoder(HiFiCConfig.paper())
    model.load_state_dict(load_state_dict_file(path), strict=True)
    model.update(force=True)
    model.pretrained = info
    return model.to(default_device(device) if not isinstance(device, torch.device) else device).eval()


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (entropy-model buffers excluded)."""
    return sum(p.numel() for p in module.parameters())


def rate_of(model_config: HiFiCConfig, height: int, width: int) -> dict[str, int]:
    """Latent and hyper-latent sizes for an image (padded to a multiple of 64), for rate bookkeeping."""
    h, w = math.ceil(height / 64) * 64, math.ceil(width / 64) * 64
    return {"latent": model_config.latent_features * (h // 16) * (w // 16),
            "hyper_latent": model_config.hyper_features * (h // 64) * (w // 64)}
