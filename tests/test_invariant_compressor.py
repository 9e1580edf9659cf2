"""models.invariant_compressor: the paper's settings, architectures, and a short seeded run with resume."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from perceptual_compression.augment.views import banana_pair
from perceptual_compression.models.invariant_compressor import (
    BananaConfig,
    MNISTConfig,
    PyramidConvDecoder,
    ResNet18Encoder,
    TrainResult,
    train_compressor,
)
from perceptual_compression.sources.banana import Banana


pytestmark = pytest.mark.usefixtures("one_thread_per_test")  # see conftest.py



def test_paper_settings():
    b = BananaConfig.for_scale("paper")
    assert (b.hidden, b.layers, b.batchnorm, b.batch_size, b.steps, b.lr, b.lr_decay, b.seeds) == (
        1024, 2, True, 1024, 100_000, 3e-4, 1000.0, 5)
    assert len(b.betas) == 9 and b.prior == "factorized"
    m = MNISTConfig.for_scale("paper")
    assert (m.encoder, m.z_dim, m.prior, m.batch_size, m.lr) == ("resnet18", 128, "hyperprior", 128, 1e-3)
    assert len(m.betas) == 10 and m.beta_vic == pytest.approx(10.0)   # lossyless beta 0.1 (Fig. 1)
    for scale in ("small", "paper"):
        assert BananaConfig.for_scale(scale).scale == scale
    with pytest.raises(ValueError, match="valid values"):
        BananaConfig.for_scale("huge")
    with pytest.raises(ValueError, match="valid values"):
        MNISTConfig.for_scale("medium")
    # bin/banana/banana_RD.sh: VC with a 2-D latent, VIC with a 1-D one, Adam; config/main.yaml: MNIST with AdamW
    # 1e-3 and weight decay 1e-5
    assert (b.latent_dim("VC"), b.latent_dim("VIC"), b.weight_decay) == (2, 1, 0.0)
    assert b.build("VIC").prior.dim == 1 and b.build("VC").prior.dim == 2
    assert b.build("VIC").encode_latents(torch.randn(5, 2)).shape == (5, 1)
    assert m.weight_decay == 1e-5 and MNISTConfig.for_scale("small").weight_decay == 0.0
    # config/data/*.yaml and config/main.yaml: a validation set (banana: 100,000 fresh samples; MNIST: 5% of the
    # training images) and the best-validation checkpoint, checked every epoch
    assert (b.n_val, b.val_every, m.val_fraction, m.val_every) == (100_000, 1000, 0.05, 446)
    # 100 epochs: the banana's of 1,000 steps; MNIST's of ceil(57,000 / 128) = 446 steps, the learning rate falling
    # once per epoch; MNIST's rate warm-up over ceil(0.1 * 100 * (57,000 // 128)) = 4,450 steps
    assert (b.steps, b.lr_epoch_steps) == (100 * 1000, 1000)
    assert (m.steps, m.bince_steps, m.lr_epoch_steps) == (100 * 446, 100 * 446, math.ceil(57_000 / 128))
    assert m.rate_warmup_steps == math.ceil(0.1 * 100 * (57_000 // 128)) == 4_450
    assert MNISTConfig.for_scale("small").lr_epoch_steps == BananaConfig.for_scale("small").lr_epoch_steps == 0
    # bin/mnist/augmnist_aug.sh: checkpoint@checkpoint_feat=bestTrainLoss
    assert m.sec51_selection == "train" and MNISTConfig.for_scale("small").sec51_selection == "validation"
    small = BananaConfig.for_scale("small")
    assert small.n_val == 0 and MNISTConfig.for_scale("small").val_fraction == 0.0
    assert small.latent_dim("VC") == small.latent_dim("VIC") == 2   # one ensemble needs one latent size
    with pytest.raises(ValueError, match="'VC', 'VIC'"):
        b.latent_dim("BINCE")


def test_paper_betas_and_clips_are_the_authors():
    """bin/banana/banana_RD.sh sets distortion.factor_beta=1 for VC and VIC: beta = 1/beta_code. On MNIST VC keeps
    VAE.yaml's 0.5 and BINCE its 0.003 (the authors' loss divides the distortion by them). Every paper run clips
    where the authors' clip at 3 on their loss binds; the small scale clips at 3 on ours."""
    from perceptual_compression.losses.vic import beta_from_lossyless

    b, m = BananaConfig.for_scale("paper"), MNISTConfig.for_scale("paper")
    codes = (10, 3, 1, 0.3, 0.1, 0.03, 0.01, 0.001, 0.0001)
    assert b.betas == pytest.approx([1 / c for c in codes])
    assert b.grad_clip(1 / 0.1) == pytest.approx(3 / (math.log(2) * 0.1))   # 3 / (ln 2 beta_code)
    # MNIST: the sweep value is 1/beta_code; VC trains with 2/beta_code, VIC with 1/beta_code, BINCE 1/(0.003 beta_code)
    assert m.training_beta("VC", 10.0) == pytest.approx(beta_from_lossyless(0.1, 0.5)) == pytest.approx(20.0)
    assert m.training_beta("VIC", 10.0) == pytest.approx(10.0)
    assert m.training_beta("BINCE", m.beta_bince) == pytest.approx(beta_from_lossyless(1e-4, 0.003))
    for objective in ("VC", "VIC"):   # one beta_code, one clip: 3 / (ln 2 beta_code), whatever the factor
        assert m.grad_clip(objective, 10.0) == pytest.approx(3 / (math.log(2) * 0.1))
    assert m.grad_clip("BINCE", m.beta_bince) == pytest.approx(3 / (math.log(2) * 1e-4))
    bs, ms = BananaConfig.for_scale("small"), MNISTConfig.for_scale("small")
    assert bs.grad_clip(64.0) == 3.0 and ms.grad_clip("VC", 3.0) == ms.grad_clip("BINCE", 300.0) == 3.0
    assert ms.training_beta("VC", 3.0) == 3.0 and ms.training_beta("BINCE", 300.0) == 300.0
    assert m.bince_authors_form and not ms.bince_authors_form   # lossyless ContrastiveDistortion at paper scale


