"""The compressive MLP autoencoder of Hepburn et al. (ICLR 2022), Sec. 3 and appendix C (Fig. 10).

Encoder ``e`` and decoder ``d`` are MLPs ``2 -> 100 -> 100 -> 2`` (and the reverse) with softplus hidden
units and linear outputs; the latent ``y = e(x)`` is quantized by rounding at test time and replaced by
``y + u``, ``u ~ U(-1/2, 1/2)``, during training; CompressAI's :class:`~compressai.entropy_models.EntropyBottleneck`
models ``p(y~)`` per latent dimension. The loss is eq. 3 of the paper,

.. math::

    L = \\E_x\\big[-\\log_2 p(e(x) + \\Delta y)\\big] + \\lambda\\, D\\big(x, d(e(x) + \\Delta y)\\big),

with ``D`` the sum of squared errors. Appendix C also weights the distortion (eqs. 10-11: ``R + p(x)^gamma
lambda D``) or the whole objective (Fig. 13b: ``p(x)^0.1 (R + lambda D)`` on uniform samples); both
weights are arguments of :meth:`MLPAutoencoder.loss`.

A *bank* of ``n_models`` independent autoencoders is trained in one pass: every linear layer holds one
weight matrix per model (a batched matrix product) and one entropy bottleneck holds ``n_models x 2``
channels (its channels are independent). The losses are summed, so each model's gradient is its own and
Adam's per-parameter updates are those of separate runs; a clip of the gradient's norm must then be taken per
model too (:meth:`MLPAutoencoder.clip_grad_norm_per_model_`). :meth:`MLPAutoencoder.extract` returns model
``k`` as a stand-alone ``n_models=1`` autoencoder (for the codec).

Following CompressAI, test-time rounding is ``round(y - m) + m`` with ``m`` the median of each latent's
learned density (a unit-step scalar quantizer whose grid the entropy model places).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from compressai.entropy_models import EntropyBottleneck
from torch import nn


class BankedLinear(nn.Module):
    """``n_models`` independent affine maps applied to inputs of shape ``(n_models, B, in_features)``."""

    def __init__(self, in_features: int, out_features: int, n_models: int = 1) -> None:
        super().__init__()
        self.in_features, self.out_features, self.n_models = in_features, out_features, n_models
        bound = 1.0 / math.sqrt(in_features)  # the default initialisation of nn.Linear
        self.weight = nn.Parameter(torch.empty(n_models, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_models, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, n_models={self.n_models}"


class BankedMLP(nn.Module):
    """``sizes[0] -> ... -> sizes[-1]`` with softplus on the hidden layers and a linear output."""

    def __init__(self, sizes: tuple[int, ...], n_models: int = 1) -> None:
        super().__init__()
        self.layers = nn.ModuleList(BankedLinear(a, b, n_models) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.softplus(x)
        return x


class MLPAutoencoder(nn.Module):
    """A bank of ``n_models`` compressive MLP autoencoders (appendix C: ``dim=2, hidden=100, latent=2``)."""

    def __init__(self, dim: int = 2, hidden: int = 100, latent: int = 2, n_models: int = 1) -> None:
        super().__init__()
        if min(dim, hidden, latent, n_models) < 1:
            raise ValueError("dim, hidden, latent and n_models must be >= 1")
        self.dim, self.hidden, self.latent, self.n_models = dim, hidden, latent, n_models
        self.encoder = BankedMLP((dim, hidden, hidden, latent), n_models)
        self.decoder = BankedMLP((latent, hidden, hidden, dim), n_models)
        self.entropy_bottleneck = EntropyBottleneck(latent * n_models)

    # ------------------------------------------------------------------ transforms
    def _bank(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, dim)`` -> ``(n_models, B, dim)`` (shared inputs), ``(n_models, B, dim)`` passes through."""
        if x.dim() == 2:
            return x.unsqueeze(0).expand(self.n_models, *x.shape)
        if x.dim() == 3 and x.shape[0] == self.n_models:
            return x
        raise ValueError(f"expected inputs of shape (B, {self.dim}) or ({self.n_models}, B, {self.dim}), "
                         f"got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``y = e(x)``, shape ``(n_models, B, latent)`` (before quantization)."""
        return self.encoder(self._bank(x))

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        """``x_hat = d(y)``, shape ``(n_models, B, dim)``."""
        return self.decoder(self._bank_latent(y))

    def _bank_latent(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() == 3 and y.shape[0] == self.n_models:
            return y
        if y.dim() == 2 and self.n_models == 1:
            return y.unsqueeze(0)
        raise ValueError(f"expected latents of shape ({self.n_models}, B, {self.latent}), got {tuple(y.shape)}")

    def _flat(self, y: torch.Tensor) -> torch.Tensor:  # (K, B, L) -> (B, K*L): the bottleneck's channels
        return y.permute(1, 0, 2).reshape(y.shape[1], self.n_models * self.latent)

    def _unflat(self, y: torch.Tensor) -> torch.Tensor:  # (B, K*L) -> (K, B, L)
        return y.reshape(y.shape[0], self.n_models, self.latent).permute(1, 0, 2)

    def quantize(self, y: torch.Tensor) -> torch.Tensor:
        """Test-time quantization ``round(y - median) + median`` of latents ``(n_models, B, latent)``."""
        medians = self.entropy_bottleneck._get_medians().reshape(1, -1)
        flat = self._flat(y)
        return self._unflat(torch.round(flat - medians) + medians)

    def forward(self, x: torch.Tensor, training: bool | None = None) -> dict[str, torch.Tensor]:
        """Encode, quantize (noise if ``training`` else rounding), decode.

        Returns ``y`` (before quantization), ``y_hat``, ``x_hat`` (``(n_models, B, .)``), ``likelihoods``
        (``(n_models, B, latent)``) and ``bits`` (``(n_models, B)``: ``-log2 p(y_hat)`` summed over latents).
        """
        y = self.encode(x)
        y_hat, lik = self.entropy_bottleneck(self._flat(y), training=training)
        y_hat, lik = self._unflat(y_hat), self._unflat(lik)
        x_hat = self.decoder(y_hat)
        bits = -torch.log2(lik).sum(-1)
        return {"y": y, "y_hat": y_hat, "x_hat": x_hat, "likelihoods": lik, "bits": bits}

    # ------------------------------------------------------------------------ loss
    def loss(self, x: torch.Tensor, lmbda: torch.Tensor | float, *, distortion_weight: torch.Tensor | None = None,
             weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Eq. 3 per model, ``mean_b w_b (R_b + lambda wD_b D_b)``, summed over the bank.

        ``lmbda``: a number or one per model. ``distortion_weight`` (eqs. 10-11, e.g. ``p(x)^0.1``) and
        ``weight`` (Fig. 13b: the whole objective) are ``(B,)`` or ``(n_models, B)``. ``D`` is the sum of
        squared errors. Returns ``loss`` (scalar, to minimise) and per-model ``rate`` (bits per sample),
        ``sse`` and ``objective`` (each ``(n_models,)``, unweighted means for ``rate`` and ``sse``).
        """
        xb = self._bank(x)
        out = self(xb)
        sse = ((out["x_hat"] - xb) ** 2).sum(-1)
        lm = torch.as_tensor(lmbda, dtype=sse.dtype, device=sse.device).reshape(-1, 1)
        dist = lm * sse if distortion_weight is None else lm * distortion_weight * sse
        per = out["bits"] + dist
        if weight is not None:
            per = weight * per
        objective = per.mean(1)
        return {"loss": objective.sum(), "objective": objective.detach(), "rate": out["bits"].mean(1).detach(),
                "sse": sse.mean(1).detach()}

    def aux_loss(self) -> torch.Tensor:
        """CompressAI's quantile loss of the entropy bottleneck (for the code-range quantiles only)."""
        return self.entropy_bottleneck.loss()

    # --------------------------------------------------------------- bank handling
    def _model_slices(self):
        """``(parameter, index of model k)`` for every trained parameter (the quantiles have their own loss):
        the banked layers hold model ``k`` at ``[k]``, the entropy bottleneck at channels ``k*latent ...``."""
        for layer in list(self.encoder.layers) + list(self.decoder.layers):
            yield layer.weight, lambda k: k
            yield layer.bias, lambda k: k
        for name, p in self.entropy_bottleneck.named_parameters():
            if not name.endswith("quantiles"):
                yield p, lambda k: slice(k * self.latent, (k + 1) * self.latent)

    @torch.no_grad()
    def clip_grad_norm_per_model_(self, max_norm: float) -> torch.Tensor:
        """Clip each model's gradient to Euclidean norm ``max_norm``, as ``torch.nn.utils.clip_grad_norm_``
        would in a separate run of that model (scale ``min(1, max_norm / (norm + 1e-6))``). Clipping the bank's
        concatenated gradient instead would scale every model by one factor that the largest gradient sets,
        coupling the models. Returns the norms before clipping, ``(n_models,)``."""
        from ..training.grad_clip import clip_grad_norm_per_block_

        # every parameter holds model k in the k-th of K equal, contiguous blocks along its first dimension
        grads = [p.grad for p, _ in self._model_slices() if p.grad is not None]
        return clip_grad_norm_per_block_(grads, self.n_models, max_norm)

    @torch.no_grad()
    def extract(self, k: int) -> "MLPAutoencoder":
        """Model ``k`` of the bank as a stand-alone autoencoder (``n_models=1``), on the same device."""
        if not 0 <= k < self.n_models:
            raise IndexError(f"model index {k} out of range for a bank of {self.n_models}")
        single = MLPAutoencoder(self.dim, self.hidden, self.latent, 1).to(next(self.parameters()).device)
        for src, dst in zip(list(self.encoder.layers) + list(self.decoder.layers),
                            list(single.encoder.layers) + list(single.decoder.layers)):
            dst.weight.copy_(src.weight[k:k + 1])
            dst.bias.copy_(src.bias[k:k + 1])
        ch = slice(k * self.latent, (k + 1) * self.latent)
        eb_src, eb_dst = self.entropy_bottleneck, single.entropy_bottleneck
        for name, p in eb_dst.named_parameters():
            p.copy_(dict(eb_src.named_parameters())[name][ch])
        single.eval()
        return single
