"""Data augmentations that define invariances (one module per data set); import from the modules."""
