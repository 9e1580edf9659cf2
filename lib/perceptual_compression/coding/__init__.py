"""Real entropy coding on CompressAI: a self-describing container around rANS streams, and codecs.

Every rate the book reports is measured from these bytes: ``bpp = 8 * len(data) / pixels``, header included.

- :class:`ImageCodec` — images to bytes with any CompressAI-protocol model (pads, stores H and W, crops);
  :func:`pad_to_multiple` is its padding.
- :class:`EntropyBottleneckCodec` — latents under a factorized prior, a whole batch in one rANS stream.
- :class:`GaussianConditionalCodec` — latents given Gaussian scales (and means), a whole batch in one stream.
- :class:`CategoricalCodec` — integer symbols under a fixed per-channel pmf, a whole batch in one stream.
- :class:`BlockMeanCodec` — an untrained reference: each block's mean colour, fixed-length code.
- :class:`CodecError` — raised for corrupt, truncated, foreign, unsupported or mismatched bitstreams.

The container format is described in :mod:`perceptual_compression.coding.container`; the shared rANS stream
(several segments, one flush) in :mod:`perceptual_compression.coding.rans`.
"""

from .block_means import BlockMeanCodec
from .categorical import CategoricalCodec
from .container import CodecError, header_size, pack, unpack
from .entropy_bottleneck import EntropyBottleneckCodec
from .gaussian_conditional import GaussianConditionalCodec
from .image import ImageCodec, pad_to_multiple

__all__ = [
    "CodecError",
    "ImageCodec",
    "pad_to_multiple",
    "EntropyBottleneckCodec",
    "GaussianConditionalCodec",
    "CategoricalCodec",
    "BlockMeanCodec",
    "pack",
    "unpack",
    "header_size",
]
