"""Checksums as the registry writes them, and file hashing memoized per process.

A checksum in ``data/registry.toml`` is a string ``"<kind>:<hex>"`` that says which kind of digest
the publisher gives:

================== =====================================================================
``sha256:<64 hex>`` full SHA-256 of the file (preferred)
``md5:<32 hex>``    MD5 as published (e.g. torchvision's MNIST table)
``sha1:<40 hex>``   SHA-1 as published
``sha256_prefix:<hex>`` the leading hex digits of the SHA-256, as in torch.hub file names
                    (``alexnet-owt-7be5be79.pth``: torch.hub's ``check_hash`` convention)
``unknown``         no checksum is published; such files are only downloaded on explicit opt-in
================== =====================================================================

Hashing a file is memoized on ``(path, size, mtime_ns, inode)`` so that verifying the same local
copies again in one process is free.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import RegistryError

_HEX_LENGTHS = {"sha256": 64, "md5": 32, "sha1": 40}
_KINDS = ("sha256", "md5", "sha1", "sha256_prefix")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Checksum:
    """A parsed registry checksum: ``kind`` is one of sha256, md5, sha1, sha256_prefix, unknown."""

    kind: str
    hexdigest: str = ""

    @classmethod
    def parse(cls, text: str, *, where: str = "") -> "Checksum":
        if not isinstance(text, str):
            raise RegistryError(f"{where}: checksum must be a string like 'sha256:<hex>' or 'unknown', got {text!r}")
        text = text.strip()
        if text == "unknown":
            return cls("unknown")
        kind, sep, digest = text.partition(":")
        digest = digest.strip().lower()
        if not sep or kind not in _KINDS:
            raise RegistryError(
                f"{where}: checksum {text!r} must be '<kind>:<hex>' with kind in {', '.join(_KINDS)}, or 'unknown'"
            )
        if not re.fullmatch(r"[0-9a-f]+", digest):
            raise RegistryError(f"{where}: checksum {text!r} is not hexadecimal")
        if kind in _HEX_LENGTHS and len(digest) != _HEX_LENGTHS[kind]:
            raise RegistryError(f"{where}: a {kind} digest has {_HEX_LENGTHS[kind]} hex digits, got {len(digest)}")
        if kind == "sha256_prefix" and not 6 <= len(digest) < 64:
            raise RegistryError(f"{where}: a sha256_prefix has 6 to 63 hex digits, got {len(digest)}")
        return cls(kind, digest)

    @property
    def known(self) -> bool:
        return self.kind != "unknown"

    @property
    def algorithm(self) -> str | None:
        """The hashlib algorithm needed to check it (``None`` when unknown)."""
        if self.kind == "unknown":
            return None
        return "sha256" if self.kind == "sha256_prefix" else self.kind

    def matches(self, hexdigest: str) -> bool:
        """Whether a full digest of :attr:`algorithm` satisfies this checksum."""
        if self.kind == "unknown":
            return False
        if self.kind == "sha256_prefix":
            return hexdigest.startswith(self.hexdigest)
        return hexdigest == self.hexdigest

    def __str__(self) -> str:
        return "unknown" if self.kind == "unknown" else f"{self.kind}:{self.hexdigest}"


_memo: dict[tuple, str] = {}
_memo_lock = threading.Lock()


def _key(path: Path, algorithm: str) -> tuple:
    st = os.stat(path)
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino, algorithm)


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, memoized per process on (path, size, mtime, inode, algorithm)."""
    path = Path(path)
    key = _key(path, algorithm)
    with _memo_lock:
        if key in _memo:
            return _memo[key]
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    digest = h.hexdigest()
    with _memo_lock:
        _memo[key] = digest
    return digest


def combined_digest(paths: list[Path], algorithm: str) -> str:
    """Digest of the concatenation of several files in order (how NeuralCompression checks Kodak)."""
    h = hashlib.new(algorithm)
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                h.update(block)
    return h.hexdigest()


def clear_memo() -> None:
    """Forget memoized digests (tests; files rewritten in place keep their mtime only rarely)."""
    with _memo_lock:
        _memo.clear()
