"""Quantizers that are not CompressAI's (fixed-center and soft-center quantizers), one module per quantizer."""
