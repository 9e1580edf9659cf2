"""Image sets (Kodak, embedded, folders), MNIST parsing and the patch dataset."""

from __future__ import annotations

import gzip
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from perceptual_compression.assets import AssetUnavailableError
from perceptual_compression.datasets import (
    MNIST,
    IDXFormatError,
    ImageSet,
    PatchDataset,
    embedded_images,
    image_folder,
    kodak,
    mnist,
    natural_images,
    read_idx,
)
from perceptual_compression.params import ParameterError
from _shared_data import SHARED, needs_shared

ROOT = Path(__file__).resolve().parents[1]

# Known MNIST class counts (digits 0..9).
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def no_kodak(tmp_path, monkeypatch):
    """The project's registry with no local data, an empty cache and downloads off."""
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "registry.toml", root / "data" / "registry.toml")
    (root / "data" / "config.toml").write_text("[local]\ndirs = []\n")
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_ROOT", str(root))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(tmp_path / "nodata"))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")


# --------------------------------------------------------------------------------------------------
# image sets


def test_kodak_has_24_images_of_the_right_sizes_in_unit_range():
    needs_shared("kodak")
    images = kodak(download=False)
    assert len(images) == 24 and images.names[0] == "kodim01" and images.names[-1] == "kodim24"
    assert not images.is_fallback and images.label.startswith("Kodak (24 images, local data directory")
    shapes = set()
    for x in images:
        assert x.dtype == torch.float32 and x.shape[0] == 3
        assert 0.0 <= x.min().item() and x.max().item() <= 1.0
        shapes.add(tuple(x.shape[1:]))
    assert shapes == {(512, 768), (768, 512)}
    portrait = [n for n, hw in zip(images.names, images.sizes) if hw == (768, 512)]
    assert portrait == ["kodim04", "kodim09", "kodim10", "kodim17", "kodim18", "kodim19"]


def test_kodak_pixels_are_the_decoded_png():
    needs_shared("kodak")
    images = kodak(download=False)
    ref = np.asarray(Image.open(SHARED / "kodak" / "kodim07.png").convert("RGB"))
    assert torch.equal(images.uint8(6), torch.from_numpy(ref.copy()).permute(2, 0, 1))
    assert torch.allclose(images[6] * 255, images.uint8(6).float())


def test_kodak_missing_raises_asset_unavailable(no_kodak):
    with pytest.raises(AssetUnavailableError, match="'kodak'"):
        kodak()


def test_embedded_images_load_offline_and_are_labeled(no_kodak):
    images = embedded_images()
    assert len(images) == 5 and images.name == "embedded" and "embedded" in images.label
    assert images.names == ["astronaut", "chelsea", "coffee", "rocket", "motorcycle_left"]
    assert images.sizes == [(512, 512), (300, 451), (400, 600), (427, 640), (500, 741)]
    for x in images:
        assert x.shape[0] == 3 and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
        assert x.std() > 0.05  # real photographs, not blank
    assert not images.is_fallback


def test_natural_images_falls_back_to_embedded_with_the_reason(no_kodak):
    images = natural_images()
    assert images.is_fallback and images.name == "embedded"
    assert "embedded" in images.label and "fallback" in images.label
    assert images.fallback_reason.startswith("Asset 'kodak'") and "PERCEPTUAL_COMPRESSION_OFFLINE=1" in images.fallback_reason
    assert "fallback" in repr(images)


def test_natural_images_prefers_kodak_when_present():
    needs_shared("kodak")
    images = natural_images()
    assert images.name == "kodak" and not images.is_fallback and images.fallback_reason is None


def test_natural_images_validates_its_choice():
    with pytest.raises(ParameterError, match="'kodak', 'embedded'"):
        natural_images(prefer="imagenet")
    assert natural_images(prefer="embedded").name == "embedded"


def test_image_folder_round_trips_pixels_and_indexing(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), rng.integers(0, 256, (16, 12, 3), dtype=np.uint8)]
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(tmp_path / f"img{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    images = image_folder(tmp_path)
    assert len(images) == 2 and images.names == ["img0", "img1"] and str(tmp_path) in images.label
    for x, a in zip(images, arrays):
        assert torch.equal((x * 255).round().to(torch.uint8), torch.from_numpy(a).permute(2, 0, 1))
    assert torch.equal(images[-1], images[1])
    with pytest.raises(IndexError):
        images[2]
    sub = images[1:]
    assert isinstance(sub, ImageSet) and len(sub) == 1 and sub.names == ["img1"] and "1 of 2 images" in sub.label
    assert images.subset(1).names == ["img0"]


def test_large_image_folders_do_not_keep_decoded_images(tmp_path, monkeypatch):
    """A folder of more than CACHE_ALL_UP_TO images (OpenImages) decodes on every access rather than filling the
    memory; patches over it keep only the last few prepared images."""
    import perceptual_compression.datasets.images as images_module
    import perceptual_compression.datasets.patches as patches_module

    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / f"img{i}.png")
    assert image_folder(tmp_path)._cache_enabled
    monkeypatch.setattr(images_module, "CACHE_ALL_UP_TO", 2)
    big = image_folder(tmp_path)
    assert not big._cache_enabled
    a = big[0]
    assert torch.equal(big[0], a) and big._cache == {}
    assert patches_module._RECENT == 2
    patches = PatchDataset(big, size=8, seed=0, length=30)
    for i in range(6):
        patches[i]
    assert list(patches._prepared) == [1, 2]  # the last two of images 0, 1, 2, 0, 1, 2
    assert PatchDataset(big[:2], size=8, seed=0)._cache_size == 2  # a set of up to CACHE_ALL_UP_TO: all kept


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_folder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no images"):
        image_folder(tmp_path)


