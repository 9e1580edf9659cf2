"""One rANS stream for many symbols, on CompressAI's coder (``compressai.ans``).

CompressAI's entropy models write one rANS stream per batch element (``EntropyBottleneck.compress`` returns a
list of strings). Every stream ends with a flush of the coder's 64-bit state and is rounded up to 32-bit
words, so each costs about 32-64 bits on top of the information it carries. For small latents this dominates:
lossyless codes a 2-dimensional MNIST latent at 10-37x its estimated rate for this reason. Here a whole batch,
and several segments coded with different tables (e.g. a hyper-latent, then the latent it conditions), share
one stream, so the fixed cost is paid once:

* :func:`encode_stream` pushes segments ``(symbols, indexes, table)`` into one
  ``compressai.ans.BufferedRansEncoder`` and flushes once;
* :class:`StreamDecoder` decodes the segments back in the same order with ``compressai.ans.RansDecoder``
  (``set_stream`` / ``decode_stream``), so a later segment's indexes may depend on an earlier segment's values.

Measured per-stream overhead (coded bits minus the ideal ``-log2`` cost under the 16-bit tables): 32-64 bits,
i.e. under 0.1% once a stream holds more than ~10^4 bits. Known limitation worked around here: CompressAI's
encoder sizes its output buffer by the number of symbols and overruns it for streams of fewer than 4 symbols
(heap corruption, seen as "double free" aborts), so short streams are padded with the most probable symbol,
which the decoder simply never reads (rANS decodes in the order symbols were pushed). A second one: values
at or beyond 2**27 from a table's offset make CompressAI's encoder loop forever; they are rejected with a
``ValueError`` before it is called.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from compressai.ans import BufferedRansEncoder, RansDecoder

from .container import CodecError
from .tables import CdfTable

MIN_SYMBOLS = 4  # below this CompressAI's encoder writes outside its buffer (see module docstring)
# The bypass mode codes |value - offset| with 4-bit nibbles; from 2**27 on, CompressAI's nibble count shifts a
# 32-bit integer by 32 (undefined behaviour) and its encoder loops forever. Stay below.
MAX_ABS_VALUE = (1 << 27) - 1


def _as_int_list(a: np.ndarray | Sequence[int]) -> list[int]:
    return np.asarray(a, dtype=np.int64).reshape(-1).tolist()


def check_values(symbols: np.ndarray, indexes: np.ndarray, table: CdfTable) -> None:
    """Raise ``ValueError`` unless every ``symbol - offset`` is codable (magnitude below 2**27)."""
    if symbols.size == 0:
        return
    values = symbols.astype(np.int64) - np.asarray(table.offsets, dtype=np.int64)[indexes]
    if not ((values > -MAX_ABS_VALUE) & (values < MAX_ABS_VALUE)).all():
        raise ValueError(
            "values out of the codable range (|symbol - offset| must be < 2**27); "
            "are the latents finite and sensibly scaled?"
        )


def encode_stream(segments: Sequence[tuple[np.ndarray, np.ndarray, CdfTable]]) -> bytes:
    """Code ``segments`` of ``(symbols, table indexes, table)`` into one rANS stream (empty if no symbols)."""
    encoder = BufferedRansEncoder()
    total = 0
    last_table = None
    for symbols, indexes, table in segments:
        symbols = np.asarray(symbols).reshape(-1)
        indexes = np.asarray(indexes).reshape(-1)
        if symbols.shape != indexes.shape:
            raise ValueError(f"symbols ({symbols.size}) and indexes ({indexes.size}) differ in size")
        if symbols.size == 0:
            continue
        if int(indexes.min()) < 0 or int(indexes.max()) >= table.num_tables:
            raise ValueError(f"table indexes must lie in [0, {table.num_tables})")
        check_values(symbols, indexes, table)
        encoder.encode_with_indexes(
            _as_int_list(symbols), _as_int_list(indexes), table.cdfs, table.cdf_lengths, table.offsets
        )
        total += symbols.size
        last_table = table
    if total == 0:
        return b""
    if total < MIN_SYMBOLS:
        pad = MIN_SYMBOLS - total
        value = last_table.most_probable(0)
        encoder.encode_with_indexes([value] * pad, [0] * pad, last_table.cdfs, last_table.cdf_lengths,
                                    last_table.offsets)
    return encoder.flush()


class StreamDecoder:
    """Decode the segments of a stream written by :func:`encode_stream`, in order.

    ``total_symbols`` is the number of symbols the caller will decode (known from the container's fields);
    it is used to check the stream's size before the C++ decoder touches it.
    """

    def __init__(self, stream: bytes, total_symbols: int) -> None:
        self._remaining = int(total_symbols)
        self._decoder = None
        if self._remaining == 0:
            if stream:
                raise CodecError("bitstream is corrupt (a stream holds data but no symbols are expected)")
            return
        if len(stream) < 8 or len(stream) % 4:
            raise CodecError(f"bitstream is corrupt (a rANS stream of {len(stream)} bytes is impossible)")
        # Zero words after the stream keep a decoder fed with the wrong tables (a model mismatch that the
        # fingerprint cannot see, e.g. different hyper-synthesis weights) from reading past the buffer.
        padded = bytes(stream) + bytes(4 * min(self._remaining + 4, 1 << 22))
        self._decoder = RansDecoder()
        self._decoder.set_stream(padded)

    def decode(self, indexes: np.ndarray, table: CdfTable) -> np.ndarray:
        """Decode ``indexes.size`` symbols coded with ``table``; returns int64 values shaped like ``indexes``."""
        indexes = np.asarray(indexes)
        n = indexes.size
        if n == 0:
            return np.zeros(indexes.shape, dtype=np.int64)
        if n > self._remaining:
            raise CodecError("bitstream is corrupt (more symbols requested than it holds)")
        if int(indexes.min()) < 0 or int(indexes.max()) >= table.num_tables:
            raise ValueError(f"table indexes must lie in [0, {table.num_tables})")
        self._remaining -= n
        values = self._decoder.decode_stream(_as_int_list(indexes), table.cdfs, table.cdf_lengths, table.offsets)
        return np.asarray(values, dtype=np.int64).reshape(indexes.shape)


def ideal_bits(symbols: np.ndarray, indexes: np.ndarray, table: CdfTable) -> float:
    """``-sum log2 q(symbol)`` under the quantized tables (escaped values counted at their bypass cost).

    This is what an ideal coder using the same 16-bit tables would spend; the rANS stream adds its 32-64
    bit per-stream overhead on top. Useful to split "coded vs estimated" into quantization and coder parts.
    """
    symbols = np.asarray(symbols, dtype=np.int64).reshape(-1)
    indexes = np.asarray(indexes, dtype=np.int64).reshape(-1)
    bits = 0.0
    lengths = np.asarray(table.cdf_lengths)
    offsets = np.asarray(table.offsets)
    for t in np.unique(indexes):
        cdf = np.asarray(table.cdfs[t][: lengths[t]], dtype=np.float64)
        logq = np.log2(np.diff(cdf)) - 16.0
        v = symbols[indexes == t] - offsets[t]
        max_value = lengths[t] - 2
        inside = (v >= 0) & (v < max_value)
        bits -= logq[v[inside]].sum()
        out = v[~inside]
        if out.size:
            raw = np.where(out < 0, -2 * out - 1, 2 * (out - max_value))
            nibbles = np.ceil(np.log2(raw + 1) / 4).astype(np.int64)
            bits += out.size * -logq[max_value] + 4.0 * (nibbles + nibbles // 15 + 1).sum()
    return float(bits)
