"""Quantized CDF tables for CompressAI's rANS coder, and fingerprints of them.

CompressAI's coder (``compressai.ans``) codes integer symbols with a list of quantized CDFs (16-bit
precision): symbol ``s`` coded with table ``i`` is looked up as ``v = s - offsets[i]``; values outside
``[0, cdf_lengths[i] - 2)`` are escaped and coded in a bypass mode. This module gathers such tables from

* an updated :class:`compressai.entropy_models.EntropyBottleneck` (one table per channel),
* an updated :class:`compressai.entropy_models.GaussianConditional` (one table per scale in its scale table),
* a probability mass function ``pmf[c, l]`` (one table per channel, built with CompressAI's own
  ``pmf_to_quantized_cdf``),

and computes fingerprints of them, which the container folds into its CRC so that a decoder with different
tables rejects the bitstream (:class:`~perceptual_compression.coding.CodecError`) instead of decoding garbage.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch
from compressai._CXX import pmf_to_quantized_cdf
from compressai.entropy_models import EntropyBottleneck, EntropyModel, GaussianConditional
from torch import nn

PRECISION = 16  # compressai.ans codes with 16-bit probabilities


@dataclass(frozen=True)
class CdfTable:
    """Quantized CDFs in the layout ``compressai.ans`` expects (plain Python lists, ready to pass)."""

    cdfs: list[list[int]]
    cdf_lengths: list[int]
    offsets: list[int]

    @property
    def num_tables(self) -> int:
        return len(self.cdf_lengths)

    def fingerprint(self) -> bytes:
        """Four bytes identifying the tables (CRC32 of CDFs, lengths and offsets)."""
        crc = 0
        for row, n in zip(self.cdfs, self.cdf_lengths):
            crc = zlib.crc32(np.asarray(row[:n], dtype="<i4").tobytes(), crc)
        crc = zlib.crc32(np.asarray(self.cdf_lengths, dtype="<i4").tobytes(), crc)
        crc = zlib.crc32(np.asarray(self.offsets, dtype="<i4").tobytes(), crc)
        return crc.to_bytes(4, "little")

    def most_probable(self, index: int) -> int:
        """The symbol value (offset included) with the largest frequency in table ``index`` (not the escape)."""
        n = self.cdf_lengths[index]
        freqs = np.diff(np.asarray(self.cdfs[index][:n], dtype=np.int64))[:-1]  # drop the escape slot
        return int(np.argmax(freqs)) + self.offsets[index]


def is_updated(module: EntropyModel) -> bool:
    """Whether ``update()`` has filled the module's quantized CDFs."""
    return module._quantized_cdf.numel() > 0 and module._offset.numel() > 0 and module._cdf_length.numel() > 0


def require_updated(model: nn.Module, what: str = "model") -> list[tuple[str, EntropyModel]]:
    """Return the entropy models inside ``model`` (in module order); raise if one has no CDF tables yet.

    Raises ``RuntimeError`` naming the module and the fix (``update()``), and ``ValueError`` if ``model``
    holds no CompressAI entropy model at all.
    """
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, EntropyModel)]
    if not found:
        raise ValueError(f"{what} contains no CompressAI entropy model (EntropyBottleneck/GaussianConditional)")
    missing = [n or type(m).__name__ for n, m in found if not is_updated(m)]
    if missing:
        raise RuntimeError(
            f"{what} has no entropy-coding tables yet ({', '.join(missing)}): call {what}.update() "
            "(or update(force=True) after further training) before compressing or decompressing"
        )
    return found


def _cpu_list(t: torch.Tensor) -> list:
    return t.detach().cpu().tolist()


def eb_medians(eb: EntropyBottleneck) -> torch.Tensor:
    """The per-channel medians of an EntropyBottleneck (its symbols are ``round(y - median)``)."""
    return eb.quantiles[:, 0, 1].detach()


def table_from_entropy_model(module: EntropyModel) -> CdfTable:
    """The quantized CDF tables of an updated EntropyBottleneck or GaussianConditional."""
    if not is_updated(module):
        raise RuntimeError(f"{type(module).__name__} has no CDF tables yet: call update() first")
    return CdfTable(
        cdfs=_cpu_list(module._quantized_cdf),
        cdf_lengths=[int(v) for v in _cpu_list(module._cdf_length.reshape(-1))],
        offsets=[int(v) for v in _cpu_list(module._offset.reshape(-1))],
    )


