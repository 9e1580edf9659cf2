"""benchmarks/illm_sweep.py names its cached No-GAN models and labelers after their training settings."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from _benchmark_scripts import load_script

from perceptual_compression.training.illm import IllmConfig
from perceptual_compression.training.labeler import LabelerTrainingConfig

LPIPS = "150·MSE + LPIPS-Alex-lin"
FALLBACK = "150·MSE (fallback: LPIPS-Alex weights unavailable)"


def test_cached_models_are_named_after_their_settings_and_distortion():
    sweep = load_script("illm_sweep")
    cache = Path("/cache")

    def nogan(label=FALLBACK, **overrides):
        return sweep.nogan_checkpoint(cache, 0.14, 0, IllmConfig.for_scale("small", **overrides),
                                      SimpleNamespace(label=label)).name

    assert nogan() == f"nogan_small_0.14_s0_{IllmConfig.for_scale('small').tag(FALLBACK)}.pt"
    assert nogan() == "nogan_small_0.14_s0_aab40518a6.pt"  # regression value
    assert len({nogan(), nogan(label=LPIPS), nogan(steps=1800), nogan(lr=1e-3)}) == 4
    assert nogan(log_every=10) == nogan()

    def labeler(label="1·MSE (fallback: no LPIPS-VGG)", spatial=32, codebook=1024, **overrides):
        cfg = LabelerTrainingConfig.for_scale("small", spatial=spatial, codebook_size=codebook, steps=1500, **overrides)
        return sweep.labeler_checkpoint(cache, cfg, SimpleNamespace(label=label), 0).name

    small = LabelerTrainingConfig.for_scale("small", steps=1500)
    assert labeler() == f"labeler_v2_32_1024_1500_s0_{small.tag('1·MSE (fallback: no LPIPS-VGG)')}.pt"
    assert labeler(spatial=16, codebook=256).startswith("labeler_v2_16_256_1500_s0_")
    assert len({labeler(), labeler(label="1·MSE + LPIPS-VGG"), labeler(lr=1e-3), labeler(warmup_steps=20)}) == 4
