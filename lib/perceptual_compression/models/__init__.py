"""Models, one module per model family (import from the module itself)."""
