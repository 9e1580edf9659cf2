"""Chapter 2, the 2D Student-t study (Hepburn et al., ICLR 2022, Sec. 3, Sec. 5.1-5.2, appendix C).

One bank of compressive MLP autoencoders (:mod:`perceptual_compression.models.mlp_autoencoder`) is trained
at once; each member has its own objective and training data:

==========  ==========================================  ===========================================
family      objective                                    data
==========  ==========================================  ===========================================
``L1``      ``R + lambda D``            (eq. 9)          2D Student-t samples
``L2``      ``R + p(x)^0.1 lambda D``   (eq. 10)         2D Student-t samples
``L3``      ``R + p(x)^-0.1 lambda D``  (eq. 11)         2D Student-t samples
``U``       ``R + lambda D``            (Fig. 13a)       uniform samples on a square
``UW``      ``p(x)^0.1 (R + lambda D)`` (Fig. 13b)       uniform samples on a square
==========  ==========================================  ===========================================

``D`` is the sum of squared errors and ``p`` the exact Student-t density. The functions here train the
bank with :class:`~perceptual_compression.training.Trainer`, measure rates from real bitstreams
(:class:`~perceptual_compression.coding.EntropyBottleneckCodec`), compute the Spearman correlations of
Observations 2-4 (Fig. 2), the quantization cells and code vectors (Figs. 11-13) and the relative
performance along the x-axis (Fig. 4 left, Fig. 14).

One module per part; every name is also importable from this package (``ch2_study2d.train_bank``):

- :mod:`.bank`: the families and members, :func:`train_bank`, :func:`load_bank`, :func:`member_rates`;
- :mod:`.sensitivity`: Observations 2-4 (:func:`sensitivity_correlations`), Observation 3 with the coded map over
  displacement sizes (:func:`rounded_displacement_sweep`), and their course over training;
- :mod:`.cells`: the quantization cells and code vectors (Figs. 11-13);
- :mod:`.relative`: Fig. 4 (left) and Fig. 14, paired by equal lambda or equal coded rate, over one bank or
  several seeds.
"""

from .bank import (CLIP_MODES, FAMILIES, Member, TrainedBank, bank_members, distortion_weight_normalisers,
                   load_bank, member_rates, record_clip, record_command, train_bank)
from .sensitivity import correlations_by_samples, rounded_displacement_sweep, sensitivity_correlations
from .cells import pointwise_rate_distortion, quantization_cells
from .relative import (across_seeds, as_printed_eq13, compare_banks, compare_pairings, fig4_summary, line_profiles,
                       rate_matched_relative, relative_from_profiles, relative_performance_along_x,
                       without_collapsed_pairs)

__all__ = [
    "CLIP_MODES", "FAMILIES", "Member", "TrainedBank", "across_seeds", "as_printed_eq13", "bank_members",
    "compare_banks",
    "compare_pairings", "correlations_by_samples", "distortion_weight_normalisers", "fig4_summary", "line_profiles",
    "load_bank", "member_rates", "pointwise_rate_distortion", "quantization_cells", "rate_matched_relative",
    "record_clip", "record_command", "relative_from_profiles", "relative_performance_along_x",
    "rounded_displacement_sweep", "sensitivity_correlations", "train_bank",
    "without_collapsed_pairs",
]
