"""The MNIST encoder, decoder and critic of Blau & Michaeli (2019), supplement Table 1, and the digit
classifier of Table 3 whose second convolution defines the deep-feature distortion of eq. (11).

=====================================  =====================================  ======================================
Encoder                                Decoder                                Critic (discriminator)
=====================================  =====================================  ======================================
28×28×1 input, flatten (784)           ``dim`` input                          28×28×1 input
FC 512, BN, l-ReLU                     FC 128, BN, l-ReLU                     Conv 5×5 st 2 → 14×14×64, l-ReLU
FC 256, BN, l-ReLU                     FC 512, BN, l-ReLU                     Conv 5×5 st 2 → 7×7×128, l-ReLU
FC 128, BN, l-ReLU                     unflatten 4×4×32                       Conv 5×5 st 2 → 4×4×256, l-ReLU
FC 128, BN, l-ReLU                     ConvT 5×5 st 2 → 11×11×64, BN, l-ReLU  flatten 4096
FC ``dim``, BN, Tanh                   ConvT 5×5 st 2 → 25×25×128, BN, l-ReLU FC 1
quantize to L centers                  ConvT 4×4 st 1 → 28×28×1, Sigmoid
=====================================  =====================================  ======================================

Filter sizes are 5 except the decoder's last (4); no padding in the decoder, padding 2 in the critic
(supplement E). The paper does not state the leaky-ReLU slope: we use 0.2 (the usual GAN choice).
Images are ``(B, 1, 28, 28)`` floats in ``[0, 1]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..params import check_choice
from ..quantizers.fixed_centers import FixedCenterQuantizer

__all__ = ["ConvTranspose2d", "Encoder", "Decoder", "Critic", "RDPMnistCodec", "MnistClassifier", "LEAKY_SLOPE",
           "PSI_LAYERS"]

#: Leaky-ReLU negative slope (not given in the paper).
LEAKY_SLOPE = 0.2


def _fc(i: int, o: int, act: nn.Module | None = None) -> list[nn.Module]:
    return [nn.Linear(i, o), nn.BatchNorm1d(o), act if act is not None else nn.LeakyReLU(LEAKY_SLOPE)]


class Encoder(nn.Module):
    """784 → 512 → 256 → 128 → 128 → ``dim`` (Tanh); quantization happens in :class:`RDPMnistCodec`."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError("dim must be >= 1")
        self.dim = dim
        self.net = nn.Sequential(
            nn.Flatten(),
            *_fc(784, 512), *_fc(512, 256), *_fc(256, 128), *_fc(128, 128),
            *_fc(128, dim, nn.Tanh()),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` (same parameters, same output) that, on the CPU, runs as an ordinary convolution of
    the zero-interleaved input with the flipped kernel — about three times faster there than PyTorch's
    transposed-convolution kernel for these small layers. Only the case used here (no padding, no output
    padding, no dilation, one group) takes the fast path; anything else falls back to the parent class."""

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        if (x.device.type != "cpu" or output_size is not None or self.padding != (0, 0)
                or self.output_padding != (0, 0) or self.dilation != (1, 1) or self.groups != 1 or x.dim() != 4):
            return super().forward(x, output_size)
        sh, sw = self.stride
        if (sh, sw) != (1, 1):
            b, c, h, w = x.shape
            up = x.new_zeros(b, c, (h - 1) * sh + 1, (w - 1) * sw + 1)
            up[:, :, ::sh, ::sw] = x
            x = up
        kh, kw = self.kernel_size
        weight = self.weight.transpose(0, 1).flip(2, 3)
        return F.conv2d(x, weight, self.bias, padding=(kh - 1, kw - 1))


def _width(channels: int, width: float) -> int:
    if not width > 0:
        raise ValueError("width must be > 0")
    return max(1, round(channels * width))


class Decoder(nn.Module):
    """``dim`` → 128 → 512 → 4×4×32 → 11×11×64 → 25×25×128 → 28×28×1 (Sigmoid).

    ``width`` scales the two transposed convolutions' channel counts (64, 128); 1 is Table 1.
    """

    def __init__(self, dim: int, width: float = 1.0) -> None:
        super().__init__()
        self.dim = dim
        c1, c2 = _width(64, width), _width(128, width)
        self.fc = nn.Sequential(*_fc(dim, 128), *_fc(128, 512))
        self.deconv = nn.Sequential(
            ConvTranspose2d(32, c1, 5, stride=2), nn.BatchNorm2d(c1), nn.LeakyReLU(LEAKY_SLOPE),
            ConvTranspose2d(c1, c2, 5, stride=2), nn.BatchNorm2d(c2), nn.LeakyReLU(LEAKY_SLOPE),
            ConvTranspose2d(c2, 1, 4, stride=1), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(-1, 32, 4, 4))


class Critic(nn.Module):
    """The WGAN critic :math:`h` of eq. (10): three strided 5×5 convolutions and a linear read-out (no BN,
    as gradient-penalty critics require). ``width`` scales the channel counts (64, 128, 256); 1 is Table 1."""

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, c3 = _width(64, width), _width(128, width), _width(256, width)
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 5, stride=2, padding=2), nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(c1, c2, 5, stride=2, padding=2), nn.LeakyReLU(LEAKY_SLOPE),
            nn.Conv2d(c2, c3, 5, stride=2, padding=2), nn.LeakyReLU(LEAKY_SLOPE),
            nn.Flatten(), nn.Linear(16 * c3, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class RDPMnistCodec(nn.Module):
    """Encoder → quantizer (L fixed centers) → (+ uniform noise) → decoder.

    The rate is at most ``dim · log2(L)`` bits per digit; the integer symbols of :meth:`encode` are what the
    entropy coder writes.
    """

    def __init__(self, dim: int, L: int, width: float = 1.0) -> None:
        super().__init__()
        self.dim, self.L = dim, L
        self.encoder = Encoder(dim)
        self.quantizer = FixedCenterQuantizer(L)
        self.decoder = Decoder(dim, width)

    @property
    def nominal_bits(self) -> float:
        """``dim · log2(L)``: bits per digit of a fixed-length code."""
        import math

        return self.dim * math.log2(self.L)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        z_hat = self.quantizer(self.encoder(x))
        return self.decoder(self.quantizer.add_noise(z_hat, generator))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Quantizer indices ``(B, dim)`` (LongTensor in ``[0, L)``)."""
        return self.quantizer.indices(self.encoder(x))

    @torch.no_grad()
    def decode(self, idx: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode indices; the decoder draws its own noise (outputs differ between calls)."""
        z_hat = self.quantizer.dequantize(idx)
        return self.decoder(self.quantizer.add_noise(z_hat, generator))


PSI_LAYERS = ("conv", "block")  # Ψ of eq. (11): the second convolution's output, or its whole Table 3 row


class MnistClassifier(nn.Module):
    """Supplement Table 3: the small digit classifier whose second convolution is :math:`\\Psi` of eq. (11).

    28×28×1 → Conv 5×5 (10), max-pool 2, l-ReLU → 12×12×10 → Conv 5×5 (20), dropout, max-pool 2, l-ReLU →
    4×4×20 → flatten 320 → FC 50, ReLU, dropout → FC 10 (softmax in the loss).
    """

    def __init__(self, dropout: float = 0.5, psi: str = "conv") -> None:
        super().__init__()
        self.psi = check_choice("psi", psi, PSI_LAYERS)
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.drop2d = nn.Dropout2d(dropout)
        self.fc1 = nn.Linear(320, 50)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(50, 10)
        self.act = nn.LeakyReLU(LEAKY_SLOPE)
        self.pool = nn.MaxPool2d(2)

    def _conv2(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.act(self.pool(self.conv1(x))))

    def features(self, x: torch.Tensor, psi: str | None = None) -> torch.Tensor:
        """:math:`\\Psi(x)`: the output of the second convolutional layer, ``(B, 20, 8, 8)`` (supplement F), or with
        ``psi="block"`` the output of Table 3's whole second row, ``(B, 20, 4, 4)`` (max-pool and leaky ReLU; its
        dropout is off in evaluation mode). ``psi`` overrides the classifier's own reading for this call.

        Our reading of "the outputs of the second convolutional layer" (the default): the convolution's own output.
        Table 3's second row ends after dropout, max-pool and leaky ReLU (20×4×4), and that term is several times
        smaller (chapter 1 prints the factor for its classifier,
        :func:`~perceptual_compression.experiments.rdp_mnist.feature_term_ratios`), so the paper's weight α = 5e-5
        would leave it far below the squared error's ``1e-3``-scaled term, while this reading gives the two terms
        comparable sizes. Dropout (channel-wise, rate 0.5 like the FC dropout) is our choice; Table 3 gives no
        rate."""
        psi = self.psi if psi is None else check_choice("psi", psi, PSI_LAYERS)
        h = self._conv2(x)
        return h if psi == "conv" else self.act(self.pool(self.drop2d(h)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 10)``."""
        h = self.act(self.pool(self.drop2d(self._conv2(x))))
        h = self.drop(torch.relu(self.fc1(h.flatten(1))))
        return self.fc2(h)
