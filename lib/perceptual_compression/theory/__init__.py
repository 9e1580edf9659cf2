"""Closed forms and solvers of information-theoretic tradeoffs (R(D), R(D,P), bounds)."""
