r"""Adversarial losses of MS-ILLM (Muckley et al. 2023): the ILLM losses (eq. 6–7) and the binary PatchGAN loss.

ILLM (Sec. 4.2). The discriminator outputs, at every position of the label grid, logits over C + 1 classes;
class 0 is "fake" and class :math:`c + 1` is label :math:`c` of the VQ-VAE labeler :math:`u`. With
:math:`\log D` the log-softmax over classes and :math:`b_0` the one-hot "fake" map,

.. math::
    \mathcal L_D = \mathbb E_x\big[-\langle u(x), \log D(x)\rangle\big]
                 + \mathbb E_{\hat x}\big[-\langle b_0, \log D(\hat x)\rangle\big] \qquad (6)

    \mathcal L_G = \mathbb E_{\hat x}\big[-\langle u(x), \log D(\hat x)\rangle\big] \qquad (7)

— cross-entropies per position, averaged over positions and images. The generator loss is the non-saturating
GAN loss extended to many classes: a reconstruction should be classified with the *labels of its original*.
(NeuralCompression additionally halves the discriminator loss; a constant factor that AdamW's scale invariance
makes immaterial. We keep eq. 6 as written.)

PatchGAN (HiFiC's, the MS-PatchGAN baseline): binary non-saturating losses on real/fake logits,
:math:`\mathcal L_D = \mathbb E[\mathrm{softplus}(-D(x))] + \mathbb E[\mathrm{softplus}(D(\hat x))]`,
:math:`\mathcal L_G = \mathbb E[\mathrm{softplus}(-D(\hat x))]`, i.e. :math:`-\log\sigma(D(x)) - \log(1 - \sigma(D(\hat x)))`
and :math:`-\log\sigma(D(\hat x))`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

FAKE_CLASS = 0


def _check(logits: Tensor, labels: Tensor) -> None:
    if logits.dim() != 4 or labels.dim() != 3 or logits.shape[0] != labels.shape[0] \
            or logits.shape[-2:] != labels.shape[-2:]:
        raise ValueError(f"logits (B, C+1, h, w) and labels (B, h, w) must align; got {tuple(logits.shape)} "
                         f"and {tuple(labels.shape)}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= logits.shape[1] - 1):
        raise ValueError(f"labels must lie in [0, {logits.shape[1] - 1}) (class 0 is reserved for fake)")


def illm_discriminator_loss(real_logits: Tensor, fake_logits: Tensor, labels: Tensor) -> Tensor:
    """Eq. 6: cross-entropy of real images against ``labels + 1`` plus of reconstructions against class 0."""
    _check(real_logits, labels)
    _check(fake_logits, labels)
    real = F.cross_entropy(real_logits, labels + 1)
    fake = F.cross_entropy(fake_logits, torch.full_like(labels, FAKE_CLASS))
    return real + fake


def illm_generator_loss(fake_logits: Tensor, labels: Tensor) -> Tensor:
    """Eq. 7: cross-entropy of reconstructions against the labels of their originals (``labels + 1``)."""
    _check(fake_logits, labels)
    return F.cross_entropy(fake_logits, labels + 1)


def ns_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Binary non-saturating discriminator loss: ``E softplus(-D(x)) + E softplus(D(x_hat))``."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def ns_generator_loss(fake_logits: Tensor) -> Tensor:
    """Binary non-saturating generator loss: ``E softplus(-D(x_hat)) = -E log sigmoid(D(x_hat))``."""
    return F.softplus(-fake_logits).mean()


def discriminator_accuracy(real_logits: Tensor, fake_logits: Tensor, labels: Tensor | None = None) -> dict[str, float]:
    """Diagnostics: share of real positions given their label (or "real" for a binary D), of fakes called fake."""
    with torch.no_grad():
        if labels is None:
            return {"real_acc": float((real_logits > 0).float().mean()), "fake_acc": float((fake_logits < 0).float().mean())}
        return {"real_acc": float((real_logits.argmax(1) == labels + 1).float().mean()),
                "fake_acc": float((fake_logits.argmax(1) == FAKE_CLASS).float().mean())}
