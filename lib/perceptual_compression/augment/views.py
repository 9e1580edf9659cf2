"""Training pairs for the invariance objectives (Dubois et al. 2021, Sec. 4 and Fig. 4).

For a datapoint ``x`` and augmentation ``A``:

==========  =====================  ==========================================================
objective   encoder input          second element of the pair
==========  =====================  ==========================================================
VC          ``A(x)``               ``A(x)`` (reconstruct the input)
VIC         ``A(x)``               ``x`` — the unaugmented input (eq. 8); with the supervised
                                   augmentation, the fixed representative of ``x``'s label
BINCE       ``A(x)``               an independent ``A(x)`` (the positive of Algorithm 1)
==========  =====================  ==========================================================

:class:`ImageViews` draws these pairs from an image set with an affine augmentation and, optionally, the
supervised (label) augmentation; :func:`banana_pair` does the same for the banana source.
"""

from __future__ import annotations

import torch

from ..sources.banana import Banana, maximal_invariant, random_rotation, representative
from .mnist import RandomAffine
from .supervised import LabelAugmentation

OBJECTIVES = ("VC", "VIC", "BINCE")


def _check(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective={objective!r} is not valid; valid values are: "
                         + ", ".join(repr(o) for o in OBJECTIVES))


class ImageViews:
    """Pairs for VC / VIC / BINCE from ``images`` (``(N, C, H, W)`` float) and ``labels``.

    ``affine=None`` applies no geometric augmentation; ``supervised=True`` composes it with the label
    augmentation (``A(x)`` = an augmented random training image with ``x``'s label).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, affine: RandomAffine | None,
                 supervised: bool = False, representative_seed: int = 123) -> None:
        if images.dim() != 4 or len(images) != len(labels):
            raise ValueError("images must be (N, C, H, W) with one label each")
        self.images = images
        self.labels = torch.as_tensor(labels).long()
        self.affine = affine
        self.labels_aug = LabelAugmentation(self.labels, representative_seed=representative_seed) if supervised else None

    def _augment(self, idx: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if self.labels_aug is not None:
            idx = self.labels_aug.indices_like(self.labels[idx], generator)
        x = self.images[idx]
        return self.affine(x, generator) if self.affine is not None else x.clone()

    def pair(self, objective: str, batch_size: int, generator: torch.Generator | None = None,
             indices: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One minibatch ``(encoder input, target or positive)`` for ``objective``."""
        _check(objective)
        idx = indices if indices is not None else torch.randint(len(self.images), (batch_size,), generator=generator)
        x_in = self._augment(idx, generator)
        if objective == "VC":
            return x_in, x_in
        if objective == "VIC":
            if self.labels_aug is not None:
                return x_in, self.images[self.labels_aug.representative_indices(self.labels[idx])]
            return x_in, self.images[idx]
        return x_in, self._augment(idx, generator)

    def augmented(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One augmented copy of every image (e.g. a fixed augmented test set)."""
        return self._augment(torch.arange(len(self.images)), generator)


def banana_pair(source: Banana, objective: str, n: int, generator: torch.Generator | None = None,
                *, augment_vc: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Banana pairs. VIC: ``(A(x), representative(|x|))`` with ``A`` a uniform rotation; VC: ``(x, x)``.

    The authors' standard compressor on the banana codes the unrotated source (``augment_vc=False``);
    ``augment_vc=True`` makes it code and reconstruct ``A(x)`` instead.
    """
    if objective not in ("VC", "VIC"):
        raise ValueError(f"objective={objective!r} is not valid for the banana; valid values are: 'VC', 'VIC'")
    x = source.sample(n, generator)
    if objective == "VIC":
        return random_rotation(x, generator), representative(maximal_invariant(x))
    if augment_vc:
        xa = random_rotation(x, generator)
        return xa, xa
    return x, x
