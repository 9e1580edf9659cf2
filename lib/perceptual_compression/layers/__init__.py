"""Reusable layers: ChannelNorm2d, HiFiC residual blocks (import from the modules)."""
