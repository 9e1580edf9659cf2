"""Training objectives, one module per objective (import from the module itself)."""