def entropy_model_fingerprint(module: EntropyModel) -> bytes:
    """Four bytes identifying everything a decoder needs from ``module`` besides its inputs.

    CDF tables, offsets and lengths for every entropy model; the medians for an EntropyBottleneck; the scale
    table (which maps scales to table indexes) for a GaussianConditional.
    """
    crc = 0
    for buf in (module._quantized_cdf, module._cdf_length, module._offset):
        crc = zlib.crc32(buf.detach().cpu().to(torch.int32).numpy().astype("<i4").tobytes(), crc)
    if isinstance(module, EntropyBottleneck):
        crc = zlib.crc32(eb_medians(module).cpu().to(torch.float32).numpy().astype("<f4").tobytes(), crc)
    if isinstance(module, GaussianConditional):
        crc = zlib.crc32(module.scale_table.detach().cpu().to(torch.float32).numpy().astype("<f4").tobytes(), crc)
    return crc.to_bytes(4, "little")


def model_fingerprint(model: nn.Module) -> bytes:
    """Fingerprint of every entropy model inside ``model`` (which must be updated)."""
    crc = 0
    for name, module in require_updated(model):
        crc = zlib.crc32(name.encode("utf-8") + entropy_model_fingerprint(module), crc)
    return crc.to_bytes(4, "little")


def gaussian_indexes(gaussian_conditional: GaussianConditional, scales: torch.Tensor) -> torch.Tensor:
    """Table index for each scale: the same values as ``GaussianConditional.build_indexes``, vectorised.

    CompressAI's version loops over the 64 table entries with a full-tensor comparison each; this is one
    ``searchsorted``: index = number of table scales (all but the last) strictly below ``max(scale, bound)``.
    """
    table = gaussian_conditional.scale_table
    if table.numel() == 0:
        raise RuntimeError("GaussianConditional has no scale table yet: call update() first")
    bounded = gaussian_conditional.lower_bound_scale(scales)
    edges = table[:-1].to(device=bounded.device, dtype=bounded.dtype).contiguous()
    return torch.searchsorted(edges, bounded.contiguous(), right=False).to(torch.int64)


def table_from_pmf(pmf: torch.Tensor) -> CdfTable:
    """Quantized CDFs for a categorical pmf of shape ``(C, L)``: one table per row, symbols ``0 .. L-1``.

    Each row is normalised, then CompressAI's ``pmf_to_quantized_cdf`` turns it (with one extra escape slot,
    which the rANS coder always reserves for out-of-range values and which our codecs never use) into a
    16-bit CDF in which every symbol, even one of probability zero, keeps a non-zero frequency.
    """
    pmf = torch.as_tensor(pmf, dtype=torch.float64).detach().cpu()
    if pmf.ndim != 2 or pmf.shape[0] < 1 or pmf.shape[1] < 1:
        raise ValueError(f"pmf must have shape (C, L) with C, L >= 1, got {tuple(pmf.shape)}")
    if not torch.isfinite(pmf).all() or (pmf < 0).any():
        raise ValueError("pmf must be finite and non-negative")
    sums = pmf.sum(dim=1, keepdim=True)
    if (sums <= 0).any():
        raise ValueError("every row of pmf must have a positive sum")
    levels = pmf.shape[1]
    if levels + 1 > (1 << PRECISION) // 2:
        raise ValueError(f"pmf has {levels} levels; at most {(1 << PRECISION) // 2 - 1} fit {PRECISION}-bit CDFs")
    pmf = pmf / sums
    cdfs = []
    for row in pmf:
        probs = row.tolist() + [0.0]  # escape slot: gets the smallest representable frequency
        cdfs.append([int(v) for v in pmf_to_quantized_cdf(probs, PRECISION)])
    return CdfTable(cdfs=cdfs, cdf_lengths=[levels + 2] * pmf.shape[0], offsets=[0] * pmf.shape[0])
