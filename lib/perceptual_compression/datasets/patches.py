"""Random training patches over any image set: crops (or random-resized crops) and horizontal flips.

Randomness is a pure function of ``(seed, index)`` (NumPy's ``SeedSequence``), so a patch does not
depend on the order in which a DataLoader's workers ask for it, and two datasets with the same seed
give the same patches. :meth:`PatchDataset.batch` draws ``(B, 3, size, size)`` batches from a separate
seeded stream for training loops that do not need a DataLoader; ``state_dict`` / ``load_state_dict`` save
and restore where that stream stands (the :class:`~perceptual_compression.training.Trainer` does so in its
checkpoints when the dataset is one of its ``streams``).

Images smaller than the patch are handled as ``small`` says: ``"error"`` (default: a ValueError that
names the images), ``"upscale"`` (resize so that the shorter side equals the patch size, bilinear with
antialiasing), ``"reflect"`` (mirror-pad up to the patch size) or ``"torchvision-reflect"`` (mirror-pad *each*
side of a short dimension by its shortfall, as torchvision's ``RandomCrop(pad_if_needed=True,
padding_mode="reflect")`` does, the MS-ILLM reference's training crop).

Prepared images (float, enlarged or padded) are kept in memory for sets of up to
:data:`~perceptual_compression.datasets.images.CACHE_ALL_UP_TO` images; larger sets (a folder of OpenImages)
keep only the last two, so that memory stays bounded.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..params import check_choice, check_range
from . import images as _images
from .images import ImageSet

SMALL_MODES = ("error", "upscale", "reflect", "torchvision-reflect")
ORDERS = ("cycle", "shuffle")
_RECENT = 2  # prepared images kept for sets larger than CACHE_ALL_UP_TO (a patch's params and pixels read it twice)


@dataclass(frozen=True)
class PatchParams:
    """Where a patch comes from: image index, crop box in the (possibly enlarged) image, flip."""

    image: int
    top: int
    left: int
    height: int
    width: int
    flip: bool


class PatchDataset(Dataset):
    """Random patches ``(3, size, size)`` in ``[0, 1]`` over an image set.

    Parameters
    ----------
    images:
        An :class:`~perceptual_compression.datasets.ImageSet` or a sequence of image tensors
        ``(3, H, W)`` (float in [0, 1] or uint8).
    size:
        Patch side in pixels.
    flip:
        Flip horizontally with probability 1/2.
    random_resized:
        Crop a random area fraction in ``scale`` with aspect ratio in ``ratio`` and resize it to
        ``size`` (as torchvision's RandomResizedCrop); otherwise crop ``size × size`` at a random place.
    small:
        What to do with images smaller than ``size`` (plain crops only): "error", "upscale", "reflect",
        "torchvision-reflect".
    length:
        Number of patches per epoch (``__len__``); default one per image.
    order:
        Which image index ``i`` uses: ``"cycle"``, image ``i mod N`` (N images); ``"shuffle"``, a fresh seeded
        permutation of the images for every run of N indices (a DataLoader's ``shuffle=True`` epochs).
    order_seed:
        Seed of those permutations (default ``seed``): datasets that share it visit the images in the same order.
    seed:
        Seed of all randomness. ``None`` draws one from torch's global generator (so
        ``training.seed_everything`` makes it reproducible too).
    """

    def __init__(
        self,
        images,
        size: int,
        *,
        flip: bool = True,
        random_resized: bool = False,
        scale: tuple[float, float] = (0.25, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        small: str = "error",
        length: int | None = None,
        seed: int | None = None,
        order: str = "cycle",
        order_seed: int | None = None,
    ):
        check_range("size", size, 1, integer=True)
        check_choice("small", small, SMALL_MODES)
        self.order = check_choice("order", order, ORDERS)
        if not (0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f"scale={scale} must satisfy 0 < low <= high <= 1")
        if not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"ratio={ratio} must satisfy 0 < low <= high")
        if len(images) == 0:
            raise ValueError("PatchDataset needs at least one image")
        self.images = images
        self.size = int(size)
        self.flip = bool(flip)
        self.random_resized = bool(random_resized)
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.small = small
        self.length = int(length) if length is not None else len(images)
        check_range("length", self.length, 1, integer=True)
        self.seed = int(seed) if seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
        self._prepared: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._cache_size = len(images) if len(images) <= _images.CACHE_ALL_UP_TO else _RECENT
        self._perms: OrderedDict[int, np.ndarray] = OrderedDict()  # the last few epochs' permutations
        self.order_seed = self.seed if order_seed is None else int(order_seed)
        self._batch_rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1]))
        if not self.random_resized and small == "error":
            too_small = [
                f"{self._name(i)} ({h}x{w})" for i, (h, w) in enumerate(self._sizes()) if h < self.size or w < self.size
            ]
            if too_small:
                raise ValueError(
                    f"{len(too_small)} image(s) are smaller than the {self.size}x{self.size} patch: "
                    f"{', '.join(too_small[:5])}{' …' if len(too_small) > 5 else ''}. Use small='upscale' or "
                    "small='reflect', random_resized=True, or a smaller size."
                )

    # -- images ------------------------------------------------------------------------------------
    def _name(self, i: int) -> str:
        names = getattr(self.images, "names", None)
        return names[i] if names is not None else f"image {i}"

    def _sizes(self) -> list[tuple[int, int]]:
        if isinstance(self.images, ImageSet):
            return [tuple(self.images.size(i)) for i in range(len(self.images))]
        return [tuple(img.shape[-2:]) for img in self.images]

    def _raw(self, i: int) -> torch.Tensor:
        img = self.images.uint8(i) if isinstance(self.images, ImageSet) else self.images[i]
        if img.ndim != 3 or img.shape[0] != 3:
            raise ValueError(f"{self._name(i)}: expected an image (3, H, W), got shape {tuple(img.shape)}")
        return img

    def _image(self, i: int) -> torch.Tensor:
        """Image ``i`` as float [0, 1], enlarged/padded as ``small`` says (cached)."""
        if i in self._prepared:
            self._prepared.move_to_end(i)
            return self._prepared[i]
        img = self._raw(i)
        img = img.float().div(255.0) if img.dtype == torch.uint8 else img.float()
        h, w = img.shape[-2:]
        if not self.random_resized and (h < self.size or w < self.size):
            if self.small == "upscale":
                s = self.size / min(h, w)
                new = (max(self.size, math.ceil(h * s)), max(self.size, math.ceil(w * s)))
                img = F.interpolate(img[None], size=new, mode="bilinear", align_corners=False, antialias=True)[0]
                img = img.clamp_(0, 1)
            else:
                ph, pw = max(0, self.size - h), max(0, self.size - w)
                if ph >= h or pw >= w:
                    raise ValueError(
                        f"{self._name(i)} ({h}x{w}) is too small to mirror-pad to {self.size}; use small='upscale'"
                    )
                # "reflect": up to the patch size; torchvision's pad_if_needed: both sides by the shortfall
                pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2) if self.small == "reflect" else (pw, pw, ph, ph)
                img = F.pad(img[None], pad, mode="reflect")[0]
        self._prepared[i] = img
        if len(self._prepared) > self._cache_size:
            self._prepared.popitem(last=False)
        return img

    # -- randomness --------------------------------------------------------------------------------
    def _draw(self, rng: np.random.Generator, image: int) -> PatchParams:
        h, w = self._image(image).shape[-2:]
        if self.random_resized:
            area = h * w
            for _ in range(10):
                a = rng.uniform(*self.scale) * area
                r = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
                ch, cw = int(round(math.sqrt(a / r))), int(round(math.sqrt(a * r)))
                if 0 < ch <= h and 0 < cw <= w:
                    break
            else:  # fall back to the largest crop with the aspect ratio clamped to the range
                aspect = min(max(w / h, self.ratio[0]), self.ratio[1])
                ch, cw = (h, min(w, round(h * aspect))) if w / h >= aspect else (min(h, round(w / aspect)), w)
        else:
            ch = cw = self.size
        top = int(rng.integers(0, h - ch + 1))
        left = int(rng.integers(0, w - cw + 1))
        flip = bool(rng.random() < 0.5) if self.flip else False
        return PatchParams(image, top, left, ch, cw, flip)

    def params(self, index: int) -> PatchParams:
        """The crop and flip used for ``dataset[index]`` (a pure function of seed and index)."""
        if not 0 <= index < self.length:
            raise IndexError(f"patch index {index} out of range (length {self.length})")
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0, index]))
        return self._draw(rng, self.image_index(index))

    def image_index(self, index: int) -> int:
        """The image patch ``index`` is cut from (see ``order``)."""
        n = len(self.images)
        if self.order == "cycle":
            return index % n
        epoch = index // n
        if epoch not in self._perms:
            self._perms[epoch] = np.random.default_rng(np.random.SeedSequence([self.order_seed, 2, epoch])).permutation(n)
            if len(self._perms) > 4:
                self._perms.popitem(last=False)
        return int(self._perms[epoch][index % n])

    def extract(self, p: PatchParams) -> torch.Tensor:
        """Cut, resize and flip a patch as ``p`` says: float ``(3, size, size)``."""
        img = self._image(p.image)
        patch = img[:, p.top:p.top + p.height, p.left:p.left + p.width]
        if (p.height, p.width) != (self.size, self.size):
            patch = F.interpolate(patch[None], size=(self.size, self.size), mode="bilinear",
                                  align_corners=False, antialias=True)[0].clamp_(0, 1)
        if p.flip:
            patch = patch.flip(-1)
        return patch.contiguous()

    # -- Dataset protocol --------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.extract(self.params(int(index)))

    def batch(self, batch_size: int) -> torch.Tensor:
        """The next ``(B, 3, size, size)`` batch of the dataset's own seeded stream (random images)."""
        check_range("batch_size", batch_size, 1, integer=True)
        n = len(self.images)
        out = []
        for _ in range(batch_size):
            image = int(self._batch_rng.integers(0, n))
            out.append(self.extract(self._draw(self._batch_rng, image)))
        return torch.stack(out)

    def state_dict(self) -> dict:
        """Where the :meth:`batch` stream stands (its seed and generator state), for checkpoints."""
        return {"seed": self.seed, "batch_rng": self._batch_rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Continue the :meth:`batch` stream from ``state`` (from :meth:`state_dict` of a dataset with the same
        seed; another seed raises a ValueError, as its stream is not this dataset's)."""
        if int(state["seed"]) != self.seed:
            raise ValueError(f"the saved batch stream belongs to a PatchDataset with seed {state['seed']}, "
                             f"this one has seed {self.seed}")
        self._batch_rng.bit_generator.state = state["batch_rng"]

    def __repr__(self) -> str:
        mode = f"random-resized (scale {self.scale}, ratio {self.ratio})" if self.random_resized else "random crops"
        label = getattr(self.images, "label", f"{len(self.images)} images")
        return f"PatchDataset({self.size}x{self.size} {mode}, flip={self.flip}, seed={self.seed}, over {label})"