# --------------------------------------------------------------------------------------------------
# MNIST


def test_mnist_shapes_types_and_class_counts():
    needs_shared("mnist")
    x, y = mnist("train", download=False)
    assert x.shape == (60000, 28, 28) and x.dtype == torch.uint8
    assert y.shape == (60000,) and y.dtype == torch.int64
    assert torch.bincount(y, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    xt, yt = mnist("test", download=False)
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert torch.bincount(yt, minlength=10).tolist() == MNIST_TEST_COUNTS  # e.g. 980 zeros
    assert int(x.max()) == 255 and int(x.min()) == 0
    assert x[0].float().mean().item() == pytest.approx(35.108418, abs=1e-4)  # the first training digit (a 5)
    assert int(y[0]) == 5 and int(yt[0]) == 7


def test_mnist_returns_fresh_tensors():
    needs_shared("mnist")
    x1, _ = mnist("test", download=False)
    x1.zero_()
    x2, _ = mnist("test", download=False)
    assert x2.sum() > 0


def test_mnist_dataset_wrapper():
    needs_shared("mnist")
    ds = MNIST("test", download=False)
    x, label = ds[0]
    assert len(ds) == 10000 and x.shape == (1, 28, 28) and x.dtype == torch.float32 and label == 7
    assert 0 <= x.min() and x.max() <= 1


def test_mnist_split_is_validated():
    with pytest.raises(ParameterError, match="'train', 'test'"):
        mnist("validation")


def _idx(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims) + payload


def test_read_idx_validates_magic_shape_and_length(tmp_path):
    good = tmp_path / "good.gz"
    data = np.arange(2 * 28 * 28, dtype=np.uint8).tobytes()
    good.write_bytes(gzip.compress(_idx(0x803, (2, 28, 28), data)))
    arr = read_idx(good, magic=0x803, shape_tail=(28, 28))
    assert arr.shape == (2, 28, 28) and arr[1, 0, 0] == (28 * 28) % 256
    cases = {
        "magic number 0x00000801": _idx(0x801, (2, 28, 28), data),
        "expected (N, 28, 28)": _idx(0x803, (2, 28, 27), data[: 2 * 28 * 27]),
        "header announces": _idx(0x803, (2, 28, 28), data[:-1]),
    }
    for message, blob in cases.items():
        bad = tmp_path / "bad.gz"
        bad.write_bytes(gzip.compress(blob))
        with pytest.raises(IDXFormatError, match=re.escape(message)):
            read_idx(bad, magic=0x803, shape_tail=(28, 28))
    truncated = tmp_path / "trunc.gz"
    truncated.write_bytes(gzip.compress(_idx(0x803, (2, 28, 28), data))[:-20])
    with pytest.raises(IDXFormatError, match="cannot read"):
        read_idx(truncated, magic=0x803)


# --------------------------------------------------------------------------------------------------
# patches


@pytest.fixture
def gradient_images():
    """Two images with distinct, position-coded pixels (so every crop is identifiable)."""
    h, w = 40, 60
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    a = torch.stack([yy / h, xx / w, torch.full_like(yy, 0.25, dtype=torch.float32)]).float()
    b = torch.stack([xx / w, yy / h, torch.full_like(yy, 0.75, dtype=torch.float32)]).float()[:, :36, :50]
    return [a, b]


def test_patch_shapes_range_and_determinism(gradient_images):
    ds = PatchDataset(gradient_images, size=16, seed=3, length=10)
    assert len(ds) == 10
    p = ds[4]
    assert p.shape == (3, 16, 16) and p.dtype == torch.float32 and 0 <= p.min() and p.max() <= 1
    same = PatchDataset(gradient_images, size=16, seed=3, length=10)
    other = PatchDataset(gradient_images, size=16, seed=4, length=10)
    assert all(torch.equal(ds[i], same[i]) for i in range(10))
    assert not all(torch.equal(ds[i], other[i]) for i in range(10))
    assert torch.equal(ds[7], ds[7])  # a pure function of (seed, index)
    b1, b2 = ds.batch(5), same.batch(5)
    assert b1.shape == (5, 3, 16, 16) and torch.equal(b1, b2)
    assert not torch.equal(ds.batch(5), b1)  # the stream moves on


def test_patch_batch_stream_state_round_trips(gradient_images):
    ds = PatchDataset(gradient_images, size=16, seed=3)
    ds.batch(4)
    state = ds.state_dict()
    ahead = ds.batch(3)
    fresh = PatchDataset(gradient_images, size=16, seed=3)  # as in a new process
    assert not torch.equal(fresh.batch(3), ahead)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.batch(3), ahead)
    with pytest.raises(ValueError, match="seed 3, this one has seed 4"):
        PatchDataset(gradient_images, size=16, seed=4).load_state_dict(state)


