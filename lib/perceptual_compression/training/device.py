"""Device selection: CUDA when present, else CPU."""

from __future__ import annotations

import os

import torch


def default_device(prefer: str | None = None) -> torch.device:
    """``prefer`` (e.g. ``"cpu"``), else ``$PERCEPTUAL_COMPRESSION_DEVICE``, else CUDA when available, else CPU."""
    choice = prefer or os.environ.get("PERCEPTUAL_COMPRESSION_DEVICE")
    if choice:
        dev = torch.device(choice)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {choice!r} was asked for but CUDA is not available on this machine")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
