"""MNIST from the original IDX gzip files, through the asset registry.

The IDX format (LeCun et al.): a big-endian header ``0x00 0x00 <type> <ndim>`` (type 0x08 = unsigned
byte), then ``ndim`` big-endian uint32 dimensions, then the data. Images are ``0x00000803``
(``N × 28 × 28``), labels ``0x00000801`` (``N``). The parser checks the magic number, the shape and
that the payload has exactly the announced length, and that images and labels agree in count.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..assets import resolve
from ..params import check_choice

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGE_MAGIC = 0x00000803
LABEL_MAGIC = 0x00000801


class IDXFormatError(ValueError):
    """An IDX file does not have the expected magic number, shape or length."""


def read_idx(path: str | Path, *, magic: int, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
    """Parse a (gzipped) IDX file of unsigned bytes; validate magic, trailing shape and length."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise IDXFormatError(f"{path}: cannot read ({exc})") from exc
    if len(data) < 4:
        raise IDXFormatError(f"{path}: {len(data)} bytes, too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise IDXFormatError(f"{path}: magic number 0x{found:08x}, expected 0x{magic:08x}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXFormatError(f"{path}: truncated header")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if shape_tail and tuple(dims[1:]) != shape_tail:
        raise IDXFormatError(f"{path}: shape {dims}, expected (N, {', '.join(map(str, shape_tail))})")
    expected = int(np.prod(dims)) if dims else 0
    if len(data) - header != expected:
        raise IDXFormatError(f"{path}: {len(data) - header} data bytes, header announces {expected} for shape {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


@lru_cache(maxsize=4)
def _load(directory: str, split: str, stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    img_name, lbl_name = FILES[split]
    images = read_idx(Path(directory) / img_name, magic=IMAGE_MAGIC, shape_tail=(28, 28))
    labels = read_idx(Path(directory) / lbl_name, magic=LABEL_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise IDXFormatError(f"{directory}: {images.shape[0]} {split} images but {labels.shape[0]} labels")
    if labels.size and labels.max() > 9:
        raise IDXFormatError(f"{directory}/{lbl_name}: label {labels.max()} outside 0..9")
    return images, labels


def mnist(split: str = "train", *, download: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split`` ("train" or "test"): uint8 images ``(N, 28, 28)`` and int64 labels ``(N,)``.

    The files come from the asset registry (``resolve("mnist")``), which verifies them; parsing is
    memoized per process and each call returns fresh tensors.
    """
    check_choice("split", split, list(FILES))
    directory = resolve("mnist", download=download)
    stamp = tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in (directory / f for f in FILES[split]))
    images, labels = _load(str(directory), split, stamp)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


class MNIST(Dataset):
    """MNIST as a torch Dataset: ``(image float (1, 28, 28) in [0, 1], label int)``.

    ``transform`` (optional) is applied to the float image tensor.
    """

    def __init__(self, split: str = "train", *, transform=None, download: bool | None = None):
        self.split = split
        self.images, self.labels = mnist(split, download=download)
        self.transform = transform

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int):
        x = self.images[i].unsqueeze(0).float().div_(255.0)
        if self.transform is not None:
            x = self.transform(x)
        return x, int(self.labels[i])
