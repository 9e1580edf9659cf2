"""``ImageCodec``: images to bytes and back with any model that follows CompressAI's protocol."""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..params import check_choice
from .container import CodecError, pack, unpack
from .tables import model_fingerprint


PAD_MODES = ("reflect", "replicate")


def pad_to_multiple(x: torch.Tensor, stride: int, mode: str = "reflect") -> torch.Tensor:
    """``x`` ``(C, H, W)`` or ``(B, C, H, W)`` padded on the right and bottom to sides that are multiples of
    ``stride``: by reflection (the MS-ILLM reference's ``pad_image_to_factor``) or edge replication
    (``mode="replicate"``). A side no longer than its padding is replicated whatever the mode (a reflection needs
    the padding to be shorter than the side); the other side keeps ``mode``."""
    mode = check_choice("mode", mode, PAD_MODES)
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}")
    h, w = x.shape[-2:]
    ph, pw = (-h) % stride, (-w) % stride
    if pw:
        x = F.pad(x, (0, pw, 0, 0), mode=mode if pw < w else "replicate")
    if ph:
        x = F.pad(x, (0, 0, 0, ph), mode=mode if ph < h else "replicate")
    return x


@contextmanager
def _eval_mode(model: nn.Module):
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, mode in modes.items():
            m.training = mode


def model_stride(model: nn.Module) -> int:
    """The factor an image's height and width must be divisible by: ``model.stride``, else CompressAI's
    ``model.downsampling_factor``."""
    for name in ("stride", "downsampling_factor"):
        value = getattr(model, name, None)
        if isinstance(value, int) and value >= 1:
            return value
    raise ValueError(
        f"cannot tell the downsampling factor of {type(model).__name__}: give it a `stride` attribute "
        "or pass ImageCodec(..., stride=...)"
    )


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


class ImageCodec:
    """Compress images to bytes and back with a CompressAI-protocol model.

    The model provides ``compress(x) -> {"strings": [[bytes per image] per stream group], "shape": ...}``
    and ``decompress(strings, shape) -> {"x_hat": ...}`` (CompressAI's models and
    :class:`~perceptual_compression.models.mean_scale_hyperprior.MeanScaleHyperpriorAutoencoder` do), and must
    have been ``update()``-d after training. The codec pads the image on the right and bottom to a multiple of
    the model's stride (:func:`pad_to_multiple`: ``pad="reflect"``, as the MS-ILLM reference does, or
    ``"replicate"``), stores the original height and width, the model's
    ``shape`` and its strings in the container (:mod:`perceptual_compression.coding.container`), and on decoding
    crops and clamps to ``[0, 1]``. Rates are ``8 * len(data) / (H * W)``, header included (:meth:`bpp`).

    ``codec_id`` names the model and its weights (e.g. ``"ch4-noganms-q3"``); a decoder with another id, or
    whose entropy tables differ from the encoder's, raises :class:`CodecError`. Models run in eval mode under
    ``torch.no_grad()`` (their previous train/eval mode is restored). Encoder and decoder must compute the
    hyper-synthesis identically (same weights, device and numerical backend), as for every learned codec.
    """

    def __init__(self, model: nn.Module, codec_id: str, *, stride: int | None = None, pad: str = "reflect") -> None:
        for attr in ("compress", "decompress"):
            if not callable(getattr(model, attr, None)):
                raise TypeError(f"{type(model).__name__} has no {attr}() method (CompressAI protocol)")
        self.model = model
        self.codec_id = codec_id
        self.stride = int(stride) if stride is not None else model_stride(model)
        if self.stride < 1:
            raise ValueError(f"stride must be positive, got {stride}")
        self.pad = check_choice("pad", pad, PAD_MODES)
        pack(codec_id, [], [])  # validates the codec id early

    def _prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise ValueError("images must be float tensors in [0, 1] of shape (3, H, W) or (B, 3, H, W)")
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if x.ndim != 4 or x.shape[0] < 1 or x.shape[2] < 1 or x.shape[3] < 1:
            raise ValueError(f"images must have shape (3, H, W) or (B, C, H, W), got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("images contain NaN or infinite values")
        h, w = x.shape[-2:]
        return pad_to_multiple(x.to(_model_device(self.model)), self.stride, self.pad), h, w

    def compress(self, x: torch.Tensor) -> bytes:
        """Bytes for an image ``(3, H, W)`` or a batch ``(B, 3, H, W)`` in ``[0, 1]``."""
        fingerprint = model_fingerprint(self.model)  # also checks that update() was called
        xp, h, w = self._prepare(x)
        batch = xp.shape[0]
        with _eval_mode(self.model):
            out = self.model.compress(xp)
        strings, shape = out["strings"], out["shape"]
        shape = [int(s) for s in (shape if isinstance(shape, (tuple, list, torch.Size)) else [shape])]
        streams = []
        for group in strings:
            group = list(group) if isinstance(group, (list, tuple)) else [group]
            if len(group) != batch:
                raise RuntimeError(f"{type(self.model).__name__}.compress returned {len(group)} strings for {batch} images")
            streams.extend(bytes(s) for s in group)
        return pack(self.codec_id, [h, w, batch, *shape], streams, fingerprint=fingerprint)

    def decompress(self, data: bytes) -> torch.Tensor:
        """The reconstruction ``(B, 3, H, W)`` in ``[0, 1]`` (on the model's device) from :meth:`compress`'s bytes."""
        box = unpack(data, self.codec_id, fingerprint=model_fingerprint(self.model))
        if len(box.fields) < 3:
            raise CodecError("bitstream is corrupt (image header incomplete)")
        h, w, batch, *shape = box.fields
        if h < 1 or w < 1 or batch < 1 or len(box.streams) % batch:
            raise CodecError("bitstream is corrupt (inconsistent image header)")
        groups = [list(box.streams[g * batch : (g + 1) * batch]) for g in range(len(box.streams) // batch)]
        try:
            with _eval_mode(self.model):
                x_hat = self.model.decompress(groups, torch.Size(shape))["x_hat"]
        except (ValueError, RuntimeError, IndexError, AssertionError) as err:
            raise CodecError(f"{type(self.model).__name__} could not decode the bitstream: {err}") from err
        if x_hat.ndim != 4 or x_hat.shape[0] != batch or x_hat.shape[-2] < h or x_hat.shape[-1] < w:
            raise CodecError(f"decoded tensor {tuple(x_hat.shape)} does not fit the stored size {batch}x{h}x{w}")
        return x_hat[..., :h, :w].clamp(0.0, 1.0)

    def estimate_bits(self, x: torch.Tensor) -> float:
        """The model's estimated bits for ``x`` (padded as for coding): ``-sum log2`` of the likelihoods its
        eval-mode forward returns. Compare with ``8 * len(self.compress(x))``."""
        xp, _, _ = self._prepare(x)
        with _eval_mode(self.model):
            out = self.model(xp)
        return float(sum(-torch.log2(lik).sum() for lik in out["likelihoods"].values()))

    def bpp(self, data: bytes, num_pixels: int | None = None) -> float:
        """``8 * len(data) / num_pixels``; ``num_pixels`` defaults to ``B * H * W`` stored in the header."""
        if num_pixels is None:
            h, w, batch = unpack(data, self.codec_id, fingerprint=model_fingerprint(self.model)).fields[:3]
            num_pixels = h * w * batch
        if num_pixels <= 0:
            raise ValueError(f"num_pixels must be positive, got {num_pixels}")
        return 8.0 * len(data) / num_pixels

