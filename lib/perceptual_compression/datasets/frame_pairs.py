"""Pairs of neighbouring video frames for training PIM (Bhardwaj et al. 2020, appendix A.1).

The paper decodes one segment of 30 consecutive frames from each of 40 000 YouTube videos, downsamples
each segment to a random height between 128 and 160 pixels (to reduce compression and resampling
artefacts), splits it into 15 pairs of neighbouring frames, cuts a randomly placed but co-located
64×64 patch out of each pair, shuffles the pairs in a running buffer and feeds RGB values in [0, 1].
The videos are public YouTube videos, but the selection was never released (no registry entry can point to it).

:class:`FramePairStream` implements this preprocessing for any *segment source*:

* :class:`VideoSegments` — real videos given as frame tensors (T, 3, H, W); consecutive frames
  ``(2k, 2k + 1)`` form the pairs, exactly as in the paper.
* :class:`FrameFolderSegments` — real videos stored as folders of frame images (one folder per video, frames
  in name order, e.g. ``ffmpeg -i clip.mp4 clip/%05d.png``), read a segment at a time.
* :class:`TranslatedImageSegments` — the fallback used in this book: a natural image seen by a camera
  moving at a constant random velocity (up to ``max_shift`` pixels per frame at the image's full
  resolution). After downsampling, neighbouring frames differ by a sub-pixel translation, which is
  applied as an exact band-limited (Fourier) shift so that no interpolation blur tells the frames
  apart. Real neighbouring frames also differ by object motion, occlusion, lighting and noise, which
  this fallback does not model.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

import torch
from torch.nn import functional as F

__all__ = [
    "FramePairConfig",
    "SegmentSource",
    "VideoSegments",
    "FrameFolderSegments",
    "frame_source",
    "TranslatedImageSegments",
    "FramePairStream",
    "fourier_shift",
    "resize_to_height",
]


@dataclass(frozen=True)
class FramePairConfig:
    """A.1 preprocessing. ``buffer_size`` and ``max_shift`` are ours (the paper gives no values)."""

    patch: int = 64                           # co-located crop size
    height_range: tuple[int, int] = (128, 160)  # segment height after downsampling, inclusive
    frames_per_segment: int = 30              # 30 frames -> 15 pairs of neighbouring frames
    buffer_size: int = 1000                   # running shuffle buffer (pairs)
    max_shift: float = 3.0                    # fallback camera speed, full-resolution pixels per frame
    margin: int = 8                           # border kept around a crop for the Fourier shift

    def __post_init__(self) -> None:
        lo, hi = self.height_range
        if not (self.patch >= 8 and lo <= hi and lo >= self.patch):
            raise ValueError("need patch >= 8 and patch <= height_range[0] <= height_range[1]")
        if self.frames_per_segment < 2 or self.buffer_size < 1:
            raise ValueError("frames_per_segment must be >= 2 and buffer_size >= 1")

    @property
    def pairs_per_segment(self) -> int:
        return self.frames_per_segment // 2


def resize_to_height(x: torch.Tensor, height: int) -> torch.Tensor:
    """Antialiased bilinear resize of (…, 3, H, W) to the given height, keeping the aspect ratio."""
    h, w = x.shape[-2:]
    width = max(1, round(w * height / h))
    batched = x if x.dim() == 4 else x.unsqueeze(0)
    out = F.interpolate(batched, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return out if x.dim() == 4 else out[0]


def fourier_shift(x: torch.Tensor, dy: float, dx: float) -> torch.Tensor:
    """Translate (…, H, W) by (dy, dx) pixels (content moves down/right), band-limited and periodic."""
    h, w = x.shape[-2:]
    fy = torch.fft.fftfreq(h, device=x.device, dtype=torch.float64)
    fx = torch.fft.rfftfreq(w, device=x.device, dtype=torch.float64)
    py = torch.exp(-2j * math.pi * fy * dy)
    px = torch.exp(-2j * math.pi * fx * dx)
    # keep the result real: at the Nyquist frequency a translation can only scale by cos(pi d)
    if h % 2 == 0:
        py[h // 2] = math.cos(math.pi * dy)
    if w % 2 == 0:
        px[-1] = math.cos(math.pi * dx)
    spec = torch.fft.rfft2(x.to(torch.float64)) * (py[:, None] * px[None, :])
    return torch.fft.irfft2(spec, s=(h, w)).to(x.dtype)


class SegmentSource(Protocol):
    label: str

    def segment(self, rng: random.Random, config: FramePairConfig) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """One segment's pairs of co-located ``patch × patch`` crops of neighbouring frames, in [0, 1]."""


