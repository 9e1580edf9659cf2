"""Evaluation of compressors: downstream predictors, Bayes-risk checks, rate-distortion summaries."""
