"""TID2013 (Ponomarenko et al., 2015): 25 reference images, 3000 distorted ones, mean opinion scores.

Resolved through the asset registry (``resolve("tid2013")``: a local data directory, the cache, or the
official archive). The archive holds ``reference_images/I01.BMP`` .. ``I25.BMP``,
``distorted_images/iXX_TT_L.bmp`` (reference ``XX``, distortion type ``TT`` = 01..24, level ``L`` = 1..5)
and ``mos_with_names.txt`` (``"<MOS> <file name>"`` per line; higher MOS = better quality).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

_NAME = re.compile(r"^i(\d\d)_(\d\d)_(\d)\.bmp$", re.IGNORECASE)


@dataclass(frozen=True)
class TIDEntry:
    """One distorted image: its file, reference index (0-based), distortion type (1..24), level (1..5), MOS."""

    path: Path
    reference: int
    kind: int
    level: int
    mos: float


def _load(path: Path) -> torch.Tensor:
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0


class TID2013:
    """The TID2013 table: :attr:`entries` (distorted images with MOS) and :meth:`reference` images."""

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        hits = sorted(root.rglob("mos_with_names.txt"), key=lambda p: len(p.parts))
        if not hits:
            raise FileNotFoundError(f"no mos_with_names.txt under {root}: not an extracted TID2013 archive")
        self.root = hits[0].parent
        self.entries: list[TIDEntry] = []
        for line in hits[0].read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) != 2:
                continue
            mos, name = float(parts[0]), parts[1]
            m = _NAME.match(name)
            if not m:
                raise ValueError(f"unexpected TID2013 file name {name!r} in {hits[0]}")
            self.entries.append(TIDEntry(self._find("distorted_images", name), int(m.group(1)) - 1,
                                         int(m.group(2)), int(m.group(3)), mos))
        if not self.entries:
            raise ValueError(f"{hits[0]} lists no images")
        self.label = f"TID2013 ({len(self.entries)} distorted images with MOS, {self.root})"

    def _find(self, folder: str, name: str) -> Path:
        for cand in (self.root / folder / name, self.root / folder / name.lower(), self.root / folder / name.upper()):
            if cand.is_file():
                return cand
        return self.root / folder / name  # reported when loaded

    def reference(self, index: int) -> torch.Tensor:
        """Reference image ``index`` (0-based) as ``(3, H, W)`` in ``[0, 1]``."""
        return _load(self._find("reference_images", f"I{index + 1:02d}.BMP"))

    def image(self, entry: TIDEntry) -> torch.Tensor:
        """A distorted image as ``(3, H, W)`` in ``[0, 1]``."""
        return _load(entry.path)

    def __len__(self) -> int:
        return len(self.entries)


def tid2013(*, download: bool | None = None) -> TID2013:
    """TID2013 through the asset registry; raises :class:`~perceptual_compression.assets.AssetUnavailableError`."""
    from ..assets import resolve

    return TID2013(resolve("tid2013", download=download))
