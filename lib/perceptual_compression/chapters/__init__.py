"""Chapter-level experiment drivers: per-scale settings and training routines, one module per chapter."""
