"""Quantizers that are not CompressAI's (fixed-center soft/hard quantizers), one module per quantizer."""
