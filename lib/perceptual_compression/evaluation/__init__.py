"""Evaluation: codecs over an image set (real bitstreams, per-image CSV, summary); downstream predictors,
Bayes-risk checks and rate-distortion summaries of compressed representations. Import from the modules."""
