"""Supervised augmentation (Dubois et al. 2021, Sec. 5.1 "Can we recover the optimal bit-rate?").

``A(x)`` returns a random training example with the same label as ``x``. The equivalence classes are
then the classes of the label, the label ``Y`` is a maximal invariant, and the optimal rate for lossless
prediction is ``H[Y]`` (``log2 10 ≈ 3.32`` bits for balanced MNIST). VIC reconstructs a fixed
representative of each class (one unaugmented training image per label, chosen with a fixed seed, as in
the authors' code); BINCE uses two independent draws of ``A`` as a positive pair.
"""

from __future__ import annotations

import math

import torch


class LabelAugmentation:
    """``A(x)`` = a uniformly random training example whose label equals ``x``'s label.

    Parameters
    ----------
    labels:
        Integer labels of the training examples, shape ``(N,)``.
    representative_seed:
        Seed that fixes the representative (canonical) example of each class.
    """

    def __init__(self, labels: torch.Tensor, *, representative_seed: int = 123) -> None:
        labels = torch.as_tensor(labels).long()
        if labels.dim() != 1 or labels.numel() == 0:
            raise ValueError("labels must be a non-empty 1-D tensor")
        self.labels = labels
        self.classes = torch.unique(labels)
        self._members = {int(c): torch.nonzero(labels == c).flatten() for c in self.classes}
        g = torch.Generator().manual_seed(representative_seed)
        self.representative_index = {
            c: int(idx[torch.randint(len(idx), (1,), generator=g)]) for c, idx in self._members.items()
        }

    def indices_like(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """For each label in ``y``, the index of a random training example with that label."""
        y = torch.as_tensor(y).long()
        out = torch.empty_like(y)
        for c in torch.unique(y).tolist():
            if c not in self._members:
                raise ValueError(f"label {c} does not occur in the training labels")
            where = torch.nonzero(y == c).flatten()
            members = self._members[c]
            pick = torch.randint(len(members), (len(where),), generator=generator)
            out[where] = members[pick]
        return out

    def representative_indices(self, y: torch.Tensor) -> torch.Tensor:
        """The index of the fixed representative of each label in ``y``."""
        return torch.tensor([self.representative_index[int(c)] for c in torch.as_tensor(y).tolist()],
                            dtype=torch.long)

    def label_entropy_bits(self) -> float:
        """``H[Y]`` of the empirical label distribution, in bits (the optimal rate for this augmentation)."""
        counts = torch.bincount(self.labels).double()
        p = counts[counts > 0] / counts.sum()
        return float(-(p * torch.log2(p)).sum())


def uniform_label_entropy_bits(num_classes: int) -> float:
    """``log2 K``: ``H[Y]`` for ``K`` equally likely classes (``log2 10 ≈ 3.32`` for MNIST)."""
    return math.log2(num_classes)
