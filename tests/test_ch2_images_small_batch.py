"""experiments.ch2_images.small_batch: batch-size-1 training with NLPD vs MSE (appendix E.1)."""

import numpy as np

from perceptual_compression.experiments import ch2_images as img
from perceptual_compression.experiments.ch2_config import SmallBatchConfig
from perceptual_compression.datasets import PatchDataset, embedded_images


def test_small_batch_starts_from_the_same_network():
    cfg = SmallBatchConfig(n=4, m=4, seeds=(0, 1), steps=3, lr=1e-3, patch_size=48, eval_every=1)
    res = img.small_batch_run(cfg, lambda s: PatchDataset(embedded_images(), size=48, seed=s),
                              img.center_crops(embedded_images(), 2, 32), progress=False)
    assert res.ratio.shape == (2, 4) and list(res.steps) == [0, 1, 2, 3]
    # before the first step both networks are the same initialisation: the ratio is exactly 1
    np.testing.assert_allclose(res.ratio[:, 0], 1.0)
    assert not np.allclose(res.ratio[:, -1], 1.0)
