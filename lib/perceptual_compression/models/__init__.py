"""Models, one module per family (import from the modules, e.g. ``models.hific``)."""
