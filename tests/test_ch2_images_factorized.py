"""experiments.ch2_images.factorized: factorized-prior training, resuming, and the colour channels MS-SSIM
training can lose."""

import numpy as np
import pytest
import torch

from perceptual_compression.experiments import ch2_images as img
from perceptual_compression.datasets import PatchDataset, embedded_images
from perceptual_compression.models.factorized_prior import factorized_prior
from _ch2_images_shared import equal_weights


def test_factorized_training_resumed_from_a_checkpoint_is_the_uninterrupted_run(tmp_path):
    """A run stopped at a checkpoint and resumed in a fresh process (new PatchDataset) ends with the weights
    of the run that never stopped: the patch stream continues instead of restarting from its seed."""
    from perceptual_compression.experiments.ch2_config import FactorizedConfig

    torch.set_num_threads(1)
    cfg = FactorizedConfig(n_low=8, m_low=8, patch_size=16, batch_size=2, steps=6, checkpoint_every=3, log_every=1)

    def run(**kw):
        return img.train_factorized(cfg, "mse", 0.01, 0, PatchDataset(embedded_images(), size=16, seed=5), seed=0,
                                    progress=False, **kw)

    whole = run()
    first = run(steps=3, checkpoint_path=tmp_path / "c.pt")
    resumed = run(checkpoint_path=tmp_path / "c.pt")
    assert equal_weights(whole, resumed)
    # the resumed model knows where it resumed, and its training time includes the first invocation's
    assert first.resumed_from is None and resumed.resumed_from == 3
    assert resumed.train_seconds > first.train_seconds > 0
    np.testing.assert_array_equal(resumed.history.values("loss"), whole.history.values("loss"))
    assert not equal_weights(whole, run(steps=3))  # (the comparison can fail)


def test_lost_channels_are_the_negative_means_and_the_zero_scores():
    assert img.lost_channels({"dead_channels": [], "mean_out": [0.4, 0.4, 0.3]}) == []
    assert img.lost_channels({"dead_channels": [2], "mean_out": [-0.1, 0.4, 0.3]}) == [0, 2]
    assert img.lost_channels({"dead_channels": [0], "mean_out": [-0.1, 0.4, 0.3]}) == [0]


class _Reconstruction(torch.nn.Module):
    """A stand-in codec: a fixed map of the input (``x_hat = 0.9 x + 0.05 - shift`` per channel)."""

    def __init__(self, shift=(0.0, 0.0, 0.0)):
        super().__init__()
        self.shift = torch.nn.Parameter(torch.tensor(shift).view(1, 3, 1, 1))

    def forward(self, x):
        return {"x_hat": 0.9 * x + 0.05 - self.shift}


def test_msssim_channels_flag_a_lost_channel_and_training_warns():
    """A channel reconstructed at a negative mean is lost (msssim_channels names it; here it also scores 0);
    a freshly initialised factorized model already has such channels (its output means are near 0, of either
    sign); and MS-SSIM training that ends with one warns."""
    from perceptual_compression.experiments.ch2_config import FactorizedConfig

    torch.set_num_threads(1)
    patches = PatchDataset(embedded_images(), size=64, flip=True, seed=0)
    images = patches.batch(3)
    healthy = img.msssim_channels(_Reconstruction(), images)
    assert healthy["lost_channels"] == healthy["dead_channels"] == [] and healthy["dead_share"].tolist() == [0.0, 0.0, 0.0]
    assert np.all(healthy["ms_ssim"] > 0.9)
    np.testing.assert_allclose(healthy["mean_in"], images.mean((0, 2, 3)).double().numpy(), rtol=1e-6)
    np.testing.assert_allclose(healthy["mean_out"], 0.9 * healthy["mean_in"] + 0.05, rtol=1e-6)
    lost = img.msssim_channels(_Reconstruction((1.0, 0.0, 0.0)), images)
    assert lost["lost_channels"] == lost["dead_channels"] == [0] and lost["dead_share"].tolist() == [1.0, 0.0, 0.0]
    assert lost["ms_ssim"][0] == 0.0 and lost["mean_out"][0] < 0
    np.testing.assert_allclose(lost["ms_ssim"][1:], healthy["ms_ssim"][1:])
    torch.manual_seed(0)
    fresh = factorized_prior(8, 8).eval()
    at_init = img.msssim_channels(fresh, images)
    assert at_init["lost_channels"] and at_init["lost_channels"] == [c for c in range(3) if at_init["mean_out"][c] < 0]
    cfg = FactorizedConfig(n_low=8, m_low=8, patch_size=64, batch_size=2, steps=2, checkpoint_every=0, log_every=1)
    with torch.no_grad():
        fresh.g_s[-1].bias[0] -= 3.0
    with pytest.warns(RuntimeWarning, match=r"channel\(s\) \[0[,\]].* negative mean"):
        broken = img.train_factorized(cfg, "ms-ssim", cfg.lambdas_msssim[1], 1, patches, seed=0, progress=False,
                                      init_from=fresh)
    # the model keeps what was lost, and the chapter's visible report names it (and nothing for healthy models)
    assert broken.lost_channels[0] == 0
    mse = img.train_factorized(cfg, "mse", cfg.lambdas_mse[1], 1, patches, seed=0, progress=False)
    assert mse.lost_channels == [] and img.lost_channel_report({"mse-1": mse}) is None
    report = img.lost_channel_report({"mse-1": mse, "ms-ssim-1": broken})
    assert report.startswith("Lost colour channel(s): ms-ssim-1: R") and "mse-1" not in report
