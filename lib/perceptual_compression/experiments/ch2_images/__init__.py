"""Chapter 2, the image experiments (Hepburn et al., ICLR 2022, Sec. 4, 5.1, 5.2; appendices D, E).

One module per experiment; every name is also importable from this package (``ch2_images.train_factorized``):

- :mod:`.factorized`: Ballé et al. (2018) factorized-prior autoencoders trained with ``D = 255^2 MSE`` or
  ``D = 1 - MS-SSIM`` in eq. 3 (:func:`train_factorized`; the paper used pretrained tensorflow-compression
  models), and the colour channels MS-SSIM training can lose (:func:`msssim_channels`, :func:`lost_channels`).
- :mod:`.evaluation`: real coding and scoring of decoded images (:func:`evaluate_codec`: real bpp from the
  bytes written, PSNR, MS-SSIM, NLPD), :func:`restore_channel_means`, :func:`center_crops`.
- :mod:`.quality_correlation`: Observation 5 (:func:`observation5`), Spearman correlations of ``D_r``, ``D_in``
  (and RMSE) with a quality score over (reference, distorted) pairs (Fig. 3; TID2013's MOS, or a named stand-in).
- :mod:`.contrast`: rate-normalised performance along the contrast axis (eq. 14, Fig. 4 right) and its
  distortion and rate factors, the channel means' share of the error, the pretrained pairs (:func:`zoo_models`).
- :mod:`.fine_tuning`: Fig. 4 (right) over training, read from the records of longer or from-scratch runs.
- :mod:`.noise`: the uniform noise of Sec. 5.2 (:func:`uniform_noise_batch`) and two labelled variants.
- :mod:`.entropy_limited`: the entropy-limited autoencoders of Sec. 5.2 trained on natural patches or on
  noise (:func:`train_entropy_limited`; Table 1, Figs. 5, 18, 19) and two diagnostics of their decoding.
- :mod:`.table1_references`: Table 1's untrained reference levels (flat grey, block means), how much each
  training distortion rewards the block means on noise, and the uniform-noise claim (:func:`table1_uniform_claim`).
- :mod:`.small_batch`: batch-size-1 training with NLPD vs MSE (appendix E.1, Fig. 20).

Training images are patches of the training set the chapter is given (the book uses scikit-image's
embedded photographs, so that Kodak stays a test set); evaluation is on Kodak.
"""

from .contrast import (contrast_factors, contrast_mean_error, contrast_performance, contrast_summary,
                       means_restored_factors, zoo_models, zoo_pairs)
from .entropy_limited import mean_restored_psnr, soft_quantized_psnr, train_entropy_limited
from .evaluation import center_crops, evaluate_codec, image_quality, restore_channel_means
from .factorized import channel_letters, lost_channel_report, lost_channels, msssim_channels, train_factorized
from .fine_tuning import fine_tuning_mean_ratio, fine_tuning_rows, healthy_pairs, kept_minima, lost_channel_names
from .noise import NOISE_KINDS, NOISE_TILE, uniform_noise_batch
from .quality_correlation import observation5
from .small_batch import SmallBatchResult, small_batch_run
from .table1_references import (GREY_MARGIN_DB, block_mean_fidelity, block_mean_scores, block_mean_spread,
                                flat_grey_scores, nlpd_level_profiles, noise_objective_gains, reference_coders,
                                table1_uniform_claim)

__all__ = [
    "GREY_MARGIN_DB", "NOISE_KINDS", "NOISE_TILE", "SmallBatchResult", "block_mean_fidelity", "block_mean_scores",
    "block_mean_spread", "center_crops", "channel_letters", "contrast_factors", "contrast_mean_error",
    "contrast_performance", "contrast_summary", "evaluate_codec", "fine_tuning_mean_ratio", "fine_tuning_rows",
    "flat_grey_scores",
    "healthy_pairs", "image_quality", "kept_minima", "lost_channel_names", "lost_channel_report", "lost_channels",
    "mean_restored_psnr", "means_restored_factors", "msssim_channels", "nlpd_level_profiles", "noise_objective_gains",
    "observation5", "reference_coders", "restore_channel_means", "small_batch_run", "soft_quantized_psnr",
    "table1_uniform_claim", "train_entropy_limited", "train_factorized", "uniform_noise_batch", "zoo_models", "zoo_pairs",
]
