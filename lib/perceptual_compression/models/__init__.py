"""Models, one module per family (hyperprior, HiFiC, factorized, PIM, VQ-VAE, ...). Import from the modules."""
