"""The registry's exceptions.

There is one exception type for "this asset cannot be had": :class:`AssetUnavailableError`. It
subclasses :class:`FileNotFoundError` so that code written against plain file loading still catches
it. Its message is a single line that says what was looked for (id and title), where (every local
directory, the cache and every URL tried, each with the reason it did not work) and how to provide
the asset.

:class:`ChecksumError` is a subclass of :class:`AssetUnavailableError`: bytes that do not match the
registry's checksum make the asset unavailable just like a missing file, so chapters that catch
``AssetUnavailableError`` to fall back also fall back on a corrupt download. The offending file is
always deleted before the error is raised (downloads) or left untouched and ignored (copies that a
user placed in a local data directory).
"""

from __future__ import annotations


class RegistryError(ValueError):
    """``data/registry.toml`` is malformed (names the entry and the field)."""


class AssetUnavailableError(FileNotFoundError):
    """An asset could not be found locally, in the cache, or downloaded (one-line message)."""

    def __init__(self, message: str, *, asset_id: str | None = None):
        message = " ".join(str(message).split())  # guarantee a single line
        super().__init__(message)
        self.asset_id = asset_id
        self.message = message

    def __str__(self) -> str:  # FileNotFoundError would otherwise format errno/filename
        return self.message


class ChecksumError(AssetUnavailableError):
    """Downloaded or local bytes do not match the registry's checksum or size."""