def test_clip_from_lossyless_reproduces_the_authors_clipped_step():
    """Their loss D/f + beta_code R (nats) is ln2 beta_code times ours, R + beta D (bits, beta = 1/(beta_code f)):
    Adam steps on our loss with clip_from_lossyless equal Adam steps on theirs clipped at 3, and a clip of 3 on
    ours would not."""
    from perceptual_compression.losses.vic import beta_from_lossyless, clip_from_lossyless

    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(64, 3, generator=g), 5 * torch.randn(64, 2, generator=g)
    beta_code, f = 0.03, 0.5
    beta = beta_from_lossyless(beta_code, f)

    def run(loss_kind, clip):
        torch.manual_seed(1)
        lin = torch.nn.Linear(3, 2)
        opt, norms = torch.optim.Adam(lin.parameters(), lr=0.1), []
        for _ in range(20):
            y = lin(x)
            d_nats, r_nats = 0.5 * ((y - t) ** 2).sum(1).mean(), (y.abs().sum(1) + 1).mean()  # any positive "rate"
            loss = d_nats / f + beta_code * r_nats if loss_kind == "theirs" else (r_nats + beta * d_nats) / math.log(2)
            opt.zero_grad()
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(lin.parameters(), clip)))
            opt.step()
        return torch.cat([p.detach().flatten() for p in lin.parameters()]), norms

    theirs, their_norms = run("theirs", 3.0)
    # their clip binds on the first steps only: a clip that binds on every step (or on none) would rescale every
    # gradient alike, which Adam does not see, and the test could not tell the clips apart
    assert max(their_norms) > 3.0 > min(their_norms)
    ours, _ = run("ours", clip_from_lossyless(beta, f))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    fixed, _ = run("ours", 3.0)
    assert (fixed - theirs).abs().max() > 1e-3
    with pytest.raises(ValueError):
        clip_from_lossyless(0.0)


def test_weight_decay_trains_with_adamw(monkeypatch):
    """``weight_decay > 0`` gives AdamW with that decoupled decay (the authors' MNIST optimizer); 0 gives Adam."""
    import perceptual_compression.models.invariant_compressor as ic

    p = [torch.nn.Parameter(torch.ones(3))]
    assert type(ic.adam(p, 1e-3)) is torch.optim.Adam
    opt = ic.adam(p, 1e-3, 1e-5)
    assert type(opt) is torch.optim.AdamW and opt.defaults["weight_decay"] == 1e-5
    # one AdamW step with a zero gradient only decays: p <- p (1 - lr wd)
    p[0].grad = torch.zeros(3)
    ic.adam(p, 0.5, 0.1).step()
    torch.testing.assert_close(p[0].detach(), torch.full((3,), 1 - 0.05))
    made = []
    monkeypatch.setattr(ic, "adam", lambda params, lr, wd=0.0: made.append(wd) or torch.optim.Adam(params, lr=lr))
    cfg = BananaConfig.for_scale("small").with_(hidden=8, batch_size=16)
    src, g = Banana(), torch.Generator().manual_seed(0)
    train_compressor(cfg.build("VIC"), "VIC", lambda s: banana_pair(src, "VIC", 16, g), beta=1.0, steps=2, lr=1e-3,
                     likelihood="gaussian", progress=False, weight_decay=1e-5)
    assert made == [1e-5]


