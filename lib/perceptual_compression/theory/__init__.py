"""Closed forms and solvers from the papers (one module per result); import from the modules themselves."""
