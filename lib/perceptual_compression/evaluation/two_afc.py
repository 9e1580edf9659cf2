"""Two-alternative forced choice (2AFC) agreement of a metric with human judgements (BAPPS, Zhang et al. 2018).

Each 2AFC triplet holds a reference patch and two distorted versions ``p0`` and ``p1``; ``judge`` is
the fraction of human raters who found ``p1`` closer to the reference. A metric with distances
``d0 = d(ref, p0)``, ``d1 = d(ref, p1)`` scores, per triplet, the fraction of raters it agrees with:

.. math::

   s = \\mathbb 1[d_1 < d_0]\\, j + \\mathbb 1[d_0 < d_1]\\, (1 - j) + \\tfrac12\\, \\mathbb 1[d_0 = d_1],

and the 2AFC score is the mean of :math:`s` (the measure of the LPIPS paper and of PIM's Table 1).
A metric that agrees with the majority on every triplet reaches the "human" ceiling
:math:`\\mathbb E[\\max(j, 1 - j)]`, which :func:`human_ceiling` reports.

BAPPS' validation set comes through the asset registry (id ``bapps-2afc-val``); its directory holds
one folder per subset (traditional, cnn, superres, deblur, color, frameinterp) with ``ref/``, ``p0/``,
``p1/`` (PNG) and ``judge/`` (NumPy ``.npy``) sub-folders of matching file names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from PIL import Image

__all__ = [
    "BAPPS_2AFC_SUBSETS",
    "TwoAFCSet",
    "two_afc_agreement",
    "two_afc_score",
    "human_ceiling",
    "metric_distances",
    "score_metric",
    "load_2afc_dir",
    "find_2afc_subsets",
    "load_bapps_2afc",
]

BAPPS_2AFC_SUBSETS = ("traditional", "cnn", "superres", "deblur", "color", "frameinterp")
_IMAGE_DIRS = ("ref", "p0", "p1")


@dataclass
class TwoAFCSet:
    """A 2AFC set: ``ref``, ``p0``, ``p1`` (N, 3, H, W) in [0, 1] and ``judge`` (N,) in [0, 1]."""

    name: str
    ref: torch.Tensor
    p0: torch.Tensor
    p1: torch.Tensor
    judge: torch.Tensor

    def __post_init__(self) -> None:
        n = self.ref.shape[0]
        if not (self.p0.shape == self.p1.shape == self.ref.shape):
            raise ValueError(f"{self.name}: ref, p0 and p1 must have the same shape")
        if self.judge.shape != (n,):
            raise ValueError(f"{self.name}: judge must have shape ({n},), got {tuple(self.judge.shape)}")
        if bool(((self.judge < 0) | (self.judge > 1)).any()):
            raise ValueError(f"{self.name}: judge values must lie in [0, 1]")

    def __len__(self) -> int:
        return self.ref.shape[0]


def two_afc_agreement(d0, d1, judge) -> np.ndarray:
    """Per-triplet agreement with the raters (see the module docstring)."""
    d0, d1, j = (np.asarray(torch.as_tensor(v).detach().cpu().double()).reshape(-1) for v in (d0, d1, judge))
    if not (d0.shape == d1.shape == j.shape):
        raise ValueError("d0, d1 and judge must have the same length")
    return (d1 < d0) * j + (d0 < d1) * (1.0 - j) + (d0 == d1) * 0.5


def two_afc_score(d0, d1, judge) -> float:
    """Mean agreement: the 2AFC score (in [0, 1]; the papers print it in percent)."""
    return float(two_afc_agreement(d0, d1, judge).mean())


def human_ceiling(judge) -> float:
    """Score of an oracle that always sides with the majority: ``mean(max(j, 1 - j))``."""
    j = np.asarray(torch.as_tensor(judge).double()).reshape(-1)
    return float(np.maximum(j, 1.0 - j).mean())


def metric_distances(metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], data: TwoAFCSet, *,
                     similarity: bool = False, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances ``(d0, d1)`` of ``metric(ref, p) -> Tensor[B]`` on a set, batched; similarities are negated."""
    d0, d1 = [], []
    with torch.no_grad():
        for i in range(0, len(data), batch_size):
            sl = slice(i, i + batch_size)
            d0.append(torch.as_tensor(metric(data.ref[sl], data.p0[sl])).reshape(-1).double().cpu())
            d1.append(torch.as_tensor(metric(data.ref[sl], data.p1[sl])).reshape(-1).double().cpu())
    a, b = torch.cat(d0), torch.cat(d1)
    return (-a, -b) if similarity else (a, b)


def score_metric(metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], data: TwoAFCSet, *,
                 similarity: bool = False, batch_size: int = 64) -> float:
    """2AFC score of ``metric(ref, p) -> Tensor[B]``; ``similarity=True`` for scores where larger means closer (MS-SSIM)."""
    d0, d1 = metric_distances(metric, data, similarity=similarity, batch_size=batch_size)
    return two_afc_score(d0, d1, data.judge)


def _load_png(path: Path) -> torch.Tensor:
    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)


def load_2afc_dir(path: str | Path, name: str | None = None, limit: int | None = None) -> TwoAFCSet:
    """Load one 2AFC subset folder (``ref/``, ``p0/``, ``p1/`` PNGs and ``judge/*.npy`` with matching stems)."""
    path = Path(path)
    missing = [d for d in (*_IMAGE_DIRS, "judge") if not (path / d).is_dir()]
    if missing:
        raise FileNotFoundError(f"{path} is not a 2AFC folder: it lacks {', '.join(missing)}/")
    stems = sorted(p.stem for p in (path / "judge").glob("*.npy"))
    if limit is not None:
        stems = stems[:limit]
    if not stems:
        raise FileNotFoundError(f"{path}/judge holds no .npy files")
    images = {d: torch.stack([_load_png(path / d / f"{s}.png") for s in stems]) for d in _IMAGE_DIRS}
    judge = torch.tensor([float(np.load(path / "judge" / f"{s}.npy").reshape(-1)[0]) for s in stems])
    return TwoAFCSet(name or path.name, images["ref"], images["p0"], images["p1"], judge)


def find_2afc_subsets(root: str | Path) -> dict[str, Path]:
    """Every folder under ``root`` (the folder itself included) that has ref/, p0/, p1/ and judge/ sub-folders."""
    root = Path(root)
    found = {}
    for judge in sorted(root.rglob("judge")):
        parent = judge.parent
        if judge.is_dir() and all((parent / d).is_dir() for d in _IMAGE_DIRS):
            found[parent.name] = parent
    return found


def load_bapps_2afc(root: str | Path | None = None, subsets: Sequence[str] | None = None,
                    limit: int | None = None) -> Mapping[str, TwoAFCSet]:
    """BAPPS 2AFC validation subsets. ``root=None`` resolves the registry asset ``bapps-2afc-val``.

    Raises :class:`perceptual_compression.assets.AssetUnavailableError` when it cannot be had.
    """
    if root is None:
        from ..assets import resolve

        root = resolve("bapps-2afc-val")
    found = find_2afc_subsets(root)
    wanted = list(subsets) if subsets is not None else [s for s in BAPPS_2AFC_SUBSETS if s in found]
    missing = [s for s in wanted if s not in found]
    if missing or not wanted:
        raise FileNotFoundError(f"2AFC subsets {missing or list(BAPPS_2AFC_SUBSETS)} not found under {root}")
    return {s: load_2afc_dir(found[s], s, limit) for s in wanted}
