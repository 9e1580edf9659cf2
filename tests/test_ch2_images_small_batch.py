"""experiments.ch2_images.small_batch: batch-size-1 training with NLPD vs MSE (appendix E.1)."""

import numpy as np
import torch

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


class _Recorder:
    """A patch stream that records what each run draws from it."""

    def __init__(self, seed, log):
        self.data, self.log, self.seed = PatchDataset(embedded_images(), size=48, seed=seed), log, seed
        self.drawn = []
        log.append(self)

    def batch(self, n):
        x = self.data.batch(n)
        self.drawn.append(x.clone())
        return x


def test_both_losses_see_the_same_images_one_at_a_time():
    cfg = SmallBatchConfig(n=4, m=4, seeds=(0, 1), steps=4, lr=1e-3, patch_size=48, eval_every=2)
    log = []
    res = img.small_batch_run(cfg, lambda s: _Recorder(s, log), img.center_crops(embedded_images(), 2, 32),
                              progress=False)
    assert list(res.steps) == [0, 2, 4] and res.ratio.shape == (2, 3)
    assert [r.seed for r in log] == [0, 0, 1, 1]  # per seed: the MSE run, then the NLPD run, each with its stream
    for r in log:
        assert [tuple(x.shape) for x in r.drawn] == [(1, 3, 48, 48)] * cfg.steps  # batch size 1, one per step
    for mse_run, nlpd_run in (log[:2], log[2:]):
        assert all(torch.equal(a, b) for a, b in zip(mse_run.drawn, nlpd_run.drawn))  # the same image order
    assert not torch.equal(log[0].drawn[0], log[2].drawn[0])  # another seed, other images
