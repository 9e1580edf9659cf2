"""Human pairwise preferences of the CLIC perceptual-metric track, scored as 2AFC agreement.

**What the data is.** CLIC ranks the codecs of its image-compression track by human raters, who see an
original crop ``O`` and the same crop decoded by two codecs, ``A`` and ``B``, and pick the one closer to ``O``.
The perceptual-metric track (CLIC 2021) published such triplets with the raters' choices: the validation set
(registry id ``clic2021-perceptual-valid``) holds, per the devkit README (github.com/fab-jul/clic2021-devkit,
"Perceptual Challenge"), 2730 PNG crops of 768×768 pixels and two CSV files without header:

* ``validation.csv``: rows ``O,A,B`` (paths of the original and the two decoded images);
* ``oracle.csv``: rows ``O,A,B,T`` where ``T = 0`` when raters preferred ``A`` (the pair ``<O,A>``) and
  ``T = 1`` otherwise. The organisers' ``eval_csv.py`` scores a metric by the fraction of rows whose
  predicted ``T`` equals the oracle's.

The 2021 test set and its oracle (registry id ``clic2021-perceptual-test``, MD5s published; about 50 GB) have
the same format; the oracle's file name inside its zip is not documented (load it with ``csv_name="*.csv"``).

**What is not known.** The layout inside the zip (a top folder or not) is not documented, so
:func:`load_clic_perceptual` searches the asset folder for the CSV and resolves image paths relative to it
(then to the asset folder, then by file name). The README does not say which year's submissions the
validation triplets come from. The PIM paper's CLIC 2020 result (Fig. 10) ranks the CLIC 2020 codecs by ELO
scores computed from the organisers' rater data, which is not published in that form; this module scores
the closest public CLIC human judgements, pairwise, not the paper's ranking experiment.

**Scoring.** A triplet ``(O, A, B)`` is a 2AFC triplet with ``ref = O``, ``p0 = A``, ``p1 = B``, and the
fraction of ratings preferring ``B`` is the 2AFC ``judge`` (:mod:`.two_afc`). Rows repeating a comparison
(the 2021 test oracle is unfiltered and may hold the same triplet with both labels), also with ``A`` and ``B``
swapped, are merged into one triplet whose ``judge`` is the fraction of its ratings that preferred ``B``.
The score is then :func:`.two_afc.two_afc_score`; with one rating per triplet and no tied distances it is
exactly the accuracy of ``eval_csv.py`` (a tie counts one half, where ``eval_csv.py`` would count the
metric's arbitrary tie-break).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from .two_afc import TwoAFCSet, _load_png, metric_distances, two_afc_score

__all__ = [
    "CLIC_ASSET",
    "CLICTriplets",
    "read_clic_csv",
    "merge_ratings",
    "load_clic_perceptual",
    "clic_distances",
    "score_clic",
]

CLIC_ASSET = "clic2021-perceptual-valid"


def read_clic_csv(path: str | Path) -> list[tuple[str, str, str, int]]:
    """Rows ``(O, A, B, T)`` of a CLIC oracle CSV (no header; ``T`` is 0 when ``A`` was preferred, else 1)."""
    rows = []
    with open(path, newline="") as f:
        for line_no, row in enumerate(csv.reader(f), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 4:
                raise ValueError(f"{path}:{line_no}: expected 4 columns O,A,B,T (an oracle CSV), found {len(row)}")
            o, a, b, t = (c.strip() for c in row)
            if t not in ("0", "1"):
                raise ValueError(f"{path}:{line_no}: the last column must be 0 or 1, found {t!r}")
            rows.append((o, a, b, int(t)))
    if not rows:
        raise ValueError(f"{path} holds no rows")
    return rows


def merge_ratings(rows: Sequence[tuple[str, str, str, int]]):
    """Merge repeated comparisons: returns ``(triplets, judge, counts)``.

    ``triplets`` lists each distinct ``(O, A, B)`` once, in order of first appearance (a row ``(O, B, A)``
    counts for ``(O, A, B)`` with its label flipped); ``judge[i]`` is the fraction of its ratings that preferred
    the second decoded image, ``counts[i]`` the number of ratings.
    """
    index: dict[tuple[str, str, str], int] = {}
    triplets: list[tuple[str, str, str]] = []
    prefer_b: list[int] = []
    counts: list[int] = []
    for o, a, b, t in rows:
        if (o, a, b) in index:
            i, vote = index[(o, a, b)], t
        elif (o, b, a) in index:
            i, vote = index[(o, b, a)], 1 - t
        else:
            i, vote = len(triplets), t
            index[(o, a, b)] = i
            triplets.append((o, a, b))
            prefer_b.append(0)
            counts.append(0)
        prefer_b[i] += vote
        counts[i] += 1
    c = np.asarray(counts, dtype=np.float64)
    return triplets, torch.from_numpy(np.asarray(prefer_b, dtype=np.float64) / c), torch.from_numpy(c)


@dataclass
class CLICTriplets:
    """CLIC comparisons: image paths (images are loaded lazily), ``judge`` = fraction preferring ``b``, ``counts``."""

    name: str
    original: list[Path]
    a: list[Path]
    b: list[Path]
    judge: torch.Tensor
    counts: torch.Tensor

    def __post_init__(self) -> None:
        n = len(self.original)
        if not (len(self.a) == len(self.b) == n and self.judge.shape == (n,) and self.counts.shape == (n,)):
            raise ValueError(f"{self.name}: original, a, b, judge and counts must have the same length")
        if bool(((self.judge < 0) | (self.judge > 1)).any()):
            raise ValueError(f"{self.name}: judge values must lie in [0, 1]")

    def __len__(self) -> int:
        return len(self.original)

    def subset(self, indices: Sequence[int]) -> "CLICTriplets":
        idx = [int(i) for i in indices]
        return CLICTriplets(self.name, [self.original[i] for i in idx], [self.a[i] for i in idx],
                            [self.b[i] for i in idx], self.judge[idx], self.counts[idx])

    def batches(self, batch_size: int = 8) -> Iterator[TwoAFCSet]:
        """Consecutive triplets as loaded :class:`TwoAFCSet` batches of at most ``batch_size`` equal-sized crops."""
        cached: tuple[Path | None, torch.Tensor | None] = (None, None)
        batch: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]] = []

        def flush():
            ref, p0, p1, idx = zip(*batch)
            return TwoAFCSet(self.name, torch.stack(ref), torch.stack(p0), torch.stack(p1), self.judge[list(idx)].float())

        for i in range(len(self)):
            if cached[0] != self.original[i]:       # consecutive rows usually share the original
                cached = (self.original[i], _load_png(self.original[i]))
            ref, p0, p1 = cached[1], _load_png(self.a[i]), _load_png(self.b[i])
            if not (ref.shape == p0.shape == p1.shape):
                raise ValueError(f"{self.name}: triplet {i} has images of different sizes "
                                 f"({tuple(ref.shape)}, {tuple(p0.shape)}, {tuple(p1.shape)})")
            if batch and (len(batch) == batch_size or batch[0][0].shape != ref.shape):
                yield flush()
                batch = []
            batch.append((ref, p0, p1, i))
        if batch:
            yield flush()


def _find_oracle(root: Path, csv_name: str) -> tuple[Path, list[tuple[str, str, str, int]]]:
    """The first file matching ``csv_name`` (a name or glob; shallowest first) that reads as an oracle CSV."""
    if root.is_file():
        return root, read_clic_csv(root)
    found = sorted(root.rglob(csv_name), key=lambda p: (len(p.parts), str(p)))
    rejected = []
    for path in found:
        try:
            return path, read_clic_csv(path)
        except ValueError as e:                 # e.g. validation.csv (three columns) under a glob
            rejected.append(f"{path.name}: {e}")
    raise FileNotFoundError(f"no {csv_name} with rows O,A,B,T under {root}: the CLIC perceptual data is a folder "
                            f"holding an oracle CSV and the PNG files it names" +
                            (f" (rejected {'; '.join(rejected[:3])})" if rejected else ""))


def _resolver(csv_path: Path, root: Path) -> Callable[[str], Path | None]:
    by_name: dict[str, Path] | None = None

    def resolve(name: str) -> Path | None:
        nonlocal by_name
        for base in (csv_path.parent, root):
            p = base / name
            if p.is_file():
                return p
        if by_name is None:
            by_name = {}
            for p in sorted(root.rglob("*.png")):
                by_name.setdefault(p.name, p)
        return by_name.get(Path(name).name)

    return resolve


def load_clic_perceptual(root: str | Path | None = None, *, csv_name: str = "oracle.csv",
                         limit: int | None = None) -> CLICTriplets:
    """CLIC human judgements from an oracle CSV under ``root`` (``None``: the registry asset ``clic2021-perceptual-valid``).

    ``csv_name`` is a file name or glob; the first match (shallowest first) with four columns is used, so
    ``csv_name="*.csv"`` finds the 2021 test oracle (``clic2021-perceptual-test``), whose name is not documented.
    ``limit`` keeps that many distinct triplets, evenly spaced over the file (deterministic). Raises
    :class:`perceptual_compression.assets.AssetUnavailableError` when the asset cannot be had and
    :class:`FileNotFoundError` naming the missing files when the CSV names images that are not there.
    """
    if root is None:
        from ..assets import resolve

        root = resolve(CLIC_ASSET)
    root = Path(root)
    csv_path, rows = _find_oracle(root, csv_name)
    base = root if root.is_dir() else csv_path.parent
    triplets, judge, counts = merge_ratings(rows)
    if limit is not None and limit < len(triplets):
        keep = np.unique(np.linspace(0, len(triplets) - 1, max(int(limit), 1)).round().astype(int))
        triplets, judge, counts = [triplets[i] for i in keep], judge[keep], counts[keep]
    resolve_path = _resolver(csv_path, base)
    paths = [[resolve_path(name) for name in t] for t in triplets]
    missing = sorted({name for t, ps in zip(triplets, paths) for name, p in zip(t, ps) if p is None})
    if missing:
        raise FileNotFoundError(f"{csv_path} names {len(missing)} image(s) not found under {base}, e.g. "
                                f"{', '.join(missing[:3])}")
    o, a, b = (list(col) for col in zip(*paths))
    return CLICTriplets(csv_path.parent.name or "clic", o, a, b, judge, counts)


def clic_distances(metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], data: CLICTriplets, *,
                   similarity: bool = False, batch_size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """``(d(O, A), d(O, B))`` for every triplet, loading the crops batch by batch (768×768 crops do not all fit in memory)."""
    d0, d1 = [], []
    for batch in data.batches(batch_size):
        a, b = metric_distances(metric, batch, similarity=similarity, batch_size=batch_size)
        d0.append(a)
        d1.append(b)
    return torch.cat(d0), torch.cat(d1)


def score_clic(metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], data: CLICTriplets, *,
               similarity: bool = False, batch_size: int = 8) -> float:
    """Agreement of ``metric`` with the CLIC raters: :func:`.two_afc.two_afc_score` over the merged triplets."""
    d0, d1 = clic_distances(metric, data, similarity=similarity, batch_size=batch_size)
    return two_afc_score(d0, d1, data.judge)
