"""Quantizers that are not CompressAI's (fixed-center soft/hard quantization, ...)."""