def test_learning_rate_per_epoch_and_rate_warmup_in_steps(monkeypatch):
    """``lr_epoch_steps`` holds the learning rate constant within an epoch; ``rate_warmup_steps`` sets the
    warm-up's length in steps, the same as the fraction of the steps that makes it."""
    import perceptual_compression.models.invariant_compressor as ic

    made = []
    monkeypatch.setattr(ic, "adam", lambda params, lr, wd=0.0: made.append(torch.optim.Adam(params, lr=lr)) or made[-1])
    cfg = BananaConfig.for_scale("small").with_(hidden=8)
    src = Banana()

    def run(**kw):
        torch.manual_seed(0)
        model, g, lrs = cfg.build("VC"), torch.Generator().manual_seed(0), []

        def batch(step):
            lrs.append(made[-1].param_groups[0]["lr"])
            return banana_pair(src, "VC", 16, g)

        train_compressor(model, "VC", batch, beta=1.0, steps=6, lr=1e-2, lr_decay=8.0, likelihood="gaussian",
                         progress=False, **kw)
        return model, lrs

    _, per_step = run()
    assert per_step == pytest.approx([1e-2 * 8.0 ** (-s / 6) for s in range(6)])
    _, per_epoch = run(lr_epoch_steps=2)  # 3 epochs of 2 steps: gamma = 8 ** (-1 / 3) = 0.5
    assert per_epoch == pytest.approx([1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3, 2.5e-3])
    by_fraction, _ = run(rate_warmup=2 / 6 + 1e-9)
    by_steps, _ = run(rate_warmup=0.1, rate_warmup_steps=2)
    longer, _ = run(rate_warmup=0.5)
    same = [torch.equal(p, q) for p, q in zip(by_fraction.parameters(), by_steps.parameters())]
    assert all(same)
    assert not all(torch.equal(p, q) for p, q in zip(by_steps.parameters(), longer.parameters()))


def test_architectures_shapes():
    x = torch.rand(2, 1, 28, 28)
    assert ResNet18Encoder(128)(x).shape == (2, 128)
    assert PyramidConvDecoder(128)(torch.randn(2, 128)).shape == (2, 1, 28, 28)
    cfg = MNISTConfig.for_scale("small")
    for obj in ("VC", "VIC", "BINCE"):
        m = cfg.build(obj)
        z_hat, bits = m(x)
        assert z_hat.shape == (2, cfg.z_dim) and bits.shape == (2,)
        if obj != "BINCE":
            assert m.decode(z_hat).shape == (2, 1, 28, 28)
        else:
            with pytest.raises(RuntimeError):
                m.decode(z_hat)
    with pytest.raises(ValueError, match="valid values"):
        cfg.build("VAE")


def _vic_run(steps, ckpt, *, stream):
    """A short VIC run on the banana. ``stream``: batches drawn from one generator passed as the Trainer's
    stream (as the chapter's runs draw them); otherwise each batch depends only on its step."""
    cfg = BananaConfig.for_scale("small").with_(hidden=16, batch_size=64)
    src = Banana()
    torch.manual_seed(0)
    model = cfg.build("VIC")
    g = torch.Generator().manual_seed(1)
    if stream:
        def batch(step):
            return banana_pair(src, "VIC", 64, g)
    else:
        def batch(step):
            return banana_pair(src, "VIC", 64, torch.Generator().manual_seed(1000 + step))
    res = train_compressor(model, "VIC", batch, beta=4.0, steps=steps, lr=3e-3, likelihood="gaussian", seed=0,
                           checkpoint_path=ckpt, progress=False, streams={"batches": g} if stream else None)
    return res.model, res.history, src


