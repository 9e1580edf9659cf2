"""K independent MLP compressors trained in one pass (rate–distortion sweeps over beta, objectives, seeds).

A sweep of small models on a CPU is dominated by per-operation overhead, not arithmetic. Here the K
members' MLP layers are stacked into ``(K, in, out)`` weight tensors applied with one batched matrix
multiply, and their latents share one CompressAI EntropyBottleneck with ``K * z_dim`` channels (its
densities are per channel, so members stay independent). The loss is the sum of the members' losses,
parameters are disjoint, Adam is elementwise and the gradient is clipped per member
(:meth:`CompressorEnsemble.clip_grad_norm_per_member_`, the clip at 3 a standalone run applies), so every
member takes exactly the steps it would take alone from the same initialisation, batches and quantization
noise — up to floating-point summation order. (Clipping the concatenated gradient would instead scale
every member by one factor that the largest gradient sets.)

:meth:`CompressorEnsemble.member` extracts member ``k`` as an ordinary
:class:`~perceptual_compression.models.invariant_compressor.InvariantCompressor` (MLP encoder and
decoder, its own :class:`~perceptual_compression.models.vector_prior.FactorizedPrior`), which is what the
chapter evaluates and entropy-codes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..losses.vic import distortion_bits
from ..training.schedules import exponential_decay
from .invariant_compressor import InvariantCompressor, adam
from .vector_prior import FactorizedPrior

_ACTIVATIONS = {"softplus": nn.Softplus, "relu": nn.ReLU}


class StackedLinear(nn.Module):
    """K linear maps ``(K, B, in) -> (K, B, out)``; member ``k`` initialised like ``nn.Linear`` from ``seeds[k]``."""

    def __init__(self, k: int, in_dim: int, out_dim: int, seeds: Sequence[int]) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        w = torch.empty(k, in_dim, out_dim)
        b = torch.empty(k, 1, out_dim)
        for i, s in enumerate(seeds):
            g = torch.Generator().manual_seed(int(s))
            w[i] = (torch.rand(in_dim, out_dim, generator=g) * 2 - 1) * bound
            b[i] = (torch.rand(1, out_dim, generator=g) * 2 - 1) * bound
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)

    def member(self, k: int) -> nn.Linear:
        lin = nn.Linear(self.weight.shape[1], self.weight.shape[2])
        with torch.no_grad():
            lin.weight.copy_(self.weight[k].T)
            lin.bias.copy_(self.bias[k, 0])
        return lin


class StackedMLP(nn.Module):
    """K MLPs with ``layers`` hidden layers of width ``hidden``."""

    def __init__(self, k: int, in_dim: int, out_dim: int, hidden: int, layers: int, seeds: Sequence[int],
                 activation: str = "softplus") -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * layers + [out_dim]
        self.linears = nn.ModuleList(
            StackedLinear(k, a, b, [1_000_003 * int(s) + 7919 * j for s in seeds])
            for j, (a, b) in enumerate(zip(dims[:-1], dims[1:]))
        )
        self.activation = activation
        self.act = _ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, lin in enumerate(self.linears):
            x = lin(x)
            if i < len(self.linears) - 1:
                x = self.act(x)
        return x

    def member(self, k: int) -> nn.Sequential:
        mods: list[nn.Module] = []
        for i, lin in enumerate(self.linears):
            mods.append(lin.member(k))
            if i < len(self.linears) - 1:
                mods.append(_ACTIVATIONS[self.activation]())
        return nn.Sequential(*mods)


class CompressorEnsemble(nn.Module):
    """K MLP compressors (encoder, factorized prior, decoder) on inputs of shape ``input_shape``.

    ``forward(x)`` takes ``(K, B, *input_shape)`` and returns ``z_hat (K, B, z_dim)`` and bits ``(K, B)``.
    """

    def __init__(self, k: int, input_shape: tuple[int, ...], z_dim: int, hidden: int, layers: int,
                 seeds: Sequence[int], *, activation: str = "softplus") -> None:
        super().__init__()
        if len(seeds) != k:
            raise ValueError(f"need one seed per member: {k} members, {len(seeds)} seeds")
        self.k = k
        self.input_shape = tuple(input_shape)
        self.in_dim = math.prod(self.input_shape)
        self.z_dim = z_dim
        self.encoder = StackedMLP(k, self.in_dim, z_dim, hidden, layers, seeds, activation)
        self.decoder = StackedMLP(k, z_dim, self.in_dim, hidden, layers, [s + 104_729 for s in seeds], activation)
        with torch.random.fork_rng():
            torch.manual_seed(int(seeds[0]))
            self.prior = FactorizedPrior(k * z_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.reshape(self.k, x.shape[1], self.in_dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)                                   # (K, B, z)
        b = z.shape[1]
        flat = z.permute(1, 0, 2).reshape(b, self.k * self.z_dim)
        z_hat, bits = self.prior.forward_elementwise(flat)   # (B, K*z), (B, K*z)
        z_hat = z_hat.reshape(b, self.k, self.z_dim).permute(1, 0, 2)
        bits = bits.reshape(b, self.k, self.z_dim).sum(-1).T
        return z_hat, bits

    def decode(self, z_hat: torch.Tensor) -> torch.Tensor:
        out = self.decoder(z_hat)
        return out.reshape(self.k, z_hat.shape[1], *self.input_shape)

    def _member_blocks(self) -> list[torch.Tensor]:
        """Every trained parameter (the prior's quantiles are not trained) as a view whose first dimension
        holds the K members in K equal, contiguous blocks."""
        out = []
        for name, p in self.named_parameters():
            if name.endswith("quantiles"):
                continue
            if p.shape[0] != self.k and p.shape[0] != self.k * self.z_dim:
                raise RuntimeError(f"parameter {name} of shape {tuple(p.shape)} is not split by member")
            out.append(p)
        return out

    @torch.no_grad()
    def clip_grad_norm_per_member_(self, max_norm: float) -> torch.Tensor:
        """Clip each member's gradient to Euclidean norm ``max_norm``, as ``torch.nn.utils.clip_grad_norm_``
        does in a standalone run (scale ``min(1, max_norm / (norm + 1e-6))``). Returns the norms before
        clipping, ``(K,)``."""
        from ..training.grad_clip import clip_grad_norm_per_block_

        return clip_grad_norm_per_block_([p.grad for p in self._member_blocks() if p.grad is not None], self.k,
                                         max_norm)

    def member(self, k: int) -> InvariantCompressor:
        """Member ``k`` as a standalone compressor (weights copied; its prior's CDF tables updated)."""
        if not 0 <= k < self.k:
            raise IndexError(f"member {k} of an ensemble of {self.k}")
        enc = self.encoder.member(k)
        dec = self.decoder.member(k)
        if len(self.input_shape) > 1:
            enc = nn.Sequential(nn.Flatten(), *enc)
            dec = nn.Sequential(*dec, nn.Unflatten(1, self.input_shape))
        prior = FactorizedPrior(self.z_dim)
        src = self.prior.entropy_bottleneck.state_dict()
        sl = slice(k * self.z_dim, (k + 1) * self.z_dim)
        dst = {name: (t[sl].clone() if t.dim() > 0 and t.shape[0] == self.k * self.z_dim else t.clone())
               for name, t in src.items() if name in dict(prior.entropy_bottleneck.named_parameters())
               or name == "target"}
        prior.entropy_bottleneck.load_state_dict(dst, strict=False)
        prior.update(force=True)
        model = InvariantCompressor(enc, prior, decoder=dec)
        return model.eval()


def train_ensemble(ensemble: CompressorEnsemble, batch_fn: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
                   betas: Sequence[float], *, steps: int, lr: float, lr_decay: float = 1.0,
                   likelihood: str = "gaussian", seed: int = 0, checkpoint_path: str | Path | None = None,
                   progress: bool | None = None, desc: str = "ensemble", streams: Mapping[str, Any] | None = None,
                   grad_clip: float = 3.0):
    """Train every member on ``rate + beta_k * distortion`` (bits). ``batch_fn(step)`` returns
    ``(inputs, targets)``, each ``(K, B, *input_shape)`` (each member's own input and reconstruction target).
    ``grad_clip``: each member's gradient norm is clipped to it, as
    :func:`~perceptual_compression.models.invariant_compressor.train_compressor` clips a standalone run's
    (default 3, the same); 0 does not clip.
    Returns the :class:`~perceptual_compression.training.TrainingHistory` (per-member rates and distortions).
    ``streams``: the random generators ``batch_fn`` draws from (saved in checkpoints and restored on resume).
    """
    from ..training import Trainer, default_device

    if len(betas) != ensemble.k:
        raise ValueError(f"need one beta per member: {ensemble.k} members, {len(betas)} betas")
    device = default_device()
    ensemble.to(device)
    beta = torch.tensor([float(b) for b in betas], device=device)
    main = adam([p for n, p in ensemble.named_parameters() if not n.endswith("quantiles")], lr)
    decay = float(lr_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        main, lambda s: exponential_decay(s, total_steps=max(1, steps), decay=decay))

    def step_fn(step: int) -> dict[str, torch.Tensor]:
        x, target = batch_fn(step)
        x, target = x.to(device), target.to(device)
        z_hat, bits = ensemble(x)
        decoded = ensemble.decode(z_hat)
        k, b = bits.shape
        dist = distortion_bits(decoded.reshape(k * b, -1), target.reshape(k * b, -1), likelihood).reshape(k, b)
        rate_k, dist_k = bits.mean(1), dist.mean(1)
        loss = (rate_k + beta * dist_k).sum()
        main.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip:
            ensemble.clip_grad_norm_per_member_(grad_clip)
        main.step()
        sched.step()
        out = {"loss": loss.detach()}
        if step % 10 == 0 or step == steps - 1:
            out.update({f"rate_{i}": rate_k[i].detach() for i in range(k)})
            out.update({f"distortion_{i}": dist_k[i].detach() for i in range(k)})
        return out

    trainer = Trainer(modules={"ensemble": ensemble}, optimizers={"main": main},
                      schedulers={"main": sched}, checkpoint_path=checkpoint_path,
                      checkpoint_every=max(1, steps // 4) if checkpoint_path else 0, seed=seed, progress=progress,
                      desc=desc, log_every=10, loss_keys=("loss",), streams=streams)
    history = trainer.run(step_fn, steps)
    ensemble.prior.update(force=True)
    ensemble.eval()
    return history
