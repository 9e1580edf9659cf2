"""Synthetic sources with known densities and invariances (one module per source); import from the modules."""
