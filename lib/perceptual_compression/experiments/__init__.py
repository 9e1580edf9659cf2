"""Experiment drivers of the chapters: per-scale settings (`for_scale`), training and evaluation routines and their figures, one module per experiment (ch1: rdp_*, ch2: ch2_*)."""
