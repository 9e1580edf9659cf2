"""The factorized-prior autoencoder of Ballé et al. (ICLR 2018), as used by Hepburn et al. (ICLR 2022), Sec. 4
and 5.1, appendix D (Fig. 15).

Analysis ``e``: four 5x5 stride-2 convolutions with GDN between them; synthesis ``d``: four 5x5 stride-2
transposed convolutions with inverse GDN; a factorized (per-channel, non-parametric) entropy model on
``y = e(x)``; additive uniform noise in training, rounding in evaluation. The paper uses ``N=128, M=192``
for the five lower rates and ``N=192, M=320`` above. CompressAI's :class:`compressai.models.FactorizedPrior`
is exactly this model (and follows the codec protocol used by
:class:`perceptual_compression.coding.ImageCodec`), so it is used directly; this module adds the width
choice of appendix D, the objective with an MSE or MS-SSIM distortion, and the two representations whose
distances Sec. 4 studies (``y = e(x)`` and ``x_hat = f(x)``).
"""

from __future__ import annotations

import torch
from compressai.models import FactorizedPrior

__all__ = ["FactorizedPrior", "factorized_prior", "widths_for_rate", "inner", "reconstruct", "ZOO_METRICS",
           "ZOO_QUALITIES", "zoo_asset_id", "load_zoo_factorized"]

#: CompressAI's pretrained ``bmshj2018-factorized`` models: one per quality and training distortion.
ZOO_QUALITIES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
ZOO_METRICS: tuple[str, ...] = ("mse", "ms-ssim")


def widths_for_rate(index: int, *, n_low_rates: int = 5, low: tuple[int, int] = (128, 192),
                    high: tuple[int, int] = (192, 320)) -> tuple[int, int]:
    """``(N, M)`` for the ``index``-th rate (0-based, increasing): appendix D's widths."""
    if index < 0:
        raise ValueError("index must be >= 0")
    return low if index < n_low_rates else high


def factorized_prior(n: int = 128, m: int = 192) -> FactorizedPrior:
    """A Ballé et al. (2018) factorized-prior autoencoder with ``N=n`` filters and ``M=m`` latent channels."""
    if n < 1 or m < 1:
        raise ValueError("n and m must be >= 1")
    return FactorizedPrior(N=n, M=m)


def inner(model: FactorizedPrior, x: torch.Tensor, *, quantized: bool = False) -> torch.Tensor:
    """The inner representation ``y = e(x)`` (or its rounded value ``Q(y)`` if ``quantized``)."""
    y = model.g_a(x)
    if quantized:
        y = model.entropy_bottleneck.quantize(y, "dequantize", model.entropy_bottleneck._get_medians())
    return y


def reconstruct(model: FactorizedPrior, x: torch.Tensor, *, quantized: bool = True) -> torch.Tensor:
    """``f(x) = d(Q(e(x)))`` (or the continuous ``d(e(x))``), clamped to ``[0, 1]`` like a decoded image."""
    return model.g_s(inner(model, x, quantized=quantized)).clamp(0, 1)


def zoo_asset_id(quality: int, metric: str = "mse") -> str:
    """The asset-registry id of CompressAI's pretrained factorized-prior model of ``quality`` (1-8) trained
    with ``metric`` (``"mse"``, or ``"ms-ssim"``: fine-tuned from the MSE model, CompressAI's zoo notes)."""
    if metric not in ZOO_METRICS:
        raise ValueError(f"metric={metric!r} is not valid; valid values are: {', '.join(map(repr, ZOO_METRICS))}")
    if quality not in ZOO_QUALITIES:
        raise ValueError(f"quality={quality!r} is not valid; valid values are: {', '.join(map(str, ZOO_QUALITIES))}")
    return f"compressai-bmshj2018-factorized-q{quality}" if metric == "mse" else \
        f"compressai-bmshj2018-factorized-ms-ssim-q{quality}"


def load_zoo_factorized(quality: int, metric: str = "mse", *, download: bool | None = None,
                        device: str | torch.device | None = None) -> FactorizedPrior:
    """CompressAI's pretrained factorized-prior model (Ballé et al. 2018), weights resolved through the asset
    registry (local data directory, cache, then the official URL with its checksum): the PyTorch counterpart
    of the tensorflow-compression models Hepburn et al. evaluate (appendix D).

    A missing file raises :class:`~perceptual_compression.assets.AssetUnavailableError` (one line: what was
    looked for, where, and how to provide it). The file is a state dict; CompressAI's key renaming for older
    checkpoints is applied, the widths ``N, M`` are read from it (appendix D: 128/192 for qualities 1-5,
    192/320 above) and checked against the quality's, the entropy tables are rebuilt and the model is returned
    in eval mode on ``device`` (default: CUDA when present).
    """
    from compressai.zoo.pretrained import load_pretrained as rename_keys

    from ..assets import resolve
    from ..training import default_device

    asset_id = zoo_asset_id(quality, metric)
    path = resolve(asset_id, download=download)
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = rename_keys(state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or "g_a.0.weight" not in state:
        raise ValueError(f"{path} ({asset_id}) is not a CompressAI factorized-prior state dict")
    model = FactorizedPrior.from_state_dict(state)
    want = widths_for_rate(quality - 1)
    if (model.N, model.M) != want:
        raise ValueError(f"{path} ({asset_id}) holds N={model.N}, M={model.M}; quality {quality} is N={want[0]}, "
                         f"M={want[1]} (appendix D)")
    model.update(force=True)
    model.zoo = {"asset_id": asset_id, "quality": quality, "metric": metric}
    return model.to(default_device(device)).eval()
