"""Compressors built on top of other representations (e.g. an entropy bottleneck over features)."""
