"""MS-ILLM stage 1: the distortion of eq. 9 (and its offline fallback), the learning-rate schedule, the
recipe's paper values, training patches, and a short pretraining run with checkpoint/resume."""

import math

import pytest
import torch
from torch import nn

from perceptual_compression.losses.distortion import IllmDistortion
from perceptual_compression.metrics import LPIPS
from perceptual_compression.models.hific import HiFiCConfig, msillm_autoencoder
from perceptual_compression.params import ParameterError
from perceptual_compression.training.illm import IllmConfig, TrainingPatches, make_optimizers, pretrain, ramp_cosine
from perceptual_compression.training.illm_finetune import FinetuneConfig

TINY = HiFiCConfig(channels=(4, 6, 8, 12, 16), latent_features=8, hyper_features=6, residual_blocks=1)


class ReluTrunk(nn.Module):
    """Stand-in LPIPS trunk whose ReLU features are often exactly zero (where lpips' own gradient is NaN)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.b = nn.Conv2d(4, 6, 3, stride=2, padding=1)
        nn.init.constant_(self.a.bias, -0.3)
        nn.init.constant_(self.b.bias, -0.3)

    def forward(self, x):
        f1 = torch.relu(self.a(x))
        return [f1, torch.relu(self.b(f1))]


def _pair(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, 32, 32, generator=g)
    return x, (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)


# ----------------------------------------------------------------------------- distortion (eq. 9)
def test_distortion_is_150_mse_plus_lpips_with_finite_gradient_at_identity():
    lp = LPIPS(backbone=ReluTrunk(), lin=False)
    rho = IllmDistortion(lpips=lp)
    x, x_hat = _pair()
    terms = rho.terms(x, x_hat)
    mse = ((x_hat - x) ** 2).mean(dim=(1, 2, 3))
    assert torch.allclose(terms["mse"], mse)
    assert torch.allclose(terms["lpips"], lp(x, x_hat))
    assert torch.allclose(terms["total"], 150 * mse + lp(x, x_hat))
    assert rho(x, x_hat).item() == pytest.approx(terms["total"].mean().item())
    assert rho.uses_lpips and "150·MSE + LPIPS" in rho.label
    # the loss is minimised (0) at x_hat = x and its gradient there is finite (eps inside the sqrt)
    x_hat0 = x.clone().requires_grad_(True)
    loss = rho(x, x_hat0)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(x_hat0.grad).all()
    assert all(not p.requires_grad for p in rho.lpips.parameters())
    rho.train()
    assert not rho.lpips.training


def test_distortion_offline_fallback_is_mse_only_and_labeled(monkeypatch, tmp_path):
    from perceptual_compression.assets import AssetUnavailableError

    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_OFFLINE", "1")
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_DATA", str(tmp_path))
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_CACHE", str(tmp_path / "cache"))
    rho = IllmDistortion()
    assert not rho.uses_lpips
    assert "torchvision-alexnet" in rho.fallback_reason and "fallback" in rho.label
    x, x_hat = _pair(1)
    assert rho(x, x_hat).item() == pytest.approx(150 * ((x_hat - x) ** 2).mean().item(), rel=1e-6)
    with pytest.raises(AssetUnavailableError):
        IllmDistortion(on_missing="raise")
    chosen = IllmDistortion(perceptual="none")
    assert chosen.fallback_reason is None and chosen.label == "150·MSE"
    with pytest.raises(ParameterError, match="lpips-alex"):
        IllmDistortion(perceptual="lpips-vgg")


# ----------------------------------------------------------------------------- learning-rate schedule
def test_ramp_cosine_values():
    f = lambda s: ramp_cosine(s, ramp_steps=10_000, total_steps=1_000_000)  # noqa: E731
    assert f(0) == 1e-12  # the reference's floor
    assert f(1) == pytest.approx(1e-4)
    assert f(5_000) == pytest.approx(0.5)
    assert f(10_000) == pytest.approx(1.0)
    assert f(510_000) == pytest.approx(math.cos(math.pi / 4))
    assert f(999_999) == pytest.approx(math.cos(math.pi / 2 * 989_999 / 1e6))
    assert 0.015 < f(999_999) < 0.016
    values = [f(s) for s in range(10_000, 1_000_000, 10_000)]
    assert all(a > b for a, b in zip(values, values[1:]))  # strictly decreasing after the ramp


def test_optimizers_follow_the_schedule_and_split_quantiles():
    cfg = IllmConfig.for_scale("small", model=TINY, steps=100, warmup_steps=10)
    model = msillm_autoencoder(TINY)
    main, aux, sched = make_optimizers(model, cfg)
    assert main.defaults["weight_decay"] == 5e-5 and aux.defaults["lr"] == 1e-3
    main_ids = {id(p) for g in main.param_groups for p in g["params"]}
    aux_ids = {id(p) for g in aux.param_groups for p in g["params"]}
    assert aux_ids == {id(model.hyper_bottleneck.quantiles)} and not main_ids & aux_ids
    lrs = []
    for _ in range(60):
        lrs.append(main.param_groups[0]["lr"])
        main.step()
        sched.step()
    peak = cfg.lr  # 3e-4, the paper's peak, at both scales
    assert main.defaults["lr"] == peak
    assert lrs[0] == pytest.approx(peak * 1e-12)
    assert lrs[5] == pytest.approx(peak * 0.5)
    assert lrs[10] == pytest.approx(peak)
    assert lrs[55] == pytest.approx(peak * math.cos(math.pi / 2 * 45 / 100))


# ----------------------------------------------------------------------------- the recipe
def test_paper_recipe_values():
    cfg = IllmConfig.for_scale("paper")
    assert (cfg.lr, cfg.weight_decay, cfg.warmup_steps, cfg.steps, cfg.batch_size, cfg.crop_size) == (
        3e-4, 5e-5, 10_000, 1_000_000, 16, 256)  # the reference's 2 GPUs x data.batch_size=8
    assert (cfg.aux_lr, cfg.grad_clip_norm, cfg.lambda_mse, cfg.perceptual, cfg.crop_mode, cfg.flip) == (
        1e-3, 1.0, 150.0, "lpips-alex", "choice", True)
    assert cfg.model == HiFiCConfig.paper()
    s = cfg.rate_schedule(0.14)
    assert s.early_steps == 50_000 and s.lambda_a == 2.0
    small = IllmConfig.for_scale("small")
    assert small.rate_schedule(0.9).early_steps == round(0.05 * small.steps)
    assert small.warmup_steps == max(1, small.steps // 100)
    with pytest.raises(ParameterError, match="small"):
        IllmConfig.for_scale("huge")
    with pytest.raises(ParameterError, match="0.00875"):
        cfg.rate_schedule(0.13)


def test_quantile_refit_is_the_small_scales_and_the_paper_keeps_the_learned_quantiles():
    """The reference's update() builds the tables from the quantiles its auxiliary loss learned; the small scale
    first fits them by bisection, as its few hundred steps leave the auxiliary loss unconverged."""
    assert IllmConfig.for_scale("small").refit_quantiles and not IllmConfig.for_scale("paper").refit_quantiles
    imgs = [torch.rand(3, 96, 128, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    states = {}
    for refit in (False, True):
        cfg = IllmConfig.for_scale("small", model=TINY, steps=2, batch_size=2, crop_size=64, warmup_steps=1,
                                   checkpoint_every=0, perceptual="none", refit_quantiles=refit)
        torch.manual_seed(0)
        model = pretrain(msillm_autoencoder(TINY), imgs, rate=0.14, config=cfg, seed=1, device="cpu",
                         progress=False).model
        states[refit] = {k: v for k, v in model.state_dict().items() if not k.endswith(("_offset", "_quantized_cdf",
                                                                                          "_cdf_length", "scale_table"))}
    q = [k for k in states[True] if k.endswith("quantiles")]
    assert len(q) == 1
    assert all(torch.equal(v, states[True][k]) for k, v in states[False].items() if k not in q)  # same training
    learned, refitted = states[False][q[0]], states[True][q[0]]
    assert not torch.allclose(learned, refitted, atol=1e-3)
    # lower tail < median < upper tail, per channel
    assert (refitted[..., 0] < refitted[..., 1]).all() and (refitted[..., 1] < refitted[..., 2]).all()


def test_training_patches_are_deterministic_and_mix_both_crops():
    imgs = [torch.rand(3, 100, 150, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    a = TrainingPatches(imgs, 64, seed=5)
    b = TrainingPatches(imgs, 64, seed=5)
    assert torch.equal(a.batch(7, 4), b.batch(7, 4))  # a pure function of (seed, step)
    assert not torch.equal(a.batch(7, 4), a.batch(8, 4))
    kinds = [a._use_resized(i) for i in range(200)]
    assert 60 < sum(kinds) < 140  # about half random-resized crops, half plain crops
    assert a.batch(0, 3).shape == (3, 3, 64, 64)
    plain = TrainingPatches(imgs, 64, mode="crop", flip=False, seed=0)
    p = plain.crops.params(11)
    assert torch.equal(plain.patch(11), imgs[p.image][:, p.top:p.top + 64, p.left:p.left + 64])


def test_training_patches_as_the_reference_at_paper_scale():
    """The paper scale crops as the reference's transforms and DataLoader do: shuffled epochs (patch i from the
    same image whichever crop it gets), and images narrower than the patch mirror-padded on both sides."""
    cfg, ft = IllmConfig.for_scale("paper"), FinetuneConfig.for_scale("paper")
    assert (cfg.small_images, cfg.image_order) == (ft.small_images, ft.image_order) == ("torchvision-reflect", "shuffle")
    small, sft = IllmConfig.for_scale("small"), FinetuneConfig.for_scale("small")
    assert (small.small_images, small.image_order) == (sft.small_images, sft.image_order) == ("upscale", "cycle")
    with pytest.raises(ParameterError, match="'upscale', 'torchvision-reflect'"):
        IllmConfig.for_scale("small", small_images="reflect")
    with pytest.raises(ParameterError, match="'cycle', 'shuffle'"):
        FinetuneConfig.for_scale("small", image_order="random")
    imgs = [torch.rand(3, 80, 100 + 10 * i, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    tp = TrainingPatches(imgs, 96, seed=3, small="torchvision-reflect", order="shuffle")
    for epoch in range(3):
        seen = [tp.crops.params(4 * epoch + k).image for k in range(4)]
        assert sorted(seen) == [0, 1, 2, 3]
        assert seen == [tp.resized.params(4 * epoch + k).image for k in range(4)]
    plain = [i for i in range(40) if not tp._use_resized(i)]
    i = plain[0]
    p = tp.crops.params(i)
    padded = torch.nn.functional.pad(imgs[p.image][None], (0, 0, 16, 16), mode="reflect")[0]  # 80 rows: 16 short
    patch = tp.patch(i)
    ref = padded[:, p.top:p.top + 96, p.left:p.left + 96]
    assert torch.equal(patch, ref.flip(-1) if p.flip else ref)


def test_prefetched_batches_are_the_steps_batches():
    """Batches cut ahead by DataLoader workers are exactly patches.batch(step), in sequence and after a jump (a
    resumed run); the paper scale prefetches with 8 workers."""
    from perceptual_compression.training.illm import PrefetchedBatches

    assert IllmConfig.for_scale("paper").data_workers == FinetuneConfig.for_scale("paper").data_workers == 8
    assert IllmConfig.for_scale("small").data_workers == 0
    imgs = [torch.rand(3, 100, 150, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    patches = TrainingPatches(imgs, 64, seed=5, order="shuffle")
    ahead = PrefetchedBatches(patches, 3, stop=20, workers=2)
    for step in (0, 1, 2, 7, 8, 3):
        assert torch.equal(ahead(step), patches.batch(step, 3)), step
    assert torch.equal(PrefetchedBatches(patches, 3, stop=20)(4), patches.batch(4, 3))
    with pytest.raises(ValueError, match="workers"):
        PrefetchedBatches(patches, 3, stop=20, workers=-1)
    # a pretraining run with workers trains the same model as one without
    states = []
    for workers in (0, 2):
        cfg = IllmConfig.for_scale("small", model=TINY, steps=3, batch_size=2, crop_size=64, warmup_steps=1,
                                   checkpoint_every=0, perceptual="none", data_workers=workers)
        torch.manual_seed(0)
        states.append(pretrain(msillm_autoencoder(TINY), imgs, rate=0.14, config=cfg, seed=1, device="cpu",
                               progress=False).model.state_dict())
    assert all(torch.equal(v, states[1][k]) for k, v in states[0].items())


def test_every_trainer_crops_as_its_config_says(monkeypatch):
    """Pretraining, fine-tuning and the labeler's training hand their config's crop settings and workers to
    TrainingPatches and PrefetchedBatches (each run is stopped once these are built)."""
    import perceptual_compression.training.illm as illm_module
    import perceptual_compression.training.illm_finetune as ft_module
    from perceptual_compression.training.labeler import LabelerTrainingConfig, train_labeler

    class Built(Exception):
        pass

    seen = {}

    def patches(images, size, **kw):
        seen["patches"] = (kw["small"], kw["order"])
        return TrainingPatches(images, size, **kw)

    def prefetched(patches_, batch_size, *, stop, workers=0):
        seen["workers"] = workers
        raise Built

    monkeypatch.setattr(illm_module, "TrainingPatches", patches)  # the three build them with illm.training_batches
    monkeypatch.setattr(illm_module, "PrefetchedBatches", prefetched)
    imgs = [torch.rand(3, 96, 128, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    pipeline = {"small_images": "torchvision-reflect", "image_order": "shuffle", "data_workers": 3}
    runs = [
        lambda: pretrain(msillm_autoencoder(TINY), imgs, rate=0.14, device="cpu", progress=False,
                         config=IllmConfig.for_scale("small", model=TINY, steps=2, batch_size=2, crop_size=64,
                                                     perceptual="none", **pipeline)),
        lambda: ft_module.finetune(msillm_autoencoder(TINY), imgs, discriminator="none", device="cpu", progress=False,
                                   config=FinetuneConfig.for_scale("small", steps=2, batch_size=2, crop_size=64,
                                                                   **pipeline)),
        lambda: train_labeler(imgs, LabelerTrainingConfig.for_scale("small", steps=2, perceptual="none", **pipeline),
                              device="cpu", progress=False),
    ]
    for run in runs:
        seen.clear()
        with pytest.raises(Built):
            run()
        assert seen == {"patches": ("torchvision-reflect", "shuffle"), "workers": 3}
    paper = LabelerTrainingConfig.for_scale("paper")
    assert (paper.small_images, paper.image_order, paper.data_workers) == ("torchvision-reflect", "shuffle", 8)


def test_pretrain_runs_logs_and_resumes_exactly(tmp_path):
    imgs = [torch.rand(3, 96, 128, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    cfg = IllmConfig.for_scale("small", model=TINY, steps=4, batch_size=2, crop_size=64, warmup_steps=1,
                               checkpoint_every=2, perceptual="none")

    def run(until, path):
        torch.manual_seed(0)
        model = msillm_autoencoder(TINY)
        return pretrain(model, imgs, rate=0.14, config=cfg, seed=1, checkpoint_path=path, device="cpu",
                        progress=False, until=until)

    full = run(4, tmp_path / "a.pt")
    h = full.history
    assert len(h) == 4
    for key in ("loss", "distortion_loss", "rate_loss", "bpp", "bpp_hard", "target", "lambda_mean", "aux_loss",
                "psnr", "lr"):
        assert key in h.rows[-1], key
    assert h.values("target")[0] == pytest.approx(0.14 * 1.429)  # early phase (5% of 4 steps -> 1 step)
    assert h.values("target")[-1] == pytest.approx(0.14)
    assert not full.model.training
    # interrupted after 2 steps, then resumed to 4: identical weights to the uninterrupted run
    first = run(2, tmp_path / "b.pt")
    resumed = run(4, tmp_path / "b.pt")
    assert resumed.resumed_from == 2
    assert resumed.train_seconds > first.train_seconds > 0  # the first invocation's time is counted
    for (k, v), (_, w) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(v, w), k


# ----------------------------------------------------------------------------- checkpoint names, step overrides
LPIPS_LABEL = "150·MSE + LPIPS-Alex-lin"
FALLBACK_LABEL = "150·MSE (fallback: LPIPS-Alex weights unavailable)"


def test_config_tag_is_stable_and_holds_every_setting_that_changes_the_weights():
    import dataclasses

    from perceptual_compression.training.illm import UNTAGGED_FIELDS

    small, paper = IllmConfig.for_scale("small"), IllmConfig.for_scale("paper")
    # regression values: a change here means every cached checkpoint is retrained (say so when it is meant)
    assert (small.tag(), paper.tag()) == ("e5df1df80f", "239e52d09b")
    assert (paper.tag(LPIPS_LABEL), paper.tag(FALLBACK_LABEL)) == ("27b110827b", "739811706e")
    assert small.tag(LPIPS_LABEL) == "02f879b536"
    assert len({paper.tag(), paper.tag(LPIPS_LABEL), paper.tag(FALLBACK_LABEL)}) == 3
    changed = [IllmConfig.for_scale("paper", steps=100_000), IllmConfig.for_scale("paper", lr=1e-4),
               IllmConfig.for_scale("paper", warmup_steps=5_000), IllmConfig.for_scale("paper", batch_size=8),
               IllmConfig.for_scale("paper", lambda_mse=100.0), IllmConfig.for_scale("paper", perceptual="none"),
               IllmConfig.for_scale("paper", image_order="cycle"), IllmConfig.for_scale("paper", model=HiFiCConfig.small()),
               IllmConfig.for_scale("paper", resized_scale=(0.5, 1.0))]
    tags = {c.tag(LPIPS_LABEL) for c in changed}
    assert len(tags) == len(changed) and paper.tag(LPIPS_LABEL) not in tags
    same = [IllmConfig.for_scale("paper", log_every=1), IllmConfig.for_scale("paper", checkpoint_every=500),
            IllmConfig.for_scale("paper", data_workers=0), IllmConfig.for_scale("paper", notes=("x",)),
            IllmConfig.for_scale("paper", refit_quantiles=True), dataclasses.replace(paper, scale="small")]
    assert {c.tag(LPIPS_LABEL) for c in same} == {paper.tag(LPIPS_LABEL)}
    assert set(UNTAGGED_FIELDS) == {"scale", "checkpoint_every", "log_every", "data_workers", "refit_quantiles", "notes"}


def test_small_warmup_and_notes_follow_a_steps_override():
    big = IllmConfig.for_scale("small", steps=9_000)
    assert big.warmup_steps == 90  # 1% of the run, not the default run's 9 steps (0.1%)
    assert big.lr_factor(45) == pytest.approx(0.5) and big.lr_factor(90) == pytest.approx(1.0)
    assert big.rate_schedule(0.14).early_steps == 450  # 5%
    assert big.notes == ("small: 1/10-width HiFiC, 2 residual blocks, 9000 steps of 4x128² patches",)
    assert IllmConfig.for_scale("small").warmup_steps == 9
    assert IllmConfig.for_scale("small", steps=50).warmup_steps == 1  # never a zero-step ramp
    assert IllmConfig.for_scale("small", steps=9_000, warmup_steps=7).warmup_steps == 7  # an explicit ramp wins
    assert IllmConfig.for_scale("paper", steps=100_000).warmup_steps == 10_000  # the reference's fixed 10k ramp
    ft = FinetuneConfig.for_scale("small", steps=800)
    assert ft.notes == ("small: 800 steps of 4x128², the paper's learning rates, narrow discriminators",)
