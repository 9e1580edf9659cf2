r"""The ILLM discriminator (Muckley et al. 2023, Sec. 4.4): a conditional residual U-Net with C+1 output classes.

Following OASIS (Sushko et al. 2022), the discriminator is a U-Net that classifies every position: class 0 is
"fake" (a reconstruction), classes 1…C are the labels :math:`u(x)` of real images given by the VQ-VAE labeler
(:mod:`perceptual_compression.models.vqvae_labeler`). MS-ILLM's variant

* uses residual blocks (two 3×3 convolutions with LeakyReLU 0.2, a 1×1 shortcut, average pooling on the way
  down, nearest upsampling on the way up);
* cuts the upsampling path at the labeler's resolution (1/8 of the image for the 32×32 labels of a 256² image),
  so the output is ``(B, C + 1, H/d, W/d)`` logits aligned with the label map;
* is conditioned on the codec's quantized latent :math:`\hat y` (1/16 resolution) as HiFiC's PatchGAN is:
  a 3×3 convolution maps it to 16 channels, LeakyReLU, nearest upsampling to the image size, concatenated
  with the image (so the first level sees 3 + 16 channels);

``layout="reference"`` (the default; the paper scale) is the released U-Net (NeuralCompression's
``ConditionalUnetDiscriminator``): the up path has no skip connections from the down path, its last level has
64 channels, a plain 1×1 convolution makes the logits, the context convolution pads by reflection, and instance
normalisation has no affine parameters; without normalisation its residual shortcuts read the block's
input after the first LeakyReLU (an effect of that activation being in place in the released code).
``layout="skips"`` is the book's earlier variant, kept for the small
scale because the committed runs were made with it: the down path's features are added across the U, the last
level keeps its width, a LeakyReLU precedes the head, zero padding, affine instance normalisation.
* uses **no normalization** by default; ``norm="spectral"`` (spectral reparametrisation of every convolution)
  and ``norm="instance"`` (instance normalisation in every block) are the alternatives of Table 1.

Paper widths (the reference's defaults): ``(3 + 16, 128, 128, 256, 256, 512, 512)``, i.e. six levels down to
1/64, and up again to 1/8.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

NORMS = ("none", "spectral", "instance")
LAYOUTS = ("reference", "skips")
REFERENCE_HEAD_CHANNELS = 64
PAPER_CHANNELS = (128, 128, 256, 256, 512, 512)


def _conv(cin: int, cout: int, k: int, norm: str) -> nn.Module:
    conv = nn.Conv2d(cin, cout, k, padding=k // 2)
    return spectral_norm(conv) if norm == "spectral" else conv


def _norm(channels: int, norm: str, affine: bool = True) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=affine) if norm == "instance" else nn.Identity()


class _ResBlock(nn.Module):
    """(norm, LeakyReLU, conv 3×3) ×2 with a 1×1 shortcut; ``resample`` = "down" (avg pool) or "up" (nearest).

    ``activated_shortcut``: the shortcut sees LeakyReLU(x) instead of x. The released U-Net does this in effect
    wherever its block starts with an identity "norm": its first LeakyReLU is in place, so it rewrites the input
    that the shortcut reads afterwards (its weights were trained so)."""

    def __init__(self, cin: int, cout: int, norm: str, resample: str, first: bool = False,
                 affine: bool = True, activated_shortcut: bool = False) -> None:
        super().__init__()
        self.activated_shortcut = activated_shortcut and not first
        pre = [] if first else [_norm(cin, norm, affine), nn.LeakyReLU(0.2)]
        self.resample = resample
        self.body = nn.Sequential(*pre, _conv(cin, cout, 3, norm), _norm(cout, norm, affine), nn.LeakyReLU(0.2),
                                  _conv(cout, cout, 3, norm))
        self.shortcut = _conv(cin, cout, 1, norm) if cin != cout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        if self.resample == "up":
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        out = self.body(x) + self.shortcut(F.leaky_relu(x, 0.2) if self.activated_shortcut else x)
        return F.avg_pool2d(out, 2) if self.resample == "down" else out


class ConditionalUNetDiscriminator(nn.Module):
    """ILLM discriminator: ``D(x, y_hat) -> logits (B, num_labels + 1, H/d, W/d)``.

    Args:
        num_labels: C, the labeler's codebook size (the output has C + 1 classes; class 0 = fake).
        output_downsampling: d, the labeler's downsampling (8 for 32×32 labels of 256² images); a power of 2.
        context_channels: channels of the conditioning latent (220 for MS-ILLM); 0 = unconditional.
        context_features: channels the latent is mapped to before concatenation (16).
        channels: widths of the down levels (each halves the resolution); at least log2(d) of them.
        norm: "none" (the paper's choice), "spectral" or "instance" (Table 1).
        image_channels: 3.
        layout: "reference" (the released U-Net) or "skips" (the book's small-scale variant; module docstring).
    """

    def __init__(self, num_labels: int, output_downsampling: int = 8, context_channels: int = 220, *,
                 context_features: int = 16, channels: Sequence[int] = PAPER_CHANNELS, norm: str = "none",
                 image_channels: int = 3, layout: str = "reference") -> None:
        super().__init__()
        from ..params import check_choice

        check_choice("norm", norm, NORMS)
        check_choice("layout", layout, LAYOUTS)
        self.layout = layout
        ref = layout == "reference"
        d = int(output_downsampling)
        if d < 2 or d & (d - 1):
            raise ValueError(f"output_downsampling must be a power of 2 (>= 2), got {output_downsampling}")
        up_levels = len(channels) - int(math.log2(d))
        if up_levels < 0:
            raise ValueError(f"{len(channels)} levels cannot reach 1/{d} resolution")
        self.norm = norm
        self.num_labels = int(num_labels)
        self.output_downsampling = d
        self.context = None
        cin = image_channels
        if context_channels:
            conv = (nn.Conv2d(context_channels, context_features, 3, padding=1, padding_mode="reflect") if ref
                    else _conv(context_channels, context_features, 3, norm))
            self.context = nn.Sequential(conv, nn.LeakyReLU(0.2))
            cin += context_features
        self.down = nn.ModuleList()
        act_short = ref and norm != "instance"  # instance norm copies the input before the in-place activation
        for i, c in enumerate(channels):
            self.down.append(_ResBlock(cin, c, norm, "down", first=(i == 0), affine=not ref,
                                       activated_shortcut=act_short))
            cin = c
        # up path: from the deepest level back to the level at 1/d ("skips": adding the down path's features)
        self.up = nn.ModuleList()
        levels = list(range(len(channels) - 2, len(channels) - 2 - up_levels, -1))
        for j, level in enumerate(levels):
            cout = REFERENCE_HEAD_CHANNELS if ref and j == len(levels) - 1 else channels[level]
            self.up.append(_ResBlock(cin, cout, norm, "up", affine=not ref, activated_shortcut=act_short))
            cin = cout
        self.head = (nn.Conv2d(cin, self.num_labels + 1, 1) if ref
                     else nn.Sequential(nn.LeakyReLU(0.2), _conv(cin, self.num_labels + 1, 1, norm)))

    @property
    def num_classes(self) -> int:
        return self.num_labels + 1

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        h, w = x.shape[-2:]
        if h % (2 ** len(self.down)) or w % (2 ** len(self.down)):
            raise ValueError(f"image size {h}x{w} must be a multiple of {2 ** len(self.down)}")
        if self.context is not None:
            if context is None:
                raise ValueError("this discriminator is conditional: pass the quantized latent as context")
            x = torch.cat((x, F.interpolate(self.context(context), size=(h, w), mode="nearest")), dim=1)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        for i, block in enumerate(self.up):
            x = block(x) + skips[-2 - i] if self.layout == "skips" else block(x)
        return self.head(x)

