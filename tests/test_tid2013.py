import numpy as np
import pytest
from PIL import Image

from perceptual_compression.assets import AssetUnavailableError
from perceptual_compression.datasets.tid2013 import TID2013, tid2013


def _bmp(path, value):
    Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8)).save(path)


def test_parses_an_extracted_archive(tmp_path):
    root = tmp_path / "tid2013"
    (root / "reference_images").mkdir(parents=True)
    (root / "distorted_images").mkdir()
    _bmp(root / "reference_images" / "I01.BMP", 100)
    _bmp(root / "distorted_images" / "i01_01_1.bmp", 110)
    _bmp(root / "distorted_images" / "i01_24_5.bmp", 200)
    (root / "mos_with_names.txt").write_text("5.51429 i01_01_1.bmp\n1.25 i01_24_5.bmp\n")
    t = TID2013(tmp_path)
    assert len(t) == 2
    e = t.entries[1]
    assert (e.reference, e.kind, e.level, e.mos) == (0, 24, 5, 1.25)
    assert t.reference(0).shape == (3, 8, 8)
    assert abs(t.image(t.entries[0]).mean().item() - 110 / 255) < 1e-6


def test_not_an_archive(tmp_path):
    with pytest.raises(FileNotFoundError):
        TID2013(tmp_path)


def test_registry_path_raises_a_clear_error_when_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(tmp_path / "none"))  # nowhere holds it, on any machine
    monkeypatch.setattr("perceptual_compression.assets.locations.config_dirs", lambda: [])
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_CACHE", str(tmp_path / "cache"))
    with pytest.raises(AssetUnavailableError, match="(?i)tid2013"):
        tid2013(download=False)
