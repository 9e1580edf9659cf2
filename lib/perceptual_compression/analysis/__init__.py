"""Analyses of trained models: induced distances, sensitivities, correlations, relative performance."""
