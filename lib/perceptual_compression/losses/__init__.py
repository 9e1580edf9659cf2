<<<<<<< HEAD
"""Training objectives, one module each."""
=======
"""Training objectives, one module per objective (import from the module itself)."""
>>>>>>> ch2