def _random_crop_box(rng: random.Random, h: int, w: int, size: int, margin: int) -> tuple[int, int]:
    top = rng.randint(margin, h - size - margin)
    left = rng.randint(margin, w - size - margin)
    return top, left


class VideoSegments:
    """Segments from real videos: a sequence of (T, 3, H, W) frame tensors in [0, 1], T >= frames_per_segment."""

    def __init__(self, videos: Sequence[torch.Tensor], label: str = "video frames") -> None:
        if not videos:
            raise ValueError("no videos given")
        self.videos = list(videos)
        self.label = label

    def segment(self, rng: random.Random, config: FramePairConfig) -> list[tuple[torch.Tensor, torch.Tensor]]:
        video = self.videos[rng.randrange(len(self.videos))]
        t = video.shape[0]
        n = config.frames_per_segment
        if t < n:
            raise ValueError(f"a video has {t} frames, fewer than frames_per_segment={n}")
        start = rng.randint(0, t - n)
        return _segment_pairs(video[start:start + n], rng, config)


def _segment_pairs(frames: torch.Tensor, rng: random.Random,
                   config: FramePairConfig) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A.1 on one segment ``(n, 3, H, W)``: resized to a random height, co-located crops of frames (2k, 2k + 1)."""
    frames = resize_to_height(frames, rng.randint(*config.height_range)).clamp(0, 1)
    h, w = frames.shape[-2:]
    pairs = []
    for k in range(config.pairs_per_segment):
        top, left = _random_crop_box(rng, h, w, config.patch, 0)
        crop = frames[2 * k:2 * k + 2, :, top:top + config.patch, left:left + config.patch]
        pairs.append((crop[0].contiguous(), crop[1].contiguous()))
    return pairs


def _frame_files(folder) -> list:
    from .images import IMAGE_EXTENSIONS

    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


class FrameFolderSegments:
    """Real videos stored as frame images, one folder per video under ``root`` (frames in name order).

    Only folders with at least ``min_frames`` frames are kept (``ValueError`` if none); a segment reads its
    ``frames_per_segment`` consecutive frames from disk when it is drawn, so the videos need not fit in memory.
    """

    def __init__(self, root, label: str | None = None, *, min_frames: int = 30) -> None:
        from pathlib import Path

        root = Path(root).expanduser()
        self.videos = [f for f in (sorted(d for d in root.iterdir() if d.is_dir()) if root.is_dir() else [])
                       if len(_frame_files(f)) >= min_frames]
        if not self.videos:
            raise ValueError(f"no folder under {root} holds {min_frames} or more frame images")
        n = len(self.videos)
        self.label = label or f"frame folders under {root} ({n} video{'s' if n != 1 else ''})"
        self._files: dict[int, list] = {}

    def segment(self, rng: random.Random, config: FramePairConfig) -> list[tuple[torch.Tensor, torch.Tensor]]:
        from .images import _load_rgb

        i = rng.randrange(len(self.videos))
        if i not in self._files:
            self._files[i] = _frame_files(self.videos[i])
        files = self._files[i]
        n = config.frames_per_segment
        if len(files) < n:
            raise ValueError(f"{self.videos[i]} has {len(files)} frames, fewer than frames_per_segment={n}")
        start = rng.randint(0, len(files) - n)
        frames = torch.stack([_load_rgb(f) for f in files[start:start + n]]).float().div_(255.0)
        return _segment_pairs(frames, rng, config)


def frame_source(spec: str, *, min_frames: int = 30, exclude: tuple[str, ...] = ()):
    """A segment source from a name: a folder of frame folders, one of them with ``min_frames`` frames or more
    (:class:`FrameFolderSegments`, real video), else still images (an image folder, searched recursively,
    ``"embedded"`` or a registry dataset id, through
    :func:`~perceptual_compression.evaluation.codec_eval.load_image_set`) seen by the simulated camera of
    :class:`TranslatedImageSegments`. ``ParameterError`` names the choices otherwise. (An image set sorted into
    sub-folders of 30 or more images would be read as videos: pass its sub-folders' images as one folder.)
    Names in ``exclude`` are refused, as ``load_image_set`` refuses them."""
    from pathlib import Path

    from ..evaluation.codec_eval import load_image_set

    root = Path(spec).expanduser()
    if root.is_dir() and any(d.is_dir() and len(_frame_files(d)) >= min_frames for d in root.iterdir()):
        return FrameFolderSegments(root, min_frames=min_frames)
    images = load_image_set(spec, exclude=exclude)
    return TranslatedImageSegments(images, images.label)


class TranslatedImageSegments:
    """Fallback segments: still images seen by a camera in uniform motion (see the module docstring)."""

    def __init__(self, images: Sequence[torch.Tensor], label: str = "natural images") -> None:
        if len(images) == 0:
            raise ValueError("no images given")
        self.images = images
        self.label = f"{label}, translated by a simulated camera motion (fallback for video)"

    def segment(self, rng: random.Random, config: FramePairConfig) -> list[tuple[torch.Tensor, torch.Tensor]]:
        image = self.images[rng.randrange(len(self.images))]
        full_h = image.shape[-2]
        height = rng.randint(*config.height_range)
        frame = resize_to_height(image.float(), height)
        h, w = frame.shape[-2:]
        p, m = config.patch, config.margin
        if h < p + 2 * m or w < p + 2 * m:
            raise ValueError(f"an image of {h}x{w} after resizing is too small for {p}px patches")
        scale = height / full_h  # full-resolution pixels -> segment pixels
        vy = rng.uniform(-config.max_shift, config.max_shift) * scale
        vx = rng.uniform(-config.max_shift, config.max_shift) * scale
        pairs = []
        for _ in range(config.pairs_per_segment):
            top, left = _random_crop_box(rng, h, w, p, m)
            window = frame[:, top - m:top + p + m, left - m:left + p + m]
            moved = fourier_shift(window, vy, vx)
            a = window[:, m:m + p, m:m + p]
            b = moved[:, m:m + p, m:m + p]
            pairs.append((a.clamp(0, 1).contiguous(), b.clamp(0, 1).contiguous()))
        return pairs


class FramePairStream:
    """An endless, shuffled stream of frame pairs: ``stream.batch(n) -> (x, y)``, each (n, 3, patch, patch).

    Pairs enter a running buffer one segment at a time; each draw takes a uniformly random element of
    the buffer and refills the buffer when it runs low (the behaviour of a ``tf.data`` shuffle buffer).

    :meth:`state_dict` holds no pixels, yet a stream restored from it continues exactly as the original: a
    segment is a function of the generator's state when it was drawn, so the state records that state for
    each segment still in the buffer and where each buffered pair came from, and :meth:`load_state_dict`
    draws those segments again.
    """

    def __init__(self, source: SegmentSource, config: FramePairConfig | None = None, seed: int = 0) -> None:
        self.source = source
        self.config = config or FramePairConfig()
        self.rng = random.Random(seed)
        self.buffer: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.segments_read = 0
        self._origin: list[tuple[int, int]] = []   # per buffered pair: (segment number, index in the segment)
        self._segment_rng: dict[int, object] = {}  # generator state before each segment still in the buffer
        self._left: dict[int, int] = {}            # pairs of each such segment still in the buffer

    @property
    def label(self) -> str:
        return self.source.label

    def _fill(self) -> None:
        while len(self.buffer) < self.config.buffer_size:
            k = self.segments_read
            self._segment_rng[k] = self.rng.getstate()
            pairs = self.source.segment(self.rng, self.config)
            self.buffer.extend(pairs)
            self._origin.extend((k, i) for i in range(len(pairs)))
            self._left[k] = len(pairs)
            self.segments_read += 1

    def next_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        self._fill()
        i = self.rng.randrange(len(self.buffer))
        for items in (self.buffer, self._origin):
            items[i], items[-1] = items[-1], items[i]
        k, _ = self._origin.pop()
        self._left[k] -= 1
        if not self._left[k]:
            del self._left[k], self._segment_rng[k]
        return self.buffer.pop()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.next_pair()

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        pairs = [self.next_pair() for _ in range(n)]
        return torch.stack([a for a, _ in pairs]), torch.stack([b for _, b in pairs])

    def state_dict(self) -> dict:
        """Generator state, counters and the buffer's recipe (no pixels): see the class docstring."""
        return {"rng": self.rng.getstate(), "segments_read": self.segments_read, "origin": list(self._origin),
                "segment_rng": dict(self._segment_rng)}

    def load_state_dict(self, state: dict) -> None:
        """Continue where the stream of ``state`` stood. The buffered segments are drawn again from the same
        source; a state saved before the buffer was recorded restores the generator only, so the stream then
        starts from an empty buffer (close to the original's continuation, not equal to it)."""
        self.rng.setstate(state["rng"])
        self.segments_read = int(state["segments_read"])
        self.buffer, self._origin, self._segment_rng, self._left = [], [], {}, {}
        if "origin" not in state:
            return
        segments = {}
        for k, rng_state in state["segment_rng"].items():
            replay = random.Random()
            replay.setstate(rng_state)
            segments[int(k)] = self.source.segment(replay, self.config)
        for k, i in state["origin"]:
            self.buffer.append(segments[int(k)][int(i)])
            self._origin.append((int(k), int(i)))
            self._left[int(k)] = self._left.get(int(k), 0) + 1
        self._segment_rng = {int(k): v for k, v in state["segment_rng"].items() if int(k) in self._left}
