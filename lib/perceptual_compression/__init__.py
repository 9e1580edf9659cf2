"""perceptual_compression — the library behind the perceptual lossy compression reproduction book.

The package is organised by concept, one idea per module:

- :mod:`perceptual_compression.assets`   — the asset registry (datasets and weights: URL, sha256, cache).
- :mod:`perceptual_compression.datasets` — image sets (Kodak, embedded photographs), MNIST, patch datasets.
- :mod:`perceptual_compression.coding`   — real entropy coding: bitstream container and codecs on CompressAI's rANS.
- :mod:`perceptual_compression.metrics`  — PSNR, MS-SSIM, LPIPS, NLPD, FID/KID and a weight-free distribution distance.
- :mod:`perceptual_compression.training` — seeding, devices, schedules and a checkpointing training loop.
- :mod:`perceptual_compression.results`  — results JSON written by each chapter for the reproduction-status page.
- :mod:`perceptual_compression.reference`— the papers' own numbers, stored as cited data under ``data/reference``.
- chapter subpackages: ``theory``, ``sources``, ``models``, ``losses``, ``quantizers``, ``evaluation``.
"""

__version__ = "0.1.0"
