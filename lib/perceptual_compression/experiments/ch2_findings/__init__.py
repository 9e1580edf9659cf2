"""What chapter 2 concludes from its results: the tables it displays beside the paper's numbers and the
entries of the reproduction-status page.

Two kinds of results are read here: the build's own small-scale runs, and the longer runs made by
``benchmarks/ch2_*.py`` and committed as JSON records (``benchmarks/results/``, read with
:func:`perceptual_compression.results.committed_run`). Each status entry is a ``dict`` of
:meth:`perceptual_compression.results.ChapterResults.add`'s arguments (``results.add(**entry)``); the rule that
sets its status is written once, here, and tested. A table row is a ``dict`` of
:func:`perceptual_compression.notebook.paper_vs_book`'s columns.

A status is ``"qualitative"`` when the result shows the paper's claim (its direction, not its number),
``"differs"`` when it does not, and ``"info"`` for a reference level or a diagnostic.

One module per part of the paper; every name is also importable from this package (``ch2_findings.fig2_reading``):

- :mod:`.observation1`: Observation 1 (appendix A.2, Fig. 6);
- :mod:`.study2d`: the 2D Student-t study, Observations 2-4 (Fig. 2) and Fig. 4 (left), the build's bank and the
  committed ones;
- :mod:`.factorized`: the factorized-prior pairs, Observation 5 (Fig. 3) and Fig. 4 (right);
- :mod:`.table1`: Table 1's entropy-limited autoencoders and its reference levels (Sec. 5.2);
- :mod:`.small_batch`: appendix E.1 (Fig. 20);
- :mod:`._common`: the constants and the shape of an entry that they share (thresholds the paper does not give:
  :data:`OBS1_MIN_RHO`, :data:`DIN_MIN_RHO`).
"""

from ._common import DIN_MIN_RHO, OBS1_MIN_RHO, PAPER_DR, REF, TABLE1_LOSSES
from .observation1 import observation1_reading
from .study2d import (EQ13_PRINTED, centre_tail, clip_comparison, eq13_entry, fig2_reading, fig4_2d_reading,
                      gamma1_entry, longer_entries, obs2_status, obs3_status, obs4_status, per_seed_centres,
                      rate_matched_entry,
                      run_ends, seed_entries, seed_table, study2d_correlations, study2d_entries, study2d_reading)
from .factorized import (FIG4_RIGHT, LOW_CONTRAST, contrast_entry, contrast_note, contrast_rows, contrast_status,
                         factorized_entries, kept_entry, observation5_reading, rate_factor_entry)
from .table1 import (ENTROPY_LIMITED_COLUMNS, block_mean_entry, entropy_limited_reading, entropy_limited_steps,
                     entropy_limited_table, noise_entry, noise_rows, soft_input_reading, table1_reading,
                     train_quantization)
from .small_batch import small_batch_entry, small_batch_reading, small_batch_rows

__all__ = [
    "DIN_MIN_RHO", "ENTROPY_LIMITED_COLUMNS", "EQ13_PRINTED", "FIG4_RIGHT", "LOW_CONTRAST", "OBS1_MIN_RHO", "PAPER_DR", "REF",
    "TABLE1_LOSSES", "block_mean_entry", "centre_tail", "clip_comparison", "contrast_entry", "contrast_note",
    "contrast_rows",
    "contrast_status", "entropy_limited_reading", "entropy_limited_steps", "entropy_limited_table", "eq13_entry",
    "factorized_entries", "fig2_reading", "fig4_2d_reading", "gamma1_entry", "kept_entry", "longer_entries",
    "noise_entry", "noise_rows", "obs2_status", "obs3_status", "obs4_status", "observation1_reading",
    "observation5_reading", "per_seed_centres", "rate_factor_entry", "rate_matched_entry", "run_ends",
    "seed_entries", "seed_table", "small_batch_entry", "small_batch_reading", "small_batch_rows",
    "soft_input_reading", "study2d_correlations", "study2d_entries", "study2d_reading", "table1_reading",
    "train_quantization",
]
