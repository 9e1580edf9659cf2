"""Image sets: Kodak, scikit-image's bundled photographs ("embedded"), and any folder of images.

An :class:`ImageSet` is a sequence of RGB images of possibly different sizes. Indexing returns a float
tensor ``(3, H, W)`` in ``[0, 1]``; :meth:`ImageSet.uint8` returns the decoded bytes. Every set
carries a human-readable ``label`` that says where its images came from, and ``is_fallback`` /
``fallback_reason`` when it stands in for the set a chapter asked for. Chapters print the label
beside their results, so a reader always knows which images a number was computed on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from ..assets import AssetUnavailableError, locate
from ..params import check_choice

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".webp")

#: scikit-image's bundled colour photographs of natural scenes that load without network access
#: (files shipped inside the wheel; images that scikit-image downloads on demand are left out).
EMBEDDED_FILES = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
    "motorcycle_left": "motorcycle_left.png",
}

KODAK_NAMES = tuple(f"kodim{i:02d}" for i in range(1, 25))


def _load_rgb(path: Path) -> torch.Tensor:
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


#: image sets up to this size keep every decoded image in memory (folders larger than this, e.g. OpenImages, do not)
CACHE_ALL_UP_TO = 512


class ImageSet(Sequence):
    """A labeled, indexable set of RGB images (float ``(3, H, W)`` in ``[0, 1]``).

    Parameters
    ----------
    name:
        Short identifier (``"kodak"``, ``"embedded"``, a folder name).
    paths:
        Image files, in order.
    label:
        Human-readable provenance, e.g. ``"Kodak (24 images, local data directory …)"``.
    names:
        One name per image (default: file stems).
    is_fallback, fallback_reason:
        Set when this set stands in for one that could not be had (the reason is the
        :class:`~perceptual_compression.assets.AssetUnavailableError` message).
    cache:
        Keep decoded images in memory (as uint8) after the first access.
    """

    def __init__(
        self,
        name: str,
        paths: Sequence[str | Path],
        *,
        label: str,
        names: Sequence[str] | None = None,
        is_fallback: bool = False,
        fallback_reason: str | None = None,
        cache: bool = True,
    ):
        self.name = name
        self.paths = [Path(p) for p in paths]
        self.names = list(names) if names is not None else [p.stem for p in self.paths]
        if len(self.names) != len(self.paths):
            raise ValueError(f"{len(self.names)} names for {len(self.paths)} images")
        self.label = label
        self.is_fallback = bool(is_fallback)
        self.fallback_reason = fallback_reason
        self._cache_enabled = cache
        self._cache: dict[int, torch.Tensor] = {}

    # -- sequence protocol -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.paths)

    def _index(self, i: int) -> int:
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"ImageSet indices must be integers or slices, not {type(i).__name__}")
        n = len(self)
        j = int(i) + n if i < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"image index {i} out of range for {self.name} ({n} images)")
        return j

    def uint8(self, i: int) -> torch.Tensor:
        """Image ``i`` as decoded: uint8 ``(3, H, W)``."""
        j = self._index(i)
        if j in self._cache:
            return self._cache[j]
        img = _load_rgb(self.paths[j])
        if self._cache_enabled:
            self._cache[j] = img
        return img

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.subset(range(len(self))[i])
        return self.uint8(i).float().div_(255.0)

    def __iter__(self) -> Iterator[torch.Tensor]:
        for i in range(len(self)):
            yield self[i]

    # -- conveniences ------------------------------------------------------------------------------
    def size(self, i: int) -> tuple[int, int]:
        """``(H, W)`` of image ``i`` (read from the file header when not decoded yet)."""
        j = self._index(i)
        if j in self._cache:
            return tuple(self._cache[j].shape[1:])  # type: ignore[return-value]
        from PIL import Image

        with Image.open(self.paths[j]) as im:
            w, h = im.size
        return h, w

    @property
    def sizes(self) -> list[tuple[int, int]]:
        return [self.size(i) for i in range(len(self))]

    def subset(self, indices: int | Sequence[int]) -> "ImageSet":
        """The first ``n`` images (``int``) or the given indices, with the label saying so."""
        idx = list(range(min(indices, len(self)))) if isinstance(indices, int) else [self._index(i) for i in indices]
        sub = ImageSet(
            self.name,
            [self.paths[i] for i in idx],
            label=f"{self.label}; {len(idx)} of {len(self)} images used",
            names=[self.names[i] for i in idx],
            is_fallback=self.is_fallback,
            fallback_reason=self.fallback_reason,
            cache=self._cache_enabled,
        )
        sub._cache = {k: self._cache[i] for k, i in enumerate(idx) if i in self._cache}
        return sub

    def __repr__(self) -> str:
        extra = f", fallback: {self.fallback_reason}" if self.is_fallback else ""
        return f"ImageSet({self.name!r}, {len(self)} images, label={self.label!r}{extra})"


def image_folder(path: str | Path, *, name: str | None = None, label: str | None = None,
                 recursive: bool = False) -> ImageSet:
    """All images in a folder (sorted by relative path). Raises FileNotFoundError if there are none. Decoded images
    are kept in memory only for folders of up to :data:`CACHE_ALL_UP_TO` images."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {root}")
    names = [str(p.relative_to(root).with_suffix("")) for p in files]
    return ImageSet(name or root.name, files, names=names, cache=len(files) <= CACHE_ALL_UP_TO,
                    label=label or f"image folder {root} ({len(files)} images)")


def kodak(*, download: bool | None = None) -> ImageSet:
    """The 24 Kodak images through the asset registry (raises AssetUnavailableError when missing)."""
    r = locate("kodak", download=download)
    files = [r.path / f"{n}.png" for n in KODAK_NAMES]
    where = {"local": "local data directory", "cache": "cache", "download": "downloaded"}[r.source]
    check = "" if r.verified else ", unverified"
    return ImageSet("kodak", files, names=list(KODAK_NAMES),
                    label=f"Kodak (24 images, {where} {r.path}{check})")


def embedded_images() -> ImageSet:
    """scikit-image's bundled colour photographs (always available offline), labeled "embedded"."""
    import skimage.data

    root = Path(skimage.data.__file__).parent
    files = [root / f for f in EMBEDDED_FILES.values()]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:  # pragma: no cover - they ship inside the scikit-image wheel
        raise FileNotFoundError(f"scikit-image's bundled images are missing: {', '.join(missing)}")
    names = list(EMBEDDED_FILES)
    return ImageSet(
        "embedded", files, names=names,
        label=f"embedded scikit-image photographs ({len(files)} images: {', '.join(names)}; not Kodak)",
    )


def natural_images(prefer: str = "kodak", *, download: bool | None = None) -> ImageSet:
    """Kodak when it resolves, otherwise the embedded set with ``is_fallback=True`` and the reason.

    ``prefer="embedded"`` asks for the embedded set directly (then it is not a fallback).
    """
    check_choice("prefer", prefer, ["kodak", "embedded"])
    if prefer == "embedded":
        return embedded_images()
    try:
        return kodak(download=download)
    except AssetUnavailableError as exc:
        fallback = embedded_images()
        fallback.is_fallback = True
        fallback.fallback_reason = str(exc)
        fallback.label = f"{fallback.label} — fallback because Kodak is unavailable"
        return fallback
