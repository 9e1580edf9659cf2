"""The asset registry: every external dataset and weight file the book uses, resolved to a verified path.

>>> from perceptual_compression.assets import resolve, AssetUnavailableError, asset_info
>>> path = resolve("kodak")          # directory of kodim01.png … kodim24.png
>>> asset_info("kodak").license

Entries live in ``data/registry.toml`` (official URL, checksum, size, licence, citation, chapters).
:func:`resolve` looks in the local data directories (``$PERCEPTUAL_COMPRESSION_DATA``, then
``data/config.toml``), then the cache, then downloads with checksum verification; see
:mod:`perceptual_compression.assets.resolver` for the details and the environment switches
(``PERCEPTUAL_COMPRESSION_OFFLINE``, ``PERCEPTUAL_COMPRESSION_ALLOW_UNVERIFIED``,
``PERCEPTUAL_COMPRESSION_TIMEOUT``, ``PERCEPTUAL_COMPRESSION_PROGRESS``). Command line:
``python -m perceptual_compression.assets list | where ID | fetch ID``.
"""

from .checksums import Checksum, file_digest
from .errors import AssetUnavailableError, ChecksumError, RegistryError
from .registry import Asset, AssetFile, asset_info, load_registry, registry
from .resolver import Probe, Resolution, cache_path, locate, probes, resolve

__all__ = [
    "resolve",
    "locate",
    "asset_info",
    "registry",
    "load_registry",
    "probes",
    "cache_path",
    "Asset",
    "AssetFile",
    "Checksum",
    "Probe",
    "Resolution",
    "AssetUnavailableError",
    "ChecksumError",
    "RegistryError",
    "file_digest",
]
