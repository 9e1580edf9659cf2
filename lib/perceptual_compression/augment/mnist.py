"""Augmented MNIST (Dubois et al. 2021, Sec. 5.1, Fig. 1 and 6): random affine maps applied at train *and*
test time, so that downstream tasks are invariant to them.

The paper's (and its code's) ranges: rotation ±45°, horizontal and vertical translation up to 25% of the
side, shear ±25° (along x, torchvision's single-number convention) and scale in [0.6, 1.4]. Section 5.1 also
uses a milder set (±15°, 15%, ±15°, [0.8, 1.2]) and a supervised one (:mod:`.supervised`).

Implementation: the authors apply torchvision transforms image by image (one resampling per
transform, PIL nearest-neighbour). Here one affine map with the same parameter ranges (torchvision's
parameterisation ``T C R S Sh C^-1``, see ``torchvision.transforms.functional.affine``) is drawn per image
and a whole batch is resampled at once with ``grid_sample`` (bilinear, zero fill). For identical
parameters the result equals ``torchvision.transforms.functional.affine`` on each image (tested); drawing
one affine instead of composing five, and continuous rather than whole-pixel translations, are the
only differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AffineRanges:
    """Ranges of a random affine augmentation (uniform draws)."""

    degrees: float = 45.0          # rotation angle in [-degrees, degrees] (torchvision: positive = counter-clockwise on screen)
    translate: float = 0.25        # |tx| <= translate * W, |ty| <= translate * H
    shear: float = 25.0            # x-shear angle in [-shear, shear] degrees
    scale: tuple[float, float] = (0.6, 1.4)

    def __post_init__(self) -> None:
        if self.degrees < 0 or self.translate < 0 or self.shear < 0:
            raise ValueError("degrees, translate and shear must be >= 0")
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"scale={self.scale} must satisfy 0 < low <= high")


#: The paper's augmentation sets on MNIST (Sec. 5.1; lossyless configs ``mnist_aug`` and ``mnist_aug_less``).
AUGMENTATION_SETS: dict[str, AffineRanges] = {
    "standard": AffineRanges(45.0, 0.25, 25.0, (0.6, 1.4)),
    "mild": AffineRanges(15.0, 0.15, 15.0, (0.8, 1.2)),
}


def augmentation_set(name: str) -> AffineRanges:
    try:
        return AUGMENTATION_SETS[name]
    except KeyError:
        raise ValueError(f"augmentation set {name!r} is not valid; valid values are: "
                         + ", ".join(repr(k) for k in AUGMENTATION_SETS)) from None


def sample_affine_params(n: int, ranges: AffineRanges, size: tuple[int, int],
                         generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Draw ``n`` parameter sets: ``angle`` (deg), ``tx``, ``ty`` (pixels), ``scale``, ``shear`` (deg)."""
    h, w = size
    u = torch.rand(n, 5, generator=generator, dtype=torch.float64)

    def unif(col: int, lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * u[:, col]

    return {
        "angle": unif(0, -ranges.degrees, ranges.degrees),
        "tx": unif(1, -ranges.translate * w, ranges.translate * w),
        "ty": unif(2, -ranges.translate * h, ranges.translate * h),
        "scale": unif(3, *ranges.scale),
        "shear": unif(4, -ranges.shear, ranges.shear),
    }


def inverse_affine_matrices(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-image inverse affine matrices ``(n, 2, 3)`` about the image centre, in pixel units.

    The same map as ``torchvision.transforms.functional._get_inverse_affine_matrix`` (x-shear only,
    centre at the middle of the image), vectorised.
    """
    rot = torch.deg2rad(params["angle"])
    sx = torch.deg2rad(params["shear"])
    sy = torch.zeros_like(sx)
    scale, tx, ty = params["scale"], params["tx"], params["ty"]
    a = torch.cos(rot - sy) / torch.cos(sy)
    b = -torch.cos(rot - sy) * torch.tan(sx) / torch.cos(sy) - torch.sin(rot)
    c = torch.sin(rot - sy) / torch.cos(sy)
    d = -torch.sin(rot - sy) * torch.tan(sx) / torch.cos(sy) + torch.cos(rot)
    # inverse of the rotation-shear block (its determinant is 1), divided by the scale
    m00, m01, m10, m11 = d / scale, -b / scale, -c / scale, a / scale
    m02 = m00 * (-tx) + m01 * (-ty)
    m12 = m10 * (-tx) + m11 * (-ty)
    return torch.stack([torch.stack([m00, m01, m02], -1), torch.stack([m10, m11, m12], -1)], -2)


def apply_affine(x: torch.Tensor, params: dict[str, torch.Tensor], mode: str = "bilinear") -> torch.Tensor:
    """Warp a batch ``x`` of shape ``(n, C, H, W)`` with per-image parameters (zero fill outside)."""
    if x.dim() != 4:
        raise ValueError(f"expected (n, C, H, W), got {tuple(x.shape)}")
    n, _, h, w = x.shape
    theta = inverse_affine_matrices(params).to(dtype=x.dtype, device=x.device)
    if theta.shape[0] != n:
        raise ValueError(f"{theta.shape[0]} parameter sets for {n} images")
    xs = torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, w, dtype=x.dtype, device=x.device)
    ys = torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, h, dtype=x.dtype, device=x.device)
    base = torch.stack([xs.expand(h, w), ys.unsqueeze(1).expand(h, w), torch.ones(h, w, dtype=x.dtype, device=x.device)], -1)
    norm = torch.tensor([0.5 * w, 0.5 * h], dtype=x.dtype, device=x.device)
    grid = torch.einsum("hwk,nck->nhwc", base, theta) / norm
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


class RandomAffine:
    """The augmentation ``A``: ``A(x)`` draws one affine map per image from ``ranges`` and applies it."""

    def __init__(self, ranges: AffineRanges | str = "standard", mode: str = "bilinear") -> None:
        self.ranges = augmentation_set(ranges) if isinstance(ranges, str) else ranges
        if mode not in ("bilinear", "nearest"):
            raise ValueError(f"mode={mode!r} is not valid; valid values are: 'bilinear', 'nearest'")
        self.mode = mode

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        squeeze = x.dim() == 3
        xb = x.unsqueeze(0) if squeeze else x
        params = sample_affine_params(xb.shape[0], self.ranges, (xb.shape[-2], xb.shape[-1]), generator)
        out = apply_affine(xb, params, self.mode)
        return out[0] if squeeze else out

    def __repr__(self) -> str:
        r = self.ranges
        return (f"RandomAffine(rotation ±{r.degrees:g}°, translation ±{100 * r.translate:g}%, "
                f"shear ±{r.shear:g}°, scale {r.scale[0]:g}–{r.scale[1]:g})")


def to_float_images(images_uint8: torch.Tensor) -> torch.Tensor:
    """``(N, 28, 28)`` uint8 -> ``(N, 1, 28, 28)`` float in [0, 1]."""
    return images_uint8.unsqueeze(1).float().div_(255.0)


__all__ = ["AffineRanges", "AUGMENTATION_SETS", "augmentation_set", "sample_affine_params",
           "inverse_affine_matrices", "apply_affine", "RandomAffine", "to_float_images"]
