"""Image corruptions and augmentations, one module per family (import from the module itself)."""
