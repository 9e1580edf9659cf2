"""Frame pairs (A.1): crop size and co-location, height randomisation, Fourier shift, running buffer."""

from __future__ import annotations

import random

import pytest
import torch

from perceptual_compression.datasets.frame_pairs import (
    FramePairConfig,
    FramePairStream,
    TranslatedImageSegments,
    VideoSegments,
    fourier_shift,
    resize_to_height,
)


def _smooth(h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(1, 3, h // 64, w // 64, generator=g)
    return torch.nn.functional.interpolate(base, size=(h, w), mode="bicubic", align_corners=False)[0].clamp(0, 1)


def test_fourier_shift_by_whole_pixels_is_a_circular_roll():
    x = torch.rand(3, 20, 24)
    torch.testing.assert_close(fourier_shift(x, 2.0, -3.0), torch.roll(x, (2, -3), dims=(-2, -1)), atol=1e-5, rtol=0)

def test_fourier_shift_moves_a_sinusoid_by_a_fraction_of_a_pixel():
    i, j = torch.meshgrid(torch.arange(20.0), torch.arange(24.0), indexing="ij")
    wave = lambda di, dj: torch.cos(2 * torch.pi * (3 * (i - di) / 20 + 2 * (j - dj) / 24))
    torch.testing.assert_close(fourier_shift(wave(0, 0), 0.4, 0.3), wave(0.4, 0.3), atol=1e-5, rtol=0)


def test_resize_to_height_keeps_aspect_ratio():
    assert resize_to_height(torch.rand(3, 512, 768), 144).shape == (3, 144, 216)
    assert resize_to_height(torch.rand(2, 3, 768, 512), 128).shape == (2, 3, 128, 85)


def test_translated_image_pairs_are_colocated_subpixel_translations():
    cfg = FramePairConfig(max_shift=3.0)
    src = TranslatedImageSegments([_smooth(512, 768)], "test")
    pairs = src.segment(random.Random(0), cfg)
    assert len(pairs) == 15
    for a, b in pairs:
        assert a.shape == b.shape == (3, 64, 64)
        assert 0 <= float(a.min()) and float(a.max()) <= 1
        diff = float((a - b).abs().mean())
        assert 0 < diff < 0.05                     # neighbouring frames: similar but not identical
    # zero camera motion: both frames identical
    still = TranslatedImageSegments([_smooth(512, 768)], "test").segment(random.Random(0), FramePairConfig(max_shift=0.0))
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in still)


def test_video_segments_use_neighbouring_frames_at_a_random_height():
    t, h, w = 30, 300, 400
    video = torch.stack([torch.full((3, h, w), i / 40) for i in range(t)])   # frame index encoded in the value
    heights = set()

    class Recorder(VideoSegments):
        pass

    src = Recorder([video], "ramp")
    rng = random.Random(1)
    import perceptual_compression.datasets.frame_pairs as fp
    original = fp.resize_to_height

    def spy(x, height):
        heights.add(height)
        return original(x, height)

    fp.resize_to_height = spy
    try:
        for _ in range(10):
            for k, (a, b) in enumerate(src.segment(rng, FramePairConfig())):
                assert float(a.mean()) == pytest.approx(2 * k / 40, abs=1e-5)
                assert float(b.mean()) == pytest.approx((2 * k + 1) / 40, abs=1e-5)
    finally:
        fp.resize_to_height = original
    assert heights and all(128 <= v <= 160 for v in heights) and len(heights) > 1


def test_frame_folders_give_the_video_segments_pairs(tmp_path):
    """A video stored as frame images gives, from the same generator state, the pairs VideoSegments gives for
    the same frames in memory; frame_source tells frame folders from still images."""
    from PIL import Image

    from perceptual_compression.datasets.frame_pairs import FrameFolderSegments, frame_source
    from perceptual_compression.params import ParameterError

    g = torch.Generator().manual_seed(0)
    frames = (torch.rand(32, 3, 140, 180, generator=g) * 255).round().to(torch.uint8)
    (tmp_path / "clip").mkdir()
    for i, f in enumerate(frames):
        Image.fromarray(f.permute(1, 2, 0).numpy()).save(tmp_path / "clip" / f"{i:05d}.png")
    (tmp_path / "short").mkdir()   # too few frames to be a video: skipped
    Image.fromarray(frames[0].permute(1, 2, 0).numpy()).save(tmp_path / "short" / "0.png")
    cfg = FramePairConfig()
    disk, memory = FrameFolderSegments(tmp_path), VideoSegments([frames.float() / 255])
    assert len(disk.videos) == 1 and "(1 video)" in disk.label
    for a, b in zip(disk.segment(random.Random(3), cfg), memory.segment(random.Random(3), cfg)):
        torch.testing.assert_close(a, b)
    assert isinstance(frame_source(str(tmp_path)), FrameFolderSegments)
    stills = frame_source(str(tmp_path / "clip"))   # a folder of images without sub-folders: stills
    assert isinstance(stills, TranslatedImageSegments) and len(stills.images) == 32
    assert isinstance(frame_source("embedded"), TranslatedImageSegments)
    with pytest.raises(ParameterError, match="embedded"):
        frame_source(str(tmp_path / "nowhere"))
    with pytest.raises(ParameterError, match="kept out of training"):
        frame_source("kodak", exclude=("kodak",))
    with pytest.raises(ValueError, match="30 or more"):
        FrameFolderSegments(tmp_path / "short")


def test_stream_batches_shuffle_and_resume():
    src = TranslatedImageSegments([_smooth(256, 256, s) for s in range(3)], "test")
    cfg = FramePairConfig(buffer_size=40)
    s1 = FramePairStream(src, cfg, seed=3)
    x, y = s1.batch(8)
    assert x.shape == y.shape == (8, 3, 64, 64)
    # 3 segments (45 pairs) fill the buffer of 40; it is topped up again once a draw leaves it below 40
    assert s1.segments_read == 4
    s2 = FramePairStream(src, cfg, seed=3)
    x2, _ = s2.batch(8)
    assert torch.equal(x, x2)                       # deterministic per seed
    state = s1.state_dict()
    s3 = FramePairStream(src, cfg, seed=99)
    s3.load_state_dict(state)
    assert s3.segments_read == 4 and s3.rng.getstate() == s1.rng.getstate()
    # the restored stream continues exactly as the original, across refills of its buffer, from a state
    # that holds no pixels
    assert not any(isinstance(v, torch.Tensor) for v in state.values())
    for _ in range(6):
        (a1, b1), (a3, b3) = s1.batch(8), s3.batch(8)
        assert torch.equal(a1, a3) and torch.equal(b1, b3)
    assert s3.segments_read == s1.segments_read > 4
    # a state that kept only the generator (saved before the buffer was recorded): the buffer starts empty
    s4, s5 = FramePairStream(src, cfg, seed=0), FramePairStream(src, cfg, seed=0)
    s4.load_state_dict({"rng": state["rng"], "segments_read": 4})
    s5.load_state_dict(state)
    assert s4.buffer == [] and len(s5.buffer) == len(state["origin"]) == 4 * 15 - 8  # 4 segments read, 8 drawn
    assert not torch.equal(s4.batch(8)[0], s5.batch(8)[0])


def test_config_validation():
    with pytest.raises(ValueError):
        FramePairConfig(patch=200)
    assert FramePairConfig().pairs_per_segment == 15
    assert FramePairConfig().height_range == (128, 160)
