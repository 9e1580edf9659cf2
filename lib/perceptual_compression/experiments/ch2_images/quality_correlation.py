"""Chapter 2, Observation 5 (Sec. 4, Fig. 3): Spearman correlations of the induced distances ``D_r`` and
``D_in`` (and RMSE) with quality scores (TID2013's MOS, or a named stand-in)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ...analysis.correlation import spearman
from ...analysis.induced_distances import rmse
from ...models.factorized_prior import inner, reconstruct

Tensor = torch.Tensor


@torch.no_grad()
def observation5(models: dict[str, object], references: Sequence[Tensor], distorted: Sequence[tuple[int, Tensor]],
                 scores: dict[str, Sequence[float]]) -> dict[str, list[dict[str, float]]]:
    """Spearman correlation of ``D_r``, ``D_in`` (and RMSE) with quality scores over (reference, distorted) pairs.

    ``distorted``: ``(reference index, image)``; ``scores``: name -> one score per pair, oriented so that a
    *larger* score means *more* distortion (a distance, or ``-MOS``), so agreement is a positive correlation.
    ``D_r = ||f(x1) - f(x2)||`` with the coded reconstruction, ``D_in = ||e(x1) - e(x2)||`` before rounding.
    The distances are computed once and correlated with every score. Returns name -> rows (one per model,
    the first being RMSE).
    """
    x1 = [references[i] for i, _ in distorted]
    dist = {"RMSE": ([float(rmse(a[None], b[None])) for a, (_, b) in zip(x1, distorted)], None)}
    for name, model in models.items():
        dev = next(model.parameters()).device
        cache: dict[int, tuple[Tensor, Tensor]] = {}
        d_r, d_in = [], []
        for (i, image) in distorted:
            if i not in cache:
                r = references[i][None].to(dev)
                cache[i] = (inner(model, r), reconstruct(model, r))
            y1, f1 = cache[i]
            b = image[None].to(dev)
            d_in.append(float((inner(model, b) - y1).norm()))
            d_r.append(float((reconstruct(model, b) - f1).norm()))
        dist[name] = (d_r, d_in)
    out = {}
    for sname, sc in scores.items():
        sc = np.asarray(sc, dtype=np.float64)
        out[sname] = [{"model": name, "rho_Dr": spearman(d_r, sc),
                       "rho_Din": spearman(d_in, sc) if d_in is not None else float("nan")}
                      for name, (d_r, d_in) in dist.items()]
    return out