def test_patch_params_describe_the_crop_and_flip(gradient_images):
    ds = PatchDataset(gradient_images, size=16, seed=0, length=200)
    flips = 0
    for i in range(200):
        p = ds.params(i)
        assert p.image == i % 2 and (p.height, p.width) == (16, 16)
        img = gradient_images[p.image]
        assert 0 <= p.top <= img.shape[1] - 16 and 0 <= p.left <= img.shape[2] - 16
        crop = img[:, p.top:p.top + 16, p.left:p.left + 16]
        assert torch.equal(ds[i], crop.flip(-1) if p.flip else crop)
        flips += p.flip
    assert 70 <= flips <= 130  # about half are flipped
    no_flip = PatchDataset(gradient_images, size=16, seed=0, length=50, flip=False)
    assert not any(no_flip.params(i).flip for i in range(50))


def test_random_resized_crops(gradient_images):
    ds = PatchDataset(gradient_images, size=24, random_resized=True, scale=(0.2, 0.6), seed=1, length=40)
    for i in range(40):
        p = ds.params(i)
        img = gradient_images[p.image]
        area = p.height * p.width / (img.shape[1] * img.shape[2])
        assert 0.15 <= area <= 0.65 and p.height <= img.shape[1] and p.width <= img.shape[2]
        x = ds[i]
        assert x.shape == (3, 24, 24) and 0 <= x.min() and x.max() <= 1
        # the third channel is constant per image, so resizing must preserve it exactly
        assert torch.allclose(x[2], torch.full((24, 24), 0.25 if p.image == 0 else 0.75), atol=1e-6)


def test_images_smaller_than_the_patch(gradient_images):
    with pytest.raises(ValueError, match=r"image 1 \(36x50\).*small='upscale'"):
        PatchDataset(gradient_images, size=38)
    up = PatchDataset(gradient_images, size=48, small="upscale", seed=0, length=4)
    assert all(up[i].shape == (3, 48, 48) for i in range(4))
    for i in range(4):  # the shorter side is resized to 48 (bilinear, antialiased), then cropped as usual
        p, img = up.params(i), gradient_images[i % 2]
        h, w = img.shape[1:]
        size = (max(48, math.ceil(h * 48 / min(h, w))), max(48, math.ceil(w * 48 / min(h, w))))
        big = torch.nn.functional.interpolate(img[None], size=size, mode="bilinear", antialias=True)[0].clamp(0, 1)
        ref = big[:, p.top:p.top + 48, p.left:p.left + 48]
        assert min(size) == 48 and torch.equal(up[i], ref.flip(-1) if p.flip else ref)
    pad = PatchDataset(gradient_images, size=38, small="reflect", seed=0, length=4)
    assert all(pad[i].shape == (3, 38, 38) for i in range(4))
    # image 0 (40x60) is large enough and is cropped as is; image 1 (36x50) is mirror-padded by one row at the
    # top and one at the bottom (no column): rows -1 and 36 repeat rows 1 and 34 (reflection without the edge)
    b = gradient_images[1]
    by_hand = torch.cat([b[:, 1:2], b, b[:, 34:35]], dim=1)
    assert torch.equal(by_hand, torch.nn.functional.pad(b[None], (0, 0, 1, 1), mode="reflect")[0])
    # channel 1 of image 1 codes the row (row / 40): the padded image's rows hold 1, 0, 1, ..., 35, 34 (/ 40)
    rows = torch.tensor([1] + list(range(36)) + [34]) / 40
    assert torch.equal(by_hand[1], rows[:, None].expand(38, 50))
    for i in range(4):
        p = pad.params(i)
        src = gradient_images[0] if p.image == 0 else by_hand
        assert p.image == i % 2 and (p.height, p.width) == (38, 38)
        assert p.top == 0 or p.image == 0          # the padded image is exactly 38 rows high
        ref = src[:, p.top:p.top + 38, p.left:p.left + 38]
        assert torch.equal(pad[i], ref.flip(-1) if p.flip else ref)
        if p.image == 1:                           # interior: the image itself; first and last rows: reflected
            patch = pad[i].flip(-1) if p.flip else pad[i]
            assert torch.equal(patch[:, 1:37], b[:, :, p.left:p.left + 38])
            assert torch.equal(patch[:, 0], b[:, 1, p.left:p.left + 38])
            assert torch.equal(patch[:, 37], b[:, 34, p.left:p.left + 38])
            assert torch.equal(patch[2], torch.full((38, 38), 0.75))
    # a second image smaller than the patch in both sides: padded (left, right, top, bottom) =
    # (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), reflected
    small = torch.arange(3 * 30 * 33, dtype=torch.float32).reshape(3, 30, 33) / (3 * 30 * 33)
    both = PatchDataset([small], size=38, small="reflect", seed=0, length=1, flip=False)
    expected = torch.nn.functional.pad(small[None], (2, 3, 4, 4), mode="reflect")[0]
    assert torch.equal(both[0], expected)
    assert torch.equal(expected[:, 4:34, 2:35], small)  # the interior is the image
    assert torch.equal(expected[:, 3, 2:35], small[:, 1]) and torch.equal(expected[:, 4:34, 1], small[:, :, 1])
    assert torch.equal(expected[:, 34, 2:35], small[:, 28]) and torch.equal(expected[:, 4:34, 35], small[:, :, 31])
    with pytest.raises(ValueError, match="too small to mirror-pad"):
        PatchDataset([small[:, :18]], size=38, small="reflect", seed=0)[0]
    with pytest.raises(ParameterError):
        PatchDataset(gradient_images, size=16, small="crop")


