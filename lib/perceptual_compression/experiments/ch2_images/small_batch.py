"""Chapter 2, appendix E.1 (Fig. 20): batch-size-1 training with NLPD against MSE."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ...losses.perceptual_rate_distortion import distortion
from ...models.entropy_limited import EntropyLimitedAutoencoder
from ...training import Trainer, default_device, seed_everything

Tensor = torch.Tensor


@dataclass
class SmallBatchResult:
    steps: np.ndarray
    test_mse: dict[str, np.ndarray]  # loss -> (seeds, evals)

    @property
    def ratio(self) -> np.ndarray:
        """``E_test MSE(x, x_NLPD) / E_test MSE(x, x_MSE)`` per seed and evaluation (Fig. 20)."""
        return self.test_mse["nlpd"] / self.test_mse["mse"]


def small_batch_run(cfg, patches_factory: Callable[[int], object], test_images: Tensor | Sequence[Tensor], *, device=None,
                    progress: bool | None = None) -> SmallBatchResult:
    """Appendix E.1: the Fig. 17 architecture without quantization trained with batch size 1 on ``D = MSE``
    and on ``D = NLPD``, from the same initialisation and image order per seed; the mean test MSE over
    ``test_images`` is recorded every ``cfg.eval_every`` steps. ``patches_factory(seed)`` returns a patch
    dataset whose stream gives the image order for that seed."""
    device = device or default_device()
    tests = [test_images.to(device)] if isinstance(test_images, Tensor) else [t[None].to(device) for t in test_images]
    results = {"mse": [], "nlpd": []}
    steps = None
    for seed in cfg.seeds:
        for dist in ("mse", "nlpd"):
            seed_everything(seed)
            model = EntropyLimitedAutoencoder(cfg.n, cfg.m, quantize=False).to(device)
            opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
            patches = patches_factory(seed)
            evals, at = [], []

            @torch.no_grad()
            def test_mse() -> float:
                model.eval()
                errs = [((model(t)["x_hat"].clamp(0, 1) - t) ** 2).mean().item() for t in tests]
                model.train()
                return float(np.mean(errs))

            def step_fn(step: int):
                if step % cfg.eval_every == 0:
                    evals.append(test_mse())
                    at.append(step)
                x = patches.batch(1).to(device)
                loss = distortion(dist, x, model(x)["x_hat"]).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return {"loss": loss}

            Trainer(modules={"model": model}, optimizers={"opt": opt}, progress=progress,
                    desc=f"batch-size-1 {dist} seed {seed}").run(step_fn, cfg.steps)
            evals.append(test_mse())
            at.append(cfg.steps)
            results[dist].append(evals)
            steps = np.array(at)
    return SmallBatchResult(steps, {k: np.array(v) for k, v in results.items()})
