"""Distortion measures of the MNIST experiment of Blau & Michaeli (2019), Sec. 4.

* squared error :math:`\\Delta(x,\\hat x) = \\|x - \\hat x\\|^2` (Sec. 4.1), summed over the 784 pixels of a digit;
* the deep-feature distortion of eq. (11) (Johnson et al., 2016; Ledig et al., 2017)

  .. math:: \\Delta(x,\\hat x) = \\|x - \\hat x\\|^2 + \\alpha\\,\\|\\Psi(x) - \\Psi(\\hat x)\\|^2,

  with :math:`\\Psi` the second convolutional layer of a small pre-trained MNIST classifier (supplement F,
  :class:`~perceptual_compression.models.rdp_mnist.MnistClassifier`). In training each term carries the
  paper's factor (:math:`10^{-3}` and :math:`5\\cdot10^{-5}`), which fixes :math:`\\alpha = 0.05`.

Each function returns one value per digit, shape ``(B,)``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["squared_error", "feature_squared_error", "DeepFeatureDistortion"]


def squared_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """:math:`\\|x - \\hat x\\|^2` per sample (sum over all non-batch dimensions)."""
    return (x - x_hat).pow(2).flatten(1).sum(1)


def feature_squared_error(features: nn.Module | callable, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """:math:`\\|\\Psi(x) - \\Psi(\\hat x)\\|^2` per sample (the target's features carry no gradient)."""
    with torch.no_grad():
        fx = features(x)
    return (fx - features(x_hat)).pow(2).flatten(1).sum(1)


class DeepFeatureDistortion(nn.Module):
    """``mse_weight · ‖x − x̂‖² + feature_weight · ‖Ψ(x) − Ψ(x̂)‖²`` per sample, with a frozen classifier.

    ``classifier`` must have a ``features(x)`` method (:math:`\\Psi`); it is put in eval mode and its
    parameters are frozen, so that only the decoder (and encoder) learn from this loss.
    """

    def __init__(self, classifier: nn.Module, mse_weight: float = 1e-3, feature_weight: float = 5e-5) -> None:
        super().__init__()
        if not hasattr(classifier, "features"):
            raise TypeError("classifier needs a features(x) method (the layer Ψ of eq. 11)")
        self.classifier = classifier.eval()
        for p in self.classifier.parameters():
            p.requires_grad_(False)
        self.mse_weight = float(mse_weight)
        self.feature_weight = float(feature_weight)

    def train(self, mode: bool = True):  # the classifier stays in eval mode (no dropout, fixed Ψ)
        super().train(mode)
        self.classifier.eval()
        return self

    def forward(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        return (self.mse_weight * squared_error(x, x_hat)
                + self.feature_weight * feature_squared_error(self.classifier.features, x, x_hat))
