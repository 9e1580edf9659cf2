"""Observations 2-4 (Sec. 3, Fig. 2): Spearman correlations of D_s, D_r/RMSE and D_in/RMSE with p(x1) for small
perturbations, per member; and the same read from committed records over training."""

from __future__ import annotations

import math

import numpy as np
import torch

from ...analysis.correlation import spearman
from ...analysis.induced_distances import induced_distances, perturb
from .bank import TrainedBank


def _member_maps(bank: TrainedBank, families: tuple[str, ...]):
    """``(member, enc, dec, quant)`` for every member of ``families``: its encoder, decoder and quantizer on one
    sample at a time (no bank axis), in float64. The sensitivities are differences of outputs at points a small
    ``delta`` apart, which float32's 7 digits resolve only to about 1e-3 relative at delta = 1e-3 (up to 9 % on an
    untrained model)."""
    for k, member in enumerate(bank.members):
        if member.family not in families:
            continue
        single = bank.model.extract(k).double()
        yield (member, lambda v, m=single: m.encode(v)[0], lambda y, m=single: m.decode(y.unsqueeze(0))[0],
               lambda y, m=single: m.quantize(y.unsqueeze(0))[0])


def _deciles(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the 10% most probable points and of the 10% least probable ones."""
    return p >= np.quantile(p, 0.9), p <= np.quantile(p, 0.1)


@torch.no_grad()
def sensitivity_correlations(bank: TrainedBank, *, n: int, delta: float, seed: int = 0,
                             families: tuple[str, ...] = ("L1",), noise_draws: int = 8) -> list[dict[str, float]]:
    """Spearman correlations of ``D_s``, ``D_r/RMSE`` and ``D_in/RMSE`` with ``p(x1)`` (Fig. 2).

    ``x1`` are ``n`` Student-t samples, ``x2 = x1 + delta u`` with ``u`` a random unit vector. ``D_s``
    uses the coded reconstruction (rounding); ``D_r`` and ``D_in`` use the continuous maps ``d(e(x))``
    and ``e(x)``, whose sensitivity is a derivative (with rounding, a displacement of ``delta`` rarely
    leaves its quantization cell and ``D_r`` would be mostly 0). Also reported: the rounded variants
    (``*_rounded``), displacements along the high-variance x-axis only (``*_xaxis``), ``D_r`` through the
    channel the model was trained with (``rho_Dr_noisy``: ``||d(e(x1) + u) - d(e(x2) + u)||`` averaged over
    ``noise_draws`` draws of ``u ~ U(-1/2, 1/2)^2`` shared by ``x1`` and ``x2``; the draws come from a generator
    seeded with ``seed + 1`` and are the same for every member), and the median gain
    ``||f(x1) - f(x2)|| / ||x1 - x2||`` of the continuous ``f`` over the 10% most probable points
    (``gain_f_mode``) and the 10% least probable ones (``gain_f_tail``): 1 is the identity, below 1 the map
    contracts. The maps are evaluated in float64.
    """
    g = torch.Generator().manual_seed(seed)
    x1 = bank.source.sample(n, generator=g).double()
    x2 = perturb(x1, delta, generator=g)
    x2_axis = x1 + torch.tensor([delta, 0.0], dtype=x1.dtype)
    dev = next(bank.model.parameters()).device
    p1 = bank.source.prob(x1).numpy()  # on the CPU, where the samples are drawn; the model may be on CUDA
    x1, x2, x2_axis = x1.to(dev), x2.to(dev), x2_axis.to(dev)
    noise = None  # (noise_draws, n, latent), drawn once the latent size is known
    rows = []
    for member, enc, dec, quant in _member_maps(bank, families):
        cont = induced_distances(x1, x2, enc, dec, quantize=quant, self_quantized=True)
        rounded = induced_distances(x1, x2, enc, dec, quantize=quant, self_quantized=True,
                                    rec_quantized=True, inner_quantized=True)
        c = cont.spearman_with(p1)
        gain = cont.d_rec / (cont.rmse * math.sqrt(x1.shape[1]))
        top, bottom = _deciles(p1)
        r = rounded.spearman_with(p1)
        a = induced_distances(x1, x2_axis, enc, dec, quantize=quant).spearman_with(p1)
        y1, y2 = enc(x1), enc(x2)
        if noise is None:
            gu = torch.Generator().manual_seed(seed + 1)
            noise = (torch.rand(noise_draws, *y1.shape, generator=gu) - 0.5).to(y1.device)
        d_noisy = torch.stack([(dec(y1 + u) - dec(y2 + u)).norm(dim=1) for u in noise]).mean(0)
        rho_noisy = spearman(d_noisy.cpu().double().numpy() / cont.rmse, p1)
        rows.append({"member": member.name, "family": member.family, "lambda": member.lmbda,
                     "rho_Ds": c["D_s"], "rho_Dr": c["D_r/RMSE"], "rho_Din": c["D_in/RMSE"],
                     "rho_Ds_continuous": induced_distances(x1, x2, enc, dec).spearman_with(p1)["D_s"],
                     "rho_Dr_rounded": r["D_r/RMSE"], "rho_Din_rounded": r["D_in/RMSE"],
                     "rho_Dr_xaxis": a["D_r/RMSE"], "rho_Din_xaxis": a["D_in/RMSE"], "rho_Dr_noisy": rho_noisy,
                     "gain_f_mode": float(np.median(gain[top])), "gain_f_tail": float(np.median(gain[bottom]))})
    return rows


def correlations_by_samples(records: list[dict], *, lambdas=None) -> list[dict]:
    """Fig. 2's correlations against training length, one row per ``L1`` member and measurement.

    ``records`` mixes the JSON records of ``benchmarks/ch2_study2d.py`` (a bank measured at the end of its
    training: ``steps_done``, else ``config["steps"]``) and of ``benchmarks/ch2_study2d_trajectory.py`` (one
    bank measured at several checkpoints). Each row holds the seed, the member's ``lambda``, the ``batch``
    size, the training ``steps``, ``samples`` seen (steps × batch), the coded ``bits`` per sample and ``rho_Ds``, ``rho_Dr``,
    ``rho_Din``, ``gain_f_mode``, ``gain_f_tail``. ``lambdas`` keeps only those lambdas."""
    rows = []

    def add(seed, batch, steps, members, bits):
        for m in members:
            if m.get("family", "L1") != "L1" or not m["member"].startswith("L1-"):
                continue
            lam = float(m["lambda"])
            if lambdas is not None and not any(math.isclose(lam, float(v)) for v in lambdas):
                continue
            rows.append({"seed": int(seed), "lambda": lam, "batch": int(batch), "steps": int(steps),
                         "samples": int(steps) * int(batch),
                         "bits": float(bits[m["member"]]),
                         **{k: float(m[k]) for k in ("rho_Ds", "rho_Dr", "rho_Din", "gain_f_mode", "gain_f_tail")}})

    for r in records:
        batch = r["config"]["batch_size"]
        if "checkpoints" in r:
            for ck in r["checkpoints"]:
                add(r["seed"], batch, ck["steps"], ck["members"], {m["member"]: m["bits_per_sample"] for m in ck["members"]})
        else:
            add(r["seed"], batch, r.get("steps_done") or r["config"]["steps"], r["correlations"],
                {m["member"]: m["bits_per_sample"] for m in r["rates"]})
    return sorted(rows, key=lambda row: (row["lambda"], row["seed"], row["batch"], row["steps"]))


@torch.no_grad()
def rounded_displacement_sweep(bank: TrainedBank, *, n: int, deltas, seed: int = 0,
                               families: tuple[str, ...] = ("L1",)) -> list[dict[str, float]]:
    """Observation 3 with the coded map ``f = d(Q(e(x)))`` over displacement sizes, one row per member and ``delta``.

    With rounding, ``D_r = ||f(x1) - f(x2)||`` is nonzero only when ``x2 = x1 + delta u`` falls in another
    quantization cell, so its rank correlation with ``p(x1)`` is decided by *where* a displacement changes the
    code. If the cells were smallest where ``p`` is largest (Observation 3's argument), codes would change most
    often at the mode and the correlation would be positive. Each row holds ``rho_Dr_rounded`` (Spearman of
    ``D_r/RMSE`` with ``p(x1)``), the share of pairs whose code changes (``changed``), and that share over the 10%
    most probable points (``changed_mode``) and the 10% least probable ones (``changed_tail``). ``x1`` are ``n``
    Student-t samples drawn with ``seed``; the unit directions ``u`` are drawn once and shared by every ``delta``
    and member. The maps are evaluated in float64."""
    deltas = [float(d) for d in deltas]
    if not deltas or min(deltas) <= 0:
        raise ValueError(f"deltas must be positive, got {deltas}")
    g = torch.Generator().manual_seed(seed)
    x1 = bank.source.sample(n, generator=g).double()
    u = perturb(torch.zeros_like(x1), 1.0, generator=g)
    p1 = bank.source.prob(x1).numpy()
    top, bottom = _deciles(p1)
    dev = next(bank.model.parameters()).device
    x1, u = x1.to(dev), u.to(dev)
    rows = []
    for member, enc, dec, quant in _member_maps(bank, families):
        q1 = quant(enc(x1))
        for delta in deltas:
            x2 = x1 + delta * u
            d = induced_distances(x1, x2, enc, dec, quantize=quant, rec_quantized=True, inner_quantized=True)
            changed = (quant(enc(x2)) != q1).any(dim=1).cpu().numpy()
            rows.append({"member": member.name, "family": member.family, "lambda": member.lmbda, "delta": delta,
                         "rho_Dr_rounded": spearman(d.d_rec / d.rmse, p1), "changed": float(changed.mean()),
                         "changed_mode": float(changed[top].mean()), "changed_tail": float(changed[bottom].mean())})
    return rows
