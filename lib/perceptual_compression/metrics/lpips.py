r"""LPIPS (Zhang et al. 2018), the learned perceptual image patch similarity, on the ``lpips`` package.

.. math::
    d(x, \hat x) = \sum_l \frac{1}{H_l W_l} \sum_{h,w} \sum_c
        w_{l,c} \big(\hat f^l_{hwc}(x) - \hat f^l_{hwc}(\hat x)\big)^2,
    \qquad \hat f^l_{hw} = \frac{f^l_{hw}}{\sqrt{\|f^l_{hw}\|_2^2 + \epsilon}}

:math:`f^l` are the activations of layer :math:`l` of an ImageNet classifier trunk (AlexNet, VGG16 or
SqueezeNet 1.1), unit-normalised along channels; :math:`w_{l,c} \ge 0` are the linear calibration weights
fitted by Zhang et al. on human 2AFC judgements ("lin" variant; the paper writes them as
:math:`\|w_l \odot \Delta\|^2`, i.e. the square roots of these), or all ones (``lin=False``, the plain
variant). PIM's calibration (Bhardwaj et al. 2020) compares both: ``LPIPS-Alex-lin`` and ``LPIPS-Alex``.

Where the pieces come from
--------------------------
* The trunk architecture and its layer slicing, the input scaling layer and the calibrated linear weights
  (``weights/v0.1/*.pth``, shipped inside the ``lpips`` wheel) come from the ``lpips`` package.
* The trunk's ImageNet weights come from the asset registry (ids ``torchvision-alexnet``,
  ``torchvision-vgg16``, ``torchvision-squeezenet1_1``: torchvision's files). The trunk is built with
  random weights (so neither lpips nor torchvision ever downloads anything) and the registry's state dict
  is loaded into it. Missing weights raise the registry's ``AssetUnavailableError`` (one line);
  ``LPIPS.available("alex")`` answers without raising, so chapters can label their fallback.
* ``backbone=`` injects any module that maps the scaled image to a sequence of feature maps (tests use a
  tiny stand-in; with ``lin=True`` its channel counts must equal the real trunk's).

Conventions
-----------
* Inputs in [0, 1], ``(B, 3, H, W)``; mapped to [-1, 1] inside (lpips' ``normalize=True``). Per-image
  output ``(B,)``; 0 for identical images.
* Numerically safe gradients: the lpips package normalises with ``f / (||f|| + 1e-10)``, whose square
  root has an infinite derivative where a feature vector is exactly zero (common after a ReLU), giving
  NaN gradients (lpips issue #69). Here :math:`\epsilon` sits inside the square root, as NeuralCompression's
  ``NormFixLPIPS`` does for its MS-ILLM training loss, so gradients are finite everywhere, including at
  :math:`\hat x = x`. Values differ from the package's by far less than its printed precision.
* The module is always in eval mode (the lin layers' dropout is never active) and its parameters are frozen;
  gradients flow to the images only.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ._images import as_pair
from ._weights import resolve_weights, weights_available

__all__ = ["LPIPS", "LPIPS_TRUNKS"]

#: lpips trunk name -> registry id of its torchvision ImageNet weights, layer channels, display name.
LPIPS_TRUNKS: dict[str, dict] = {
    "alex": {"asset": "torchvision-alexnet", "channels": (64, 192, 384, 256, 256), "name": "Alex"},
    "vgg": {"asset": "torchvision-vgg16", "channels": (64, 128, 256, 512, 512), "name": "VGG"},
    "squeeze": {
        "asset": "torchvision-squeezenet1_1",
        "channels": (64, 128, 256, 384, 384, 512, 512),
        "name": "Squeeze",
    },
}
_ALIASES = {"alexnet": "alex", "vgg16": "vgg", "squeezenet": "squeeze", "squeezenet1_1": "squeeze"}


def _canonical(net: str) -> str:
    key = _ALIASES.get(net, net)
    if key not in LPIPS_TRUNKS:
        raise ValueError(f"net must be one of {sorted(LPIPS_TRUNKS)}, got {net!r}")
    return key


def _random_trunk(net: str) -> nn.Module:
    """lpips' sliced trunk with random weights: torchvision builds it without touching the network."""
    from lpips import pretrained_networks as pn

    builder = {"alex": pn.alexnet, "vgg": pn.vgg16, "squeeze": pn.squeezenet}[net]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's deprecation notice for ``pretrained=``
        return builder(pretrained=False, requires_grad=False)