def test_short_run_is_seeded_and_resumes(tmp_path):
    full, hist, src = _vic_run(40, None, stream=False)
    assert hist.values("loss")[-1] < hist.values("loss")[0]
    ckpt = tmp_path / "vic.pt"
    _vic_run(20, ckpt, stream=False)
    resumed, _, _ = _vic_run(40, ckpt, stream=False)
    x = src.sample(100, torch.Generator().manual_seed(2))
    torch.testing.assert_close(resumed.encode_latents(x), full.encode_latents(x), rtol=1e-4, atol=1e-5)


def test_resume_continues_a_private_batch_stream(tmp_path):
    """Batches drawn from one generator: with the generator among the ``streams``, a run resumed from its
    checkpoint ends where the uninterrupted run ends."""
    full, _, _ = _vic_run(40, None, stream=True)
    _vic_run(20, tmp_path / "vic.pt", stream=True)
    resumed, _, _ = _vic_run(40, tmp_path / "vic.pt", stream=True)
    a, b = full.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _validated_run(steps, ckpt=None, lr=3e-2):
    cfg = BananaConfig.for_scale("small").with_(hidden=16, batch_size=64)
    src = Banana()
    torch.manual_seed(0)
    model = cfg.build("VC")
    val = banana_pair(src, "VC", 500, torch.Generator().manual_seed(7))
    res = train_compressor(model, "VC", lambda step: banana_pair(src, "VC", 64, torch.Generator().manual_seed(step)),
                           beta=16.0, steps=steps, lr=lr, likelihood="gaussian", seed=0, progress=False,
                           validation=val, validate_every=4, val_batch_size=128, checkpoint_path=ckpt)
    return res, val


def test_validation_keeps_the_best_model_and_survives_a_resume(tmp_path):
    """With a validation set the run returns the model of the lowest validation loss (the authors keep their
    best-validation checkpoint); the loss is the objective in evaluation mode, whatever the chunk size."""
    from perceptual_compression.losses.vic import distortion_bits

    res, (a, b) = _validated_run(30, lr=0.1)  # a learning rate at which the last check is not the best
    hist = res.extra["val_history"]
    assert [s for s, _ in hist] == [4, 8, 12, 16, 20, 24, 28, 30]      # every 4 steps and after the last
    best_step, best_loss = min(hist, key=lambda r: r[1])
    assert res.extra["best_step"] == best_step and res.extra["best_val_loss"] == pytest.approx(best_loss)
    assert best_step < 30 and hist[-1][1] > best_loss
    # the returned model scores exactly the best loss on the whole validation set in one batch
    model = res.model.eval()
    with torch.no_grad():
        z_hat, bits = model(a)
        loss = (bits + 16.0 * distortion_bits(model.decode(z_hat), b, "gaussian")).mean()
    assert float(loss) == pytest.approx(best_loss, rel=1e-5)
    # an interrupted run resumed from its checkpoint keeps the same best model
    ckpt = tmp_path / "vc.pt"
    _validated_run(12, ckpt, lr=0.1)
    resumed, _ = _validated_run(30, ckpt, lr=0.1)
    assert [s for s, _ in resumed.extra["val_history"]] == [s for s, _ in hist]
    assert [v for _, v in resumed.extra["val_history"]] == pytest.approx([v for _, v in hist], rel=1e-4)
    assert resumed.extra["best_step"] == best_step
    for p, q in zip(resumed.model.parameters(), res.model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="validate_every"):
        train_compressor(BananaConfig.for_scale("small").build("VC"), "VC", lambda s: (a, b), beta=1.0, steps=1,
                         lr=1e-3, likelihood="gaussian", progress=False, validation=(a, b))


def test_selection_by_the_training_loss_of_the_checked_batches():
    """``select_by_train_loss`` (the authors' bestTrainLoss checkpoint of their Sec. 5.1 runs): the model returned
    is the one after the checked step of the lowest training loss on that step's batch, the same weights a run
    stopped at that step ends with."""
    cfg = BananaConfig.for_scale("small").with_(hidden=16, batch_size=64)
    src = Banana()

    def run(steps, **kw):
        torch.manual_seed(0)
        return train_compressor(cfg.build("VC"), "VC",
                                lambda step: banana_pair(src, "VC", 64, torch.Generator().manual_seed(step)),
                                beta=16.0, steps=steps, lr=0.3, likelihood="gaussian", seed=0, progress=False, **kw)

    res = run(30, select_by_train_loss=True, validate_every=4)
    checks = res.extra["train_checks"]
    assert [s for s, _ in checks] == [4, 8, 12, 16, 20, 24, 28, 30] and "val_history" not in res.extra
    best_step, best_loss = min(checks, key=lambda r: r[1])
    assert res.extra["best_step"] == best_step and res.extra["best_train_loss"] == pytest.approx(best_loss)
    assert best_step < 30  # the last model is not the one kept
    stopped = run(best_step)
    assert all(torch.equal(p, q) for p, q in zip(res.model.parameters(), stopped.model.parameters()))
    with pytest.raises(ValueError, match="one or the other"):
        run(2, select_by_train_loss=True, validate_every=1, validation=banana_pair(src, "VC", 8, torch.Generator()))
    with pytest.raises(ValueError, match="validate_every"):
        run(2, select_by_train_loss=True)