def test_patch_order_cycles_or_shuffles_each_epoch(gradient_images):
    """order="cycle": index i uses image i mod N; "shuffle": each run of N indices visits every image once, in a
    seeded order that changes from epoch to epoch (a DataLoader's shuffled epochs)."""
    images = [gradient_images[i % 2] * (0.5 + 0.1 * i) for i in range(5)]
    cyc = PatchDataset(images, size=16, seed=0, length=1000)
    assert [cyc.params(i).image for i in range(12)] == [i % 5 for i in range(12)]
    shuf = PatchDataset(images, size=16, seed=0, length=1000, order="shuffle")
    epochs = [[shuf.params(e * 5 + k).image for k in range(5)] for e in range(6)]
    assert all(sorted(e) == list(range(5)) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1 and epochs[0] != list(range(5))
    again = PatchDataset(images, size=16, seed=0, length=1000, order="shuffle")
    assert [again.params(i).image for i in (29, 3, 17, 3)] == [epochs[5][4], epochs[0][3], epochs[3][2], epochs[0][3]]
    assert torch.equal(again[17], shuf[17])
    with pytest.raises(ParameterError, match="'cycle', 'shuffle'"):
        PatchDataset(images, size=16, order="random")


def test_torchvision_reflect_pads_both_sides_by_the_shortfall():
    """small="torchvision-reflect" is torchvision's RandomCrop(pad_if_needed=True, padding_mode="reflect"): each side
    of a short dimension mirror-padded by the shortfall, then a random crop."""
    import torchvision.transforms.functional as TF

    small = torch.arange(3 * 30 * 33, dtype=torch.float32).reshape(3, 30, 33) / (3 * 30 * 33)
    ds = PatchDataset([small], size=38, small="torchvision-reflect", seed=0, length=20, flip=False)
    padded = TF.pad(small, [38 - 33, 38 - 30], padding_mode="reflect")  # left/right 5, top/bottom 8
    assert padded.shape[-2:] == (46, 43)
    for i in range(20):
        p = ds.params(i)
        assert torch.equal(ds[i], padded[:, p.top:p.top + 38, p.left:p.left + 38])
    assert {ds.params(i).top for i in range(20)} != {0}  # crops land anywhere in the padded image


def test_patches_over_an_image_set_and_a_dataloader():
    images = embedded_images()
    ds = PatchDataset(images, size=64, seed=0, length=8)
    assert "embedded" in repr(ds)
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    batch = next(iter(loader))
    assert batch.shape == (4, 3, 64, 64) and 0 <= batch.min() and batch.max() <= 1
    p = ds.params(2)
    ref = images[2][:, p.top:p.top + 64, p.left:p.left + 64]
    assert torch.equal(batch[2], ref.flip(-1) if p.flip else ref)


def test_unseeded_patches_follow_torch_global_seed(gradient_images):
    torch.manual_seed(123)
    a = PatchDataset(gradient_images, size=8)
    torch.manual_seed(123)
    b = PatchDataset(gradient_images, size=8)
    assert a.seed == b.seed and torch.equal(a[0], b[0])
