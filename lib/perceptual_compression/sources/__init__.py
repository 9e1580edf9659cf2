"""Synthetic sources with exact densities (2D Student-t, ...): one module per source."""
