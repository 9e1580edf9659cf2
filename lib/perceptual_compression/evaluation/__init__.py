"""Codec evaluation over an image set: real bitstreams, per-image CSV and a summary."""
