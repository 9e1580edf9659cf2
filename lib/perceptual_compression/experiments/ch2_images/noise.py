"""Chapter 2: the uniform noise of Sec. 5.2 ("training without data"), and two labelled variants of ours."""

from __future__ import annotations

import torch

Tensor = torch.Tensor


NOISE_KINDS = ("uniform", "uniform-ranged", "uniform-tiled")  # Sec. 5.2's noise, then two labelled tests of ours
NOISE_TILE = 16  # side of the tiles of "uniform-tiled" (one code vector of the Table 1 autoencoders covers 16²)


def uniform_noise_batch(batch_size: int, size: int, generator: torch.Generator, *, kind: str = "uniform") -> Tensor:
    """Images of i.i.d. ``U(0, 1)`` pixels (``kind="uniform"``: the "training without data" distribution of
    Sec. 5.2).

    Two other kinds are not the paper's; the book trains on them to test why its noise-trained models do not
    transfer to photographs. Pixels stay independent given a range ``[lo, hi]`` (the order statistics of two
    ``U(0, 1)`` draws, so ``(lo + hi) / 2`` has variance 1/24), drawn

    - ``"uniform-ranged"``: once per image channel, so each image is flat noise around its own mean;
    - ``"uniform-tiled"``: once per ``NOISE_TILE``² tile of each image channel, on a grid shifted by a random
      offset per image, so local means vary across the image as a photograph's block means do (with no
      structure inside a tile and none between tiles).

    The paper's noise keeps every 16×16 block mean within about ±0.05 of 0.5."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"kind={kind!r} is not valid; valid values are: " + ", ".join(repr(k) for k in NOISE_KINDS))
    if kind == "uniform":
        return torch.rand(batch_size, 3, size, size, generator=generator)
    if kind == "uniform-ranged":  # the ranges are drawn before the pixels (the committed run's stream)
        ends = torch.rand(batch_size, 3, 2, 1, 1, generator=generator)
    else:
        t = NOISE_TILE
        n = size // t + 2  # tiles per side: enough to cover the image at any offset
        ends = torch.rand(batch_size, 3, 2, n, n, generator=generator)
        offsets = torch.randint(0, t, (batch_size, 2), generator=generator)
        ends = ends.repeat_interleave(t, dim=-2).repeat_interleave(t, dim=-1)
        ends = torch.stack([e[..., oy:oy + size, ox:ox + size] for e, (oy, ox) in zip(ends, offsets.tolist())])
    lo, hi = ends.min(dim=2).values, ends.max(dim=2).values
    return lo + (hi - lo) * torch.rand(batch_size, 3, size, size, generator=generator)
