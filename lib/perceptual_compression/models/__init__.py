"""Model families, one module per family; import from the modules themselves."""
