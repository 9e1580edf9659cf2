"""Observation 1 (appendix A.2, Fig. 6): the sensitivity of perceptual distances against log p(x)."""

from __future__ import annotations

from collections.abc import Sequence

from ._common import OBS1_MIN_RHO, _entry


def observation1_reading(obs1: Sequence[dict], sigma: float, paper: dict[str, float]) -> tuple[list[dict], list[dict]]:
    """Observation 1 (appendix A.2, Fig. 6) at noise level ``sigma``: ρ(D/RMSE, log p) per perceptual distance
    (``paper``: the paper's value per distance name), ``"qualitative"`` above :data:`OBS1_MIN_RHO`; and RMSE's
    own row: its ratio is constant, so the paper's ρ = 0 holds by definition and the row shows, instead of a
    number, the measured correlation of RMSE itself with log p (Fig. 6's blue curve), when ``obs1`` has it."""
    rows, entries = [], []
    for name, pv in paper.items():
        rho = next(r for r in obs1 if r["distance"] == name and r["sigma"] == sigma)["rho_sensitivity_logp"]
        quantity = f"ρ({name}/RMSE, log p) at σ={sigma:g}"
        note = "paper: PixelCNN++ on CIFAR-10; book: small PixelCNN, Kodak patches"
        rows.append({"quantity": quantity, "paper": pv, "book": rho, "note": note})
        entries.append(_entry(f"obs1_{name.lower()}", quantity, paper=pv, ours=rho, unit="Spearman",
                              source="Appendix A.2, Fig. 6", note=note,
                              status="qualitative" if rho > OBS1_MIN_RHO else "differs"))
    at = [r for r in obs1 if r["sigma"] == sigma and "rho_rmse_logp" in r]
    note = "constant ratio: ρ undefined, 0 by definition" + (
        f"; RMSE itself vs log p: {at[0]['rho_rmse_logp']:.2f} (Fig. 6, blue)" if at else "")
    rows.append({"quantity": "ρ(RMSE/RMSE, log p)", "paper": 0.0, "book": "— (constant)", "note": note})
    return rows, entries