def test_bince_views_in_one_or_two_forward_passes():
    """The authors' code passes BINCE's two views through the compressor separately (each with its own batch-norm
    statistics): one forward of 2B images, or two of B; the paper scale takes the second."""
    cfg = MNISTConfig.for_scale("small").with_(channels=4, z_dim=8)
    assert MNISTConfig.for_scale("paper").bince_separate_views and not cfg.bince_separate_views
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(4, 1, 28, 28, generator=g), torch.rand(4, 1, 28, 28, generator=g) * 0.2
    running = {}
    for separate in (False, True):
        torch.manual_seed(0)
        model, sizes = cfg.build("BINCE"), []
        model.register_forward_pre_hook(lambda mod, args: sizes.append(len(args[0])))
        train_compressor(model, "BINCE", lambda step: (a, b), beta=5.0, steps=1, lr=1e-3, progress=False,
                         bince_separate_views=separate)
        assert sizes == ([4, 4] if separate else [8])
        running[separate] = [m.running_mean.clone() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert running[True] and not all(torch.allclose(p, q) for p, q in zip(running[True], running[False]))


def test_bince_validation_with_the_authors_form_skips_a_lone_last_pair():
    """BINCE validated in chunks: a last chunk of a single pair (no negatives) is left out, so the authors'
    symmetric form, which needs two pairs, validates any set; the loss is the chunks' weighted mean."""
    from perceptual_compression.losses.bince import bince_loss

    cfg = MNISTConfig.for_scale("small").with_(channels=4, z_dim=8)
    torch.manual_seed(0)
    model = cfg.build("BINCE")
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(9, 1, 28, 28, generator=g), torch.rand(9, 1, 28, 28, generator=g)
    opts = {"symmetric": True, "effective_batch_size": 100}
    res = train_compressor(model, "BINCE", lambda step: (a[:4], b[:4]), beta=5.0, steps=2, lr=1e-3,
                           progress=False, validation=(a, b), validate_every=1, val_batch_size=4, bince_options=opts)
    m = copy.deepcopy(res.model).eval()
    m.prior.update(force=True)
    with torch.no_grad():
        parts = []
        for i, j in ((0, 4), (4, 8)):   # the ninth pair is left out
            z_hat, bits = m(torch.cat([a[i:j], b[i:j]]))
            parts.append(float(bince_loss(bits[:4], z_hat[:4], z_hat[4:], m.critic, 5.0, **opts)["loss"]))
    # the returned model is the best one: its validation loss, recomputed without the ninth pair, is the best
    assert res.extra["best_val_loss"] == pytest.approx(min(v for _, v in res.extra["val_history"]))
    assert res.extra["best_val_loss"] == pytest.approx(sum(parts) / 2, rel=1e-5)


def test_mnist_runs_hold_out_a_validation_split(monkeypatch):
    """With ``val_fraction`` a seeded share of the training images is held out, never trained on, and passed as
    the run's fixed validation pairs (augmented once)."""
    import perceptual_compression.experiments.ch5_invariance as E

    g = torch.Generator().manual_seed(0)
    data = E.MNISTData(torch.rand(40, 1, 28, 28, generator=g), torch.arange(40) % 4,
                       torch.rand(8, 1, 28, 28, generator=g), torch.arange(8) % 4, "random images")
    train, val = E.split_validation(data, 0.1, seed=3)
    assert (len(train.train_x), len(val.train_x)) == (36, 4)
    rows = lambda d: {tuple(x.flatten()[:6].tolist()) for x in d.train_x}  # noqa: E731
    assert rows(train).isdisjoint(rows(val)) and rows(train) | rows(val) == rows(data)
    again, _ = E.split_validation(data, 0.1, seed=3)
    assert torch.equal(again.train_x, train.train_x) and torch.equal(val.test_x, data.test_x)
    with pytest.raises(ValueError, match="fraction"):
        E.split_validation(data, 1.0)
    seen = {}

    def spy(model, objective, batch_fn, **kw):
        seen.update(kw, first=batch_fn(0))
        return TrainResult(model, None, objective, kw["beta"])

    monkeypatch.setattr(E, "train_compressor", spy)
    cfg = MNISTConfig.for_scale("small").with_(channels=4, z_dim=8, decoder_hidden=16, val_fraction=0.1, val_every=7)
    E.train_mnist_run(E.MNISTSpec("VIC", "VIC", "standard", 10.0), cfg, data, seed=3, progress=False)
    (vx, vy), (bx, _) = seen["validation"], seen["first"]
    assert vx.shape == (4, 1, 28, 28) and torch.equal(vy, val.train_x)   # VIC's targets: the held-out originals
    assert seen["validate_every"] == 7 and seen["val_batch_size"] == cfg.batch_size
    assert bx.shape[0] == cfg.batch_size
    # supervised VIC: the validation targets are the representatives the model is trained to produce, which are
    # training images (not held-out ones) of the same label
    E.train_mnist_run(E.MNISTSpec("VIC sup", "VIC", "supervised", 10.0), cfg, data, seed=3, progress=False)
    (vx, vy), (_, by) = seen["validation"], seen["first"]
    flat = train.train_x.flatten(1)
    for target, label in zip(vy, val.train_y):
        match = (flat == target.flatten()).all(1).nonzero().flatten()
        assert len(match) == 1 and int(train.train_y[match[0]]) == int(label)
    assert {tuple(t.flatten()[:6].tolist()) for t in vy} <= {tuple(t.flatten()[:6].tolist()) for t in by} | rows(train)
    assert seen["select_by_train_loss"] is False
    # the authors' Sec. 5.1 runs (augmnist_aug.sh) select by the training loss: no validation pairs, the same split
    by_train = cfg.with_(sec51_selection="train")
    for spec, sec51 in ((E.MNISTSpec("VIC mild", "VIC", "mild", 10.0, sec51=True), True),
                        (E.MNISTSpec("BINCE sup", "BINCE", "supervised", 10.0, sec51=True), True),
                        (E.MNISTSpec("VIC standard", "VIC", "standard", 10.0, sec51=True), True),
                        (E.MNISTSpec("VIC", "VIC", "standard", 10.0), False)):
        E.train_mnist_run(spec, by_train, data, seed=3, progress=False)
        assert seen["select_by_train_loss"] is sec51 and (seen["validation"] is None) is sec51
        assert seen["validate_every"] == 7
    # the schedule and BINCE's forward passes come from the config
    timed = cfg.with_(lr_epoch_steps=5, rate_warmup_steps=11, bince_separate_views=True)
    E.train_mnist_run(E.MNISTSpec("BINCE sup", "BINCE", "supervised", 10.0), timed, data, seed=3, progress=False)
    assert (seen["lr_epoch_steps"], seen["rate_warmup_steps"], seen["bince_separate_views"]) == (5, 11, True)
    with pytest.raises(ValueError, match="val_every"):
        MNISTConfig.for_scale("small").with_(sec51_selection="train")
    with pytest.raises(ValueError, match="'validation', 'train'"):
        cfg.with_(sec51_selection="best")


def test_banana_runs_with_the_papers_latent_sizes_and_validation(monkeypatch):
    """The paper's banana path at a toy size: VIC with a 1-D latent, models trained one by one with a validation
    set, then evaluated (codes, rates, cell means) like the small scale's ensemble."""
    import perceptual_compression.experiments.ch5_invariance as E

    cfg = BananaConfig.for_scale("small").with_(hidden=8, steps=6, betas=(4.0,), seeds=1, n_test=300, z_dim_vic=1,
                                                n_val=64, val_every=3, lr_epoch_steps=2)
    epochs = []
    real = E.train_compressor

    def spy(*args, **kw):
        epochs.append(kw["lr_epoch_steps"])
        return real(*args, **kw)

    monkeypatch.setattr(E, "train_compressor", spy)
    runs = E.run_banana(cfg, seed=0, progress=False)
    assert epochs == [2, 2]  # VC and VIC train with the config's epochs
    dims = {r.objective: r.model.prior.dim for r in runs}
    assert dims == {"VC": 2, "VIC": 1}
    assert all(r.rate_bits > 0 and r.coded_bits >= r.rate_bits * 0.9 and r.num_codes >= 1 for r in runs)
