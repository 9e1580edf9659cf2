"""What every part of chapter 2's findings shares: the reference file, the paper's values used in several
places, the thresholds the paper does not give, and the shape of a status entry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

REF = "ch2_likelihood"
PAPER_DR = "0.49 -> 0.31"  # Sec. 3: rho(D_r/RMSE, p) falls from 0.49 at 2.03 bpp to 0.31 at 4.67 bpp
TABLE1_LOSSES = ("mse", "ms-ssim", "nlpd")
# the correlations that count as showing an observation; the paper gives values, not thresholds
OBS1_MIN_RHO = 0.2  # Observation 1: rho(D/RMSE, log p), paper 0.51 (NLPD) and 0.63 (1 - MS-SSIM) at sigma = 1
DIN_MIN_RHO = 0.3  # Observation 4: max rho(D_in/RMSE, p) over rates, paper 0.90


def _entry(key: str, quantity: str, *, paper: Any, ours: Any, unit: str, source: str, status: str,
           note: str) -> dict[str, Any]:
    """A status entry: :meth:`~perceptual_compression.results.ChapterResults.add`'s arguments, all named."""
    return {"key": key, "quantity": quantity, "paper": paper, "ours": ours, "unit": unit, "source": source,
            "status": status, "note": note}


def _recorded(run: dict) -> str:
    return run["command"]


def _source(run: dict, name: str, command: Callable[[dict], str] = _recorded) -> str:
    """Where a committed record's number comes from: its file, date and the command that made it (``command``
    reads it from the record; the 2D study's records pass ``ch2_study2d.record_command``)."""
    return f"benchmarks/results/{name}.json ({run['date'][:10]}): `{command(run)}`"


def _commands(runs: Sequence[dict], command: Callable[[dict], str] = _recorded) -> str:
    """The commands that made several committed records, each in backquotes."""
    return "; ".join(f"`{command(r)}`" for r in runs)