def load_trunk_weights(trunk: nn.Module, path: str | os.PathLike, net: str) -> nn.Module:
    """Load a torchvision classifier state dict (``features.<i>.…`` keys) into lpips' sliced trunk
    (``slice<k>.<i>.…`` keys: the slices keep torchvision's layer indices). Classifier keys are ignored."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    mapped = {}
    for key in trunk.state_dict():
        source = "features." + key.split(".", 1)[1]
        if source not in state:
            raise ValueError(f"{path} is not a torchvision {net} state dict: key {source!r} is missing")
        mapped[key] = state[source]
    try:
        trunk.load_state_dict(mapped, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path} does not match the torchvision {net} architecture: {err}") from None
    return trunk


def _calibrated_linear_layers(net: str) -> nn.ModuleList:
    """The 1x1 linear calibration layers of lpips v0.1, with the weights shipped in the lpips package."""
    import lpips

    channels = LPIPS_TRUNKS[net]["channels"]
    lins = nn.ModuleList(lpips.NetLinLayer(c, use_dropout=True) for c in channels)
    path = Path(lpips.__file__).resolve().parent / "weights" / "v0.1" / f"{net}.pth"
    state = torch.load(path, map_location="cpu", weights_only=True)
    lins.load_state_dict({k.replace("lin", "", 1): v for k, v in state.items()}, strict=True)
    return lins


class LPIPS(nn.Module):
    """LPIPS distance module: ``LPIPS("alex")(x, x_hat) -> Tensor[B]`` for images in [0, 1].

    net: ``"alex"`` (default; MS-ILLM's training loss and evaluation), ``"vgg"`` or ``"squeeze"``.
    lin: use the calibrated linear layers (``LPIPS-<Net>-lin``, the standard LPIPS) or plain channel sums.
    backbone: a stand-in trunk (tests, experiments); it receives the lpips-scaled image and returns a
        sequence of ``(B, C_l, H_l, W_l)`` feature maps. Without it the trunk weights come from the registry.
    weights: an explicit torchvision state-dict file for the trunk instead of the registry.
    eps: the constant inside the square root of the channel normalisation.
    """

    def __init__(
        self,
        net: str = "alex",
        *,
        lin: bool = True,
        backbone: nn.Module | None = None,
        weights: str | os.PathLike | None = None,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        import lpips

        self.net = _canonical(net)
        self.lin = bool(lin)
        self.eps = float(eps)
        self.stand_in = backbone is not None
        self.scaling = lpips.ScalingLayer()
        if backbone is None:
            path = weights if weights is not None else resolve_weights(LPIPS_TRUNKS[self.net]["asset"])
            self.trunk = load_trunk_weights(_random_trunk(self.net), path, self.net)
        else:
            if weights is not None:
                raise ValueError("pass either backbone= or weights=, not both")
            self.trunk = backbone
        self.lins = _calibrated_linear_layers(self.net) if self.lin else None
        self.requires_grad_(False)
        super().train(False)

    @staticmethod
    def available(net: str = "alex") -> bool:
        """Whether the trunk weights for ``net`` resolve locally (no download is attempted)."""
        return weights_available(LPIPS_TRUNKS[_canonical(net)]["asset"])

    @staticmethod
    def asset_id(net: str = "alex") -> str:
        """Registry id of the trunk weights of ``net``."""
        return LPIPS_TRUNKS[_canonical(net)]["asset"]

    @property
    def label(self) -> str:
        """``"LPIPS-Alex-lin"``, ``"LPIPS-Alex"``, … (``" (stand-in backbone)"`` appended when injected)."""
        name = f"LPIPS-{LPIPS_TRUNKS[self.net]['name']}" + ("-lin" if self.lin else "")
        return name + (" (stand-in backbone)" if self.stand_in else "")

    def train(self, mode: bool = True) -> "LPIPS":
        """LPIPS is a fixed metric: it stays in eval mode whatever ``mode`` is asked for."""
        return super().train(False)

    def _normalise(self, f: Tensor) -> Tensor:
        return f / torch.sqrt(f.pow(2).sum(dim=1, keepdim=True) + self.eps)

    def _features(self, x: Tensor) -> Sequence[Tensor]:
        feats = self.trunk(self.scaling(2.0 * x - 1.0))
        if isinstance(feats, Tensor):
            feats = (feats,)
        feats = tuple(feats)
        if self.lins is not None:
            expected = LPIPS_TRUNKS[self.net]["channels"]
            got = tuple(int(f.shape[1]) for f in feats)
            if got != expected:
                raise ValueError(
                    f"the trunk returned feature maps with channels {got}, but the calibrated linear layers of "
                    f"LPIPS-{LPIPS_TRUNKS[self.net]['name']} expect {expected}; use lin=False for other trunks"
                )
        return feats

    def layer_distances(self, x: Tensor, x_hat: Tensor) -> Tensor:
        """Per-layer contributions, shape ``(B, L)``; their sum over ``L`` is the LPIPS distance."""
        x, x_hat = as_pair(x, x_hat)
        f0, f1 = self._features(x), self._features(x_hat)
        out = []
        for k, (a, b) in enumerate(zip(f0, f1)):
            diff = (self._normalise(a) - self._normalise(b)).pow(2)
            per_pixel = self.lins[k](diff) if self.lins is not None else diff.sum(dim=1, keepdim=True)
            out.append(per_pixel.mean(dim=(1, 2, 3)))
        return torch.stack(out, dim=1)

    def forward(self, x: Tensor, x_hat: Tensor) -> Tensor:
        """LPIPS distance per image, shape ``(B,)``; images in [0, 1]."""
        return self.layer_distances(x, x_hat).sum(dim=1)
