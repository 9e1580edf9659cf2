r"""HiFiC's conditional PatchGAN discriminator (Mentzer et al. 2020), the MS-PatchGAN baseline of MS-ILLM.

The paper's baseline "MS-PatchGAN" (HiFiC* in its figures) fine-tunes the same No-GAN decoder against HiFiC's
discriminator instead of the ILLM U-Net: a PatchGAN (Isola et al. 2017) that outputs one real/fake logit per
overlapping patch, conditioned on the quantized latent. The latent goes through a 3×3 convolution to 12
channels and LeakyReLU, is upsampled (nearest) to the image size and concatenated with the image; then four
4×4 convolutions with 64, 128, 256, 512 channels (strides 2, 2, 2, 1), LeakyReLU 0.2 after each, and a 4×4
convolution to one logit per position. Every convolution is spectrally normalised, as in HiFiC. The binary
non-saturating loss is in :mod:`perceptual_compression.losses.adversarial`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

PAPER_CHANNELS = (64, 128, 256, 512)


class PatchGANDiscriminator(nn.Module):
    """``D(x, y_hat) -> logits (B, 1, h, w)``; one logit per receptive-field patch.

    ``channels``: widths of the four 4×4 convolutions (strides 2, 2, 2, 1); ``context_channels``: channels of
    the latent (0 = unconditional); ``spectral``: spectral normalisation of every convolution (HiFiC's choice).
    """

    def __init__(self, context_channels: int = 220, *, context_features: int = 12,
                 channels: Sequence[int] = PAPER_CHANNELS, spectral: bool = True, image_channels: int = 3) -> None:
        super().__init__()
        if len(channels) != 4:
            raise ValueError("HiFiC's PatchGAN has four convolution stages")
        sn = spectral_norm if spectral else (lambda m: m)
        self.context = None
        cin = image_channels
        if context_channels:
            self.context = nn.Sequential(sn(nn.Conv2d(context_channels, context_features, 3, padding=1)),
                                         nn.LeakyReLU(0.2))
            cin += context_features
        layers: list[nn.Module] = []
        for c, stride in zip(channels, (2, 2, 2, 1)):
            layers += [sn(nn.Conv2d(cin, c, 4, stride=stride, padding=2)), nn.LeakyReLU(0.2)]
            cin = c
        layers.append(sn(nn.Conv2d(cin, 1, 4, stride=1, padding=2)))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        if self.context is not None:
            if context is None:
                raise ValueError("this discriminator is conditional: pass the quantized latent as context")
            x = torch.cat((x, F.interpolate(self.context(context), size=x.shape[-2:], mode="nearest")), dim=1)
        return self.layers(x)
