"""Experiments of the papers (training and evaluation routines), one module each."""
