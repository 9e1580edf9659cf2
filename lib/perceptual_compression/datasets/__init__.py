"""Data for the chapters: image sets (Kodak, scikit-image's embedded photographs, folders), MNIST, patches.

>>> from perceptual_compression.datasets import natural_images, kodak, embedded_images, mnist, PatchDataset
>>> images = natural_images()        # Kodak if it resolves, else the embedded set (images.is_fallback)
>>> images.label, images[0].shape    # provenance, (3, H, W) float in [0, 1]
>>> train_x, train_y = mnist("train")  # uint8 (60000, 28, 28), int64 (60000,)
>>> patches = PatchDataset(images, size=64, flip=True, seed=0); patches.batch(8).shape
"""

from .images import EMBEDDED_FILES, KODAK_NAMES, ImageSet, embedded_images, image_folder, kodak, natural_images
from .mnist import MNIST, IDXFormatError, mnist, read_idx
from .patches import PatchDataset, PatchParams

__all__ = [
    "ImageSet",
    "kodak",
    "embedded_images",
    "natural_images",
    "image_folder",
    "EMBEDDED_FILES",
    "KODAK_NAMES",
    "mnist",
    "MNIST",
    "read_idx",
    "IDXFormatError",
    "PatchDataset",
    "PatchParams",
]
