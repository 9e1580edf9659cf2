"""experiments.ch5_invariance: parameter validation and a tiny end-to-end banana sweep."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from perceptual_compression.experiments import ch5_invariance as E
from perceptual_compression.models.invariant_compressor import BananaConfig, MNISTConfig
from perceptual_compression.params import ParameterError


pytestmark = pytest.mark.usefixtures("one_thread_per_test")  # see conftest.py



def test_check_parameters():
    ok = E.check_parameters(scale="small", seed=3)
    assert ok["scale"] == "small" and ok["seed"] == 3
    with pytest.raises(ParameterError, match="'small', 'paper'"):
        E.check_parameters(scale="huge", seed=0)
    with pytest.raises(ParameterError):
        E.check_parameters(scale="small", seed=-1)
    with pytest.raises(ParameterError):
        E.check_parameters(scale="small", seed=1.5)
    with pytest.raises(ParameterError):
        E.check_parameters(scale="small", seed=0, download_clip="yes")
    with pytest.raises(ParameterError):
        E.check_parameters(scale="small", seed=0, checkpoint_dir=None)
    with pytest.raises(ParameterError, match="workers"):
        E.check_parameters(scale="small", seed=0, workers=0)


def test_mnist_specs_cover_fig6_and_sec51():
    cfg = MNISTConfig.for_scale("small")
    specs = E.mnist_specs(cfg)
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert {(s.objective, s.augmentation) for s in specs} == {
        ("VC", "standard"), ("VIC", "standard"), ("VIC", "mild"), ("VIC", "supervised"), ("BINCE", "supervised")}
    assert any(s.objective == "VIC" and s.augmentation == "standard" and math.isclose(s.beta, cfg.beta_vic)
               for s in specs)
    assert {s.name for s in specs if s.sec51} == {"VIC mild", "VIC supervised", "BINCE supervised"}
    # selecting Sec. 5.1's models by the training loss (the authors' script) gives it a standard VIC of its own
    extra = [s for s in E.mnist_specs(cfg.with_(sec51_selection="train", val_every=5)) if s not in specs]
    assert extra == [E.MNISTSpec("VIC standard", "VIC", "standard", cfg.beta_vic, sec51=True)]
    assert "VIC standard" in {s.name for s in E.mnist_specs(MNISTConfig.for_scale("paper"))}


def test_sec51_rows_prefer_the_sections_own_standard_run():
    import pandas as pd

    cfg = MNISTConfig.for_scale("small")
    rows = [("VIC beta=10", "VIC", "standard", 10.0, False, 80.0), ("VIC beta=3", "VIC", "standard", 3.0, False, 60.0),
            ("VIC mild", "VIC", "mild", 10.0, True, 120.0), ("VIC supervised", "VIC", "supervised", 1.0, True, 9.0),
            ("BINCE supervised", "BINCE", "supervised", 300.0, True, 7.0)]
    table = pd.DataFrame([{"run": r, "objective": o, "augmentation": a, "beta": b, "sec51": s, "rate_bits": rate,
                           "mlp_error": rate / 1000} for r, o, a, b, s, rate in rows])
    picked = E.sec51_rows(table, cfg)
    assert {k: v["run"] for k, v in picked.items()} == {"mild": "VIC mild", "standard": "VIC beta=10",
                                                         "supervised": "VIC supervised", "bince": "BINCE supervised"}
    assert picked["standard"]["rate_bits"] == 80.0 and picked["supervised"]["beta"] == 1.0
    own = pd.concat([table, pd.DataFrame([{"run": "VIC standard", "objective": "VIC", "augmentation": "standard",
                                           "beta": 10.0, "sec51": True, "rate_bits": 75.0, "mlp_error": 0.05}])])
    assert E.sec51_rows(own, cfg)["standard"] == {"run": "VIC standard", "beta": 10.0, "rate_bits": 75.0,
                                                  "mlp_error": 0.05}


def test_tiny_banana_sweep():
    cfg = BananaConfig.for_scale("small").with_(hidden=16, steps=400, batch_size=128, lr=1e-2, betas=(1.0, 32.0),
                                                 n_test=3000)
    with E.single_threaded():
        runs = E.run_banana(cfg, seed=0, progress=False)
    table = E.banana_table(runs)
    assert len(table) == 2 * 2 * cfg.seeds
    assert (table["coded_bits"] >= table["rate_bits"] * 0.98).all()
    # the batch is one bitstream: the coded size exceeds the estimate by at most the container header
    # (15 bytes here), the rANS flush (<= 64 bits) and 2% of the estimate (16-bit CDF tables)
    n = cfg.n_test
    excess = (table["coded_bits"] - table["rate_bits"]) * n
    assert (excess <= 8 * 15 + 64 + 0.02 * table["rate_bits"] * n).all(), table
    big = table["rate_bits"] * n > 10_000          # where the fixed cost is small: within 2% of the estimate
    assert (table.loc[big, "overhead_%"].abs() < 2).all(), table
    # one bitstream per example pays the header and the flush every time
    assert (table["coded_alone_bits"] >= 8 * 15 + table["rate_bits"] * 0.5).all(), table
    assert (table["coded_alone_bits"] > table["coded_bits"] + 8 * 10).all(), table
    # a larger beta spends more bits and predicts the norm better, for both objectives
    for obj, g in table.groupby("objective"):
        lo, hi = g[g.beta == 1.0], g[g.beta == 32.0]
        assert hi.rate_bits.mean() > lo.rate_bits.mean(), obj
        assert hi.mse_norm.mean() < lo.mse_norm.mean(), obj
    aurd = E.aurd_table(table)
    assert set(aurd.index) == {"VC", "VIC"} and (aurd["runs"] == cfg.seeds).all()
    q = E.quantization_map(runs[0].model, extent=4.0, n=40)
    assert q["ids"].shape == (40, 40) and q["boundary"].any() and len(q["centers"]) == q["ids"].max() + 1
    assert 0 < q["probability"].sum() <= 1.0 + 1e-6


def _tiny_mnist():
    """Random 'digits' of 4 balanced classes (96 train, 48 test) and a small-scale config shrunk to a few steps."""
    g = torch.Generator().manual_seed(0)
    data = E.MNISTData(torch.rand(96, 1, 28, 28, generator=g), torch.arange(96) % 4,
                       torch.rand(48, 1, 28, 28, generator=g), torch.arange(48) % 4, "random images")
    cfg = MNISTConfig.for_scale("small").with_(steps=4, bince_steps=4, batch_size=8, n_train=64, n_test=32,
                                               probe_steps=4, probe_hidden=16, decoder_hidden=16, channels=4, z_dim=8)
    return data, cfg


def test_tiny_mnist_run_is_evaluated_end_to_end():
    """One VIC and one BINCE run on random 'digits': coded rates, probes on codes and on decoded images."""
    data, cfg = _tiny_mnist()
    ev = E.mnist_eval_set(data, cfg)
    labels = torch.cat([ev.train_y, ev.test_y])
    assert torch.equal(torch.bincount(ev.test_y), torch.tensor([8, 8, 8, 8]))
    for spec in (E.MNISTSpec("VIC", "VIC", "standard", 10.0), E.MNISTSpec("BINCE", "BINCE", "supervised", 10.0)):
        run = E.evaluate_mnist_run(E.train_mnist_run(spec, cfg, data, progress=False), ev, cfg)
        assert run.coded_bits * 32 - run.rate_bits * 32 <= 8 * 15 + 64 + 0.02 * run.rate_bits * 32
        assert run.coded_alone_bits >= 8 * 15
        assert math.isfinite(run.recon_linear_error) == (spec.objective == "VIC")
        # after 4 steps on noise the encoder barely tells the images apart: the 96 images, train and test, share a
        # few codes (read back from the bitstream). The Bayes check, counted here by hand from those codes: the best
        # function of the code predicts each code's majority label; an image conflicts when its code also holds
        # another label
        codes = torch.cat([run.model.decompress(run.model.compress(x)) for x in (ev.train_x, ev.test_x)])
        uniq, ids = torch.unique(codes, dim=0, return_inverse=True)
        assert run.num_codes == len(uniq) < 10
        per_code = [labels[ids == k] for k in range(len(uniq))]
        majority = sum(int(torch.bincount(lab).max()) for lab in per_code)
        assert run.bayes_error == pytest.approx(1 - majority / 96, abs=1e-12)
        assert run.conflicting_images == sum(len(lab) for lab in per_code if len(torch.unique(lab)) > 1)
        # on noise no probe does much better than chance (0.75 on the balanced test labels, 8 of each class)
        for err in (run.linear_error, run.mlp_error) + ((run.recon_linear_error,) if spec.objective == "VIC" else ()):
            assert 0.5 <= err <= 1.0 and err * 32 == pytest.approx(round(err * 32), abs=1e-9)
    table = E.mnist_table([run])
    assert {"coded_alone_bits", "recon_linear_error"} <= set(table.columns)


def test_runs_train_with_the_configs_beta_and_clip(monkeypatch):
    """A run hands train_compressor the β and the clip of its config: with the paper's factor_beta and the
    authors' clip, VC trains with twice the sweep value and both clip at 3 / (ln 2 beta_code); the banana too."""
    seen, options = [], []
    real = E.train_compressor

    def spy(model, objective, batch_fn, **kw):
        seen.append((objective, kw["beta"], kw["grad_clip"]))
        options.append(kw.get("bince_options"))
        return real(model, objective, batch_fn, **{**kw, "steps": 1})

    monkeypatch.setattr(E, "train_compressor", spy)
    data, cfg = _tiny_mnist()
    paperish = cfg.with_(vc_factor_beta=0.5, bince_factor_beta=0.003, authors_clip=True, bince_authors_form=True)
    for spec in (E.MNISTSpec("VC", "VC", "standard", 10.0), E.MNISTSpec("VIC", "VIC", "standard", 10.0),
                 E.MNISTSpec("BINCE", "BINCE", "supervised", 1e4)):
        E.train_mnist_run(spec, paperish, data, progress=False)
    E.train_mnist_run(E.MNISTSpec("VC", "VC", "standard", 10.0), cfg, data, progress=False)   # small: as given
    clip = 3 / (math.log(2) * 0.1)
    assert seen[0] == ("VC", pytest.approx(20.0), pytest.approx(clip))
    assert seen[1] == ("VIC", pytest.approx(10.0), pytest.approx(clip))
    assert seen[2] == ("BINCE", pytest.approx(1e4 / 0.003), pytest.approx(3 / (math.log(2) * 1e-4)))
    assert seen[3] == ("VC", 10.0, 3.0)
    # the authors' BINCE (symmetric, corrected to as many negatives as training images) for BINCE only; it trained
    assert options == [None, None, {"symmetric": True, "effective_batch_size": len(data.train_x)}, None]
    seen.clear()
    banana = BananaConfig.for_scale("small").with_(hidden=8, steps=1, betas=(10.0,), seeds=1, n_test=200,
                                                   authors_clip=True)  # not the shared-clip ensemble path
    E.run_banana(banana, progress=False)
    assert seen == [("VC", 10.0, pytest.approx(clip)), ("VIC", 10.0, pytest.approx(clip))]


def test_digits_at_the_authors_32_pixels(monkeypatch):
    """The paper scale resizes the digits to 32×32 as the authors' data module does, once for every consumer
    (eval set, training views), and its decoder outputs 32×32; 28 leaves the data as it is."""
    import torch.nn.functional as F

    data, cfg = _tiny_mnist()
    assert MNISTConfig.for_scale("paper").image_size == 32 and cfg.image_size == 28
    assert E.mnist_at_size(data, 28) is data
    big = E.mnist_at_size(data, 32)
    assert big.train_x.shape == (96, 1, 32, 32) and big.test_x.shape == (48, 1, 32, 32)
    torch.testing.assert_close(big.test_x, F.interpolate(data.test_x, size=(32, 32), mode="bilinear").clamp(0, 1))
    assert torch.equal(big.train_y, data.train_y) and "32×32" in big.label
    assert float(big.train_x.min()) >= 0 and float(big.train_x.max()) <= 1
    c32 = cfg.with_(image_size=32)
    ev = E.mnist_eval_set(data, c32)
    assert ev.train_x.shape[-2:] == ev.test_x.shape[-2:] == (32, 32)
    run = E.train_mnist_run(E.MNISTSpec("VC", "VC", "standard", 10.0), c32, data, progress=False)
    assert E.reconstructions(run, ev.test_x[:3]).shape == (3, 1, 32, 32)
    seen = []   # the ResNet-18 on reconstructions trains and tests on 32x32 digits and reconstructions

    def spy(x, y, test_x, test_y, pcfg, *, reconstruct, **kw):
        seen.append((tuple(x.shape[-2:]), tuple(test_x.shape[-2:]), tuple(reconstruct(x[:2]).shape[-2:])))
        return {"error": 0.5}

    monkeypatch.setattr(E, "recon_predictor_error", spy)
    assert E.recon_resnet_error(run, ev, c32, data=data) == 0.5
    assert seen == [((32, 32), (32, 32), (32, 32))]
    for decoder in ("mlp", "pyramid_cnn"):
        m = c32.with_(decoder=decoder).build("VIC")
        assert m.decode(torch.zeros(2, c32.z_dim)).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="28 or 32"):
        cfg.with_(image_size=30)


def test_paper_scale_adds_the_resnet18_on_reconstructions(monkeypatch):
    """At scale="paper" VC/VIC runs are also scored by a ResNet-18 trained on their reconstructions (Fig. 6);
    here with a one-epoch predictor on random 'digits' (the path, not the number)."""
    from perceptual_compression.evaluation.recon_predictor import ReconPredictorConfig

    assert MNISTConfig.for_scale("paper").recon_predictor == "resnet18"
    assert MNISTConfig.for_scale("small").recon_predictor == "linear"
    tiny = ReconPredictorConfig.for_scale("small").with_(epochs=1, batch_size=8, max_train=24, val_fraction=0.25,
                                                         num_classes=4)
    asked = []
    monkeypatch.setattr(E.ReconPredictorConfig, "for_scale", classmethod(lambda cls, scale: asked.append(scale) or tiny))
    g = torch.Generator().manual_seed(1)
    data = E.MNISTData(torch.rand(64, 1, 28, 28, generator=g), torch.arange(64) % 4,
                       torch.rand(16, 1, 28, 28, generator=g), torch.arange(16) % 4, "random images")
    cfg = MNISTConfig.for_scale("small").with_(steps=3, bince_steps=3, batch_size=8, n_train=32, n_test=16,
                                               probe_steps=3, probe_hidden=16, decoder_hidden=16, channels=4, z_dim=8,
                                               recon_predictor="resnet18")
    ev = E.mnist_eval_set(data, cfg)
    vic = E.evaluate_mnist_run(E.train_mnist_run(E.MNISTSpec("VIC", "VIC", "standard", 10.0), cfg, data, progress=False),
                               ev, cfg, data=data, progress=False)
    assert asked == ["small"]                      # the predictor's settings follow the chapter's scale
    # after 3 steps on noise the test images share a few codes, so the ResNet sees a few reconstructions: its error
    # is a count over the 16 balanced test labels (chance: 0.75)
    assert vic.num_codes < 10 and torch.equal(torch.bincount(ev.test_y), torch.tensor([4, 4, 4, 4]))
    for err in (vic.recon_resnet_error, vic.recon_linear_error):
        assert 0.5 <= err <= 1.0 and err * 16 == pytest.approx(round(err * 16), abs=1e-9)
    # what the predictor is trained on is what a receiver decodes from the bitstream
    x = ev.test_x[:6]
    assert torch.allclose(E._reconstruct(vic.model, x).cpu(), E.reconstructions(vic, x).cpu(), atol=1e-6)
    bince = E.evaluate_mnist_run(E.train_mnist_run(E.MNISTSpec("BINCE", "BINCE", "supervised", 10.0), cfg, data,
                                                   progress=False), ev, cfg, data=data, progress=False)
    assert math.isnan(bince.recon_resnet_error) and asked == ["small"]
    assert "recon_resnet_error" in E.mnist_table([vic, bince]).columns
    with pytest.raises(ValueError, match="'linear', 'resnet18'"):
        E.evaluate_mnist_run(vic, ev, cfg.with_(recon_predictor="mlp"))


def _mnist_probe_setup():
    """A VIC run on random 'digits' whose encoder output is spread by 1000, so that images get distinct codes."""
    data, cfg = _tiny_mnist()
    spec = E.MNISTSpec("VIC", "VIC", "standard", 10.0)
    model = E.train_mnist_run(spec, cfg, data, progress=False).model
    model.encoder = torch.nn.Sequential(model.encoder, _Times(1000.0))
    return spec, model, cfg, E.mnist_eval_set(data, cfg)


class _Times(torch.nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, z):
        return self.k * z


def test_mnist_error_rates_on_constructions_with_known_answers():
    """Error rates checked against answers known from the construction, not against a refit of the same probes."""
    from collections import Counter

    spec, model, cfg, ev = _mnist_probe_setup()
    z_tr = model.decompress(model.compress(ev.train_x))   # the codes a receiver decodes
    cfg = cfg.with_(probe_steps=1000)                     # enough for the MLP probe to fit 64 separable points

    # 1. labels independent of the (noise) input: each of the 96 images has its own code, so the empirical Bayes
    # error is 0 (no two images conflict); the probes' errors are counts over the 32 test images
    run = E.evaluate_mnist_run(E.MNISTRun(spec, model), ev, cfg)
    assert run.num_codes == 96 and run.bayes_error == 0.0 and run.conflicting_images == 0
    for err in (run.linear_error, run.mlp_error):
        assert 0.4 <= err <= 1.0 and (err * 32) == pytest.approx(round(err * 32), abs=1e-9)  # chance: 0.9

    # 2. labels a threshold on one code coordinate (separable by a hyperplane), tested on training images: both
    # probes separate them exactly, and Z determines the label (Bayes error 0) ...
    k = int(z_tr.std(0).argmax())
    t = float(z_tr[:, k].median()) - 0.5                 # codes lie on a unit grid: t sits between grid points
    y = (z_tr[:, k] > t).long()
    assert 0.3 < float(y.float().mean()) < 0.7
    sep = E.evaluate_mnist_run(E.MNISTRun(spec, model), E.MNISTEvalSet(ev.train_x, y, ev.train_x[:32], y[:32]), cfg)
    assert (sep.linear_error, sep.mlp_error, sep.bayes_error, sep.conflicting_images) == (0.0, 0.0, 0.0, 0)
    # ... and with every test label flipped, the same probes (which predict the training labels) err on all 32 test
    # images; 64 codes for 96 images, 32 of them shared by a pair of different labels: Bayes error 32 / 96
    flip = E.evaluate_mnist_run(E.MNISTRun(spec, model), E.MNISTEvalSet(ev.train_x, y, ev.train_x[:32], 1 - y[:32]),
                                cfg)
    assert (flip.linear_error, flip.mlp_error) == (1.0, 1.0)
    assert (flip.num_codes, flip.conflicting_images) == (64, 64)
    assert flip.bayes_error == pytest.approx(1 / 3, abs=1e-12)

    # 3. the first 32 training images again as test images, each with another of 4 labels: 64 codes, each shared
    # by two images of different labels; any function of Z errs on one of every pair: Bayes error 32/96
    y_te = (ev.train_y[:32] + 1) % 4
    dup = E.evaluate_mnist_run(E.MNISTRun(spec, model), E.MNISTEvalSet(ev.train_x, ev.train_y, ev.train_x[:32], y_te),
                               cfg)
    assert (dup.num_codes, dup.conflicting_images) == (64, 64)
    assert dup.bayes_error == pytest.approx(1 / 3, abs=1e-12)
    table = Counter()                                     # the same count, by hand, over code tuples
    for z, lab in zip(torch.cat([z_tr, z_tr[:32]]).tolist(), torch.cat([ev.train_y, y_te]).tolist()):
        table[tuple(z), lab] += 1
    best = Counter()
    for (z, _), n in table.items():
        best[z] = max(best[z], n)
    assert dup.bayes_error == pytest.approx(1 - sum(best.values()) / 96, abs=1e-12)


# ----------------------------------------------------------------------------------- checkpoint names
def test_config_tags_name_every_setting_that_changes_the_weights():
    banana, mnist = BananaConfig.for_scale("small"), MNISTConfig.for_scale("small")
    # stable: a hash of the settings, hard-coded so that an accidental change of the payload shows
    assert (banana.tag(), BananaConfig.for_scale("paper").tag()) == ("8e1ec41280", "d2e9f56909")
    assert (mnist.tag(), MNISTConfig.for_scale("paper").tag()) == ("34ade953e6", "9c4271c0a1")
    assert banana.tag() == BananaConfig.for_scale("small").tag() and len(banana.tag()) == 10
    # settings that change the weights change the tag (the betas and seeds too: every member's initial seed is its
    # index among the members) ...
    for change in ({"betas": (1.0, 4.0, 16.0)}, {"steps": 999}, {"lr": 1e-3}, {"hidden": 64}, {"seeds": 3},
                   {"lr_decay": 10.0}, {"z_dim_vic": 1}, {"authors_clip": True}):
        assert banana.with_(**change).tag() != banana.tag(), change
    for change in ({"steps": 900}, {"lr": 1e-3}, {"z_dim": 16}, {"bince_steps": 10}, {"vc_factor_beta": 0.5},
                   {"val_fraction": 0.05, "val_every": 10}, {"image_size": 32}, {"rate_warmup": 0.2}):
        assert mnist.with_(**change).tag() != mnist.tag(), change
    # ... settings of the evaluation, the scale's name and which runs exist (their names carry β) do not
    assert banana.with_(n_test=7, scale="paper").tag() == banana.tag()
    assert mnist.with_(n_test=7, n_train=9, probe_steps=1, probe_hidden=8, recon_predictor="resnet18", seeds=5,
                       feature_betas=(2.0,), feature_steps=1, feature_lr=1.0, betas=(1.0,), beta_vic=3.0,
                       beta_bince=1.0, beta_supervised=None, scale="paper").tag() == mnist.tag()


def test_checkpoint_names_carry_the_tags_and_each_runs_own_settings():
    from perceptual_compression.evaluation.recon_predictor import ReconPredictorConfig

    banana, mnist = BananaConfig.for_scale("small"), MNISTConfig.for_scale("small")
    assert E.banana_checkpoint_name(banana, 3) == "banana-v2-small-3-8e1ec41280"
    assert E.banana_checkpoint_name(banana, 3, ("VIC", 16.0, 1)) == "banana-v4-small-3-VIC-16-1-8e1ec41280"
    mild = E.MNISTSpec("VIC mild", "VIC", "mild", 10.0, sec51=True)
    assert E.mnist_checkpoint_name(mild, mnist, 2) == "mnist-v5-small-2-VIC_mild-VIC-mild-beta10.0-sec51-34ade953e6"
    assert E.mnist_checkpoint_name(E.MNISTSpec("VIC mild", "VIC", "mild", 3.0, sec51=True), mnist, 2) != \
        E.mnist_checkpoint_name(mild, mnist, 2)                       # the spec's β is in the name
    close = [E.MNISTSpec("VIC", "VIC", "standard", b) for b in (1 / 0.3, 3.33333)]  # equal to 6 digits
    assert E.mnist_checkpoint_name(close[0], mnist, 2) != E.mnist_checkpoint_name(close[1], mnist, 2)
    pcfg = ReconPredictorConfig.for_scale("small")
    name = E.predictor_checkpoint_name(mild, mnist, 2, pcfg, fresh_augmentations=True)
    assert name.startswith("mnist-v5-small-2-VIC_mild-VIC-mild-beta10.0-sec51-34ade953e6-resnet18-predictor-v4-")
    # the predictor's own training seed is in its name (by default the compressor's)
    assert E.predictor_checkpoint_name(mild, mnist, 2, pcfg, fresh_augmentations=True, predictor_seed=2) == name
    assert E.predictor_checkpoint_name(mild, mnist, 2, pcfg, fresh_augmentations=True, predictor_seed=0) != name
    others = {E.predictor_checkpoint_name(mild, mnist.with_(lr=1e-3), 2, pcfg, fresh_augmentations=True),
              E.predictor_checkpoint_name(mild, mnist, 2, pcfg.with_(epochs=3), fresh_augmentations=True),
              E.predictor_checkpoint_name(mild, mnist.with_(n_train=50), 2, pcfg, fresh_augmentations=True),
              E.predictor_checkpoint_name(mild, mnist, 2, pcfg, fresh_augmentations=False, eval_seed=2)}
    assert name not in others and len(others) == 4


def test_the_library_names_its_checkpoints_with_the_tags(monkeypatch, tmp_path):
    """run_banana, train_mnist_run and recon_resnet_error hand the trainers the names above; a changed setting
    (here the learning rate) trains anew instead of returning the first run's checkpoint."""
    cfg = BananaConfig.for_scale("small").with_(hidden=8, steps=2, betas=(4.0,), seeds=1, n_test=200)
    E.run_banana(cfg, seed=1, progress=False, checkpoint_dir=tmp_path)
    E.run_banana(cfg.with_(lr=1e-3), seed=1, progress=False, checkpoint_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.glob("banana*.pt")) == sorted(
        [f"banana-v2-small-1-{cfg.tag()}.pt", f"banana-v2-small-1-{cfg.with_(lr=1e-3).tag()}.pt"])
    paths = []
    real = E.train_compressor

    def spy(model, objective, batch_fn, **kw):
        paths.append(kw["checkpoint_path"])
        return real(model, objective, batch_fn, **{**kw, "steps": 1, "checkpoint_path": None})

    monkeypatch.setattr(E, "train_compressor", spy)
    data, mcfg = _tiny_mnist()
    spec = E.MNISTSpec("VIC supervised", "VIC", "supervised", 1.0, sec51=True)
    run = E.train_mnist_run(spec, mcfg, data, 4, progress=False, checkpoint_dir=tmp_path)
    assert paths == [tmp_path / f"mnist-v5-small-4-VIC_supervised-VIC-supervised-beta1.0-sec51-{mcfg.tag()}.pt"]
    assert run.seed == 4
    seen = []
    monkeypatch.setattr(E, "recon_predictor_error", lambda *a, checkpoint_path, **kw: seen.append(checkpoint_path) or
                        {"error": 0.5})
    ev = E.mnist_eval_set(data, mcfg, seed=7)
    assert ev.seed == 7 and E.recon_resnet_error(run, ev, mcfg, 4, checkpoint_dir=tmp_path) == 0.5
    assert E.recon_resnet_error(run, ev, mcfg, 9, checkpoint_dir=tmp_path) == 0.5  # a predictor of another seed
    pcfg = E.ReconPredictorConfig.for_scale("small")
    assert seen == [tmp_path / (E.predictor_checkpoint_name(spec, mcfg, 4, pcfg, fresh_augmentations=False,
                                                            eval_seed=7, predictor_seed=k) + ".pt") for k in (4, 9)]
    assert seen[0] != seen[1]
    assert mcfg.tag() in seen[0].name


# ----------------------------------------------------------------------------------- seeds (paper: 5 runs)
def test_mnist_summary_means_and_standard_deviations_by_hand():
    import pandas as pd

    rows = [("VC beta=3", "VC", 3.0, 0, 10.0, 0.5), ("VC beta=3", "VC", 3.0, 1, 14.0, 0.3),
            ("VIC beta=3", "VIC", 3.0, 0, 7.0, 0.4)]
    table = pd.DataFrame([{"run": r, "objective": o, "augmentation": "standard", "beta": b, "sec51": False,
                           "seed": s, "rate_bits": rate, "mlp_error": err} for r, o, b, s, rate, err in rows])
    out = E.mnist_summary(table)
    assert list(out["run"]) == ["VC beta=3", "VIC beta=3"] and list(out["runs"]) == [2, 1]
    vc = out.iloc[0]
    assert (vc["rate_bits"], vc["mlp_error"]) == (12.0, pytest.approx(0.4))
    assert vc["rate_bits_std"] == pytest.approx(2 * math.sqrt(2))          # sqrt(((10-12)^2 + (14-12)^2) / 1)
    assert vc["mlp_error_std"] == pytest.approx(0.1 * math.sqrt(2))
    vic = out.iloc[1]
    assert (vic["rate_bits"], vic["mlp_error"]) == (7.0, 0.4) and math.isnan(vic["rate_bits_std"])
    assert "seed" not in out.columns
    # Sec. 5.1's rows carry the spread when read from the summary
    sec51 = pd.DataFrame([{"run": r, "objective": o, "augmentation": a, "beta": b, "sec51": True, "seed": s,
                           "rate_bits": rate, "mlp_error": 0.1} for r, o, a, b, s, rate in (
        ("VIC mild", "VIC", "mild", 10.0, 0, 80.0), ("VIC standard", "VIC", "standard", 10.0, 0, 60.0),
        ("VIC supervised", "VIC", "supervised", 1.0, 0, 6.0),
        ("BINCE supervised", "BINCE", "supervised", 300.0, 0, 7.0),
        ("BINCE supervised", "BINCE", "supervised", 300.0, 1, 9.0))])
    picked = E.sec51_rows(E.mnist_summary(sec51), MNISTConfig.for_scale("small"))
    assert picked["bince"] == {"run": "BINCE supervised", "beta": 300.0, "rate_bits": 8.0,
                               "mlp_error": pytest.approx(0.1), "rate_bits_std": pytest.approx(math.sqrt(2)),
                               "mlp_error_std": 0.0, "runs": 2.0}
    assert picked["supervised"]["runs"] == 1.0 and math.isnan(picked["supervised"]["rate_bits_std"])


def test_mnist_runs_every_spec_with_every_seed(monkeypatch):
    """seeds=2: every spec trains twice, with seeds seed and seed + 1 (different weights); the first is the run a
    single seed gives; the summary is the two runs' mean and standard deviation."""
    data, cfg = _tiny_mnist()
    specs = [E.MNISTSpec("VIC", "VIC", "standard", 10.0), E.MNISTSpec("BINCE", "BINCE", "supervised", 10.0)]
    monkeypatch.setattr(E, "mnist_specs", lambda c: list(specs))
    assert E.mnist_run_seeds(cfg, 5) == [5] and E.mnist_run_seeds(cfg.with_(seeds=3), 5) == [5, 6, 7]
    two = cfg.with_(seeds=2)
    assert E.mnist_jobs(two, 5) == [(specs[0], 5), (specs[0], 6), (specs[1], 5), (specs[1], 6)]
    runs, ev = E.run_mnist(two, data, seed=5, progress=False)
    assert [(r.spec.name, r.seed) for r in runs] == [("VIC", 5), ("VIC", 6), ("BINCE", 5), ("BINCE", 6)]
    assert ev.seed == 5
    w = [r.model.encoder.state_dict() for r in runs]
    assert not torch.equal(next(iter(w[0].values())), next(iter(w[1].values())))
    alone, _ = E.run_mnist(cfg, data, seed=5, progress=False)         # seeds=1: the runs of the first seed
    assert [(r.spec.name, r.seed) for r in alone] == [("VIC", 5), ("BINCE", 5)]
    for a, b in zip(alone, runs[::2]):
        for (k, v), v2 in zip(a.model.state_dict().items(), b.model.state_dict().values()):
            assert torch.equal(v, v2), k
        assert (a.rate_bits, a.mlp_error) == (b.rate_bits, b.mlp_error)
    table = E.mnist_table(runs)
    assert list(table["seed"]) == [5, 6, 5, 6]
    out = E.mnist_summary(table)
    for i, name in enumerate(("VIC", "BINCE")):
        r0, r1 = runs[2 * i], runs[2 * i + 1]
        row = out[out.run == name].iloc[0]
        assert row["runs"] == 2
        assert row["rate_bits"] == pytest.approx((r0.rate_bits + r1.rate_bits) / 2)
        assert row["rate_bits_std"] == pytest.approx(abs(r0.rate_bits - r1.rate_bits) / math.sqrt(2))
    # a worker process trains the run of its own seed and evaluates it on the evaluation set of the base seed
    E._WORKER_CACHE.clear()
    E._WORKER_CACHE[(two.n_train, two.n_test, 5)] = (data, ev)
    try:
        out = E._mnist_job(specs[0], two, 5, 6, None)
    finally:
        E._WORKER_CACHE.clear()
    for k, v in runs[1].model.state_dict().items():
        if k in out["state"]:
            assert torch.equal(out["state"][k], v.cpu()), k
    assert out["metrics"]["rate_bits"] == runs[1].rate_bits
    # start_mnist submits every (spec, seed) and returns the runs in mnist_jobs' order (an executor that runs each
    # job at once in this process stands in for the worker processes, sharing the cached data; threads would share
    # torch's global generator with the main process's rebuilding of the models)
    import concurrent.futures

    class AtOnce:
        def __init__(self, max_workers, mp_context=None):
            pass

        def submit(self, fn, *args):
            fut = concurrent.futures.Future()
            fut.set_result(fn(*args))
            return fut

        def shutdown(self, wait=True):
            pass

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", AtOnce)
    E._WORKER_CACHE[(two.n_train, two.n_test, 5)] = (data, ev)
    try:
        started, _ = E.start_mnist(two, data, 5, workers=1).result()
    finally:
        E._WORKER_CACHE.clear()
    assert [(r.spec.name, r.seed) for r in started] == [("VIC", 5), ("VIC", 6), ("BINCE", 5), ("BINCE", 6)]
    assert [r.rate_bits for r in started] == [r.rate_bits for r in runs]


# ----------------------------------------------------------------------------------- status rules
def _row(beta, rate, err):
    return {"run": "r", "beta": beta, "rate_bits": rate, "mlp_error": err}


def test_fewer_bits_compares_like_with_like():
    # equal beta: the rates decide, whatever the errors
    assert E.fewer_bits(_row(10, 79.0, 0.01), _row(10, 5.7, 0.3))[0] == "qualitative"
    assert E.fewer_bits(_row(10, 40.0, 0.4), _row(10, 44.0, 0.3))[0] == "differs"
    # b at a lower beta: a lower rate counts only without a higher error (+ 0.01)
    assert E.fewer_bits(_row(10, 44.43, 0.45), _row(1, 5.49, 0.60))[0] == "info"
    assert E.fewer_bits(_row(10, 44.43, 0.45), _row(1, 5.49, 0.455))[0] == "qualitative"
    assert E.fewer_bits(_row(10, 44.43, 0.45), _row(1, 50.0, 0.10))[0] == "differs"
    # b at a higher beta: a lower rate counts; a higher one is only reported if it buys a lower error
    assert E.fewer_bits(_row(1, 44.0, 0.45), _row(10, 30.0, 0.6))[0] == "qualitative"
    assert E.fewer_bits(_row(1, 44.0, 0.45), _row(10, 50.0, 0.40))[0] == "info"
    assert E.fewer_bits(_row(1, 44.0, 0.45), _row(10, 50.0, 0.445))[0] == "differs"


def test_sec51_status_hand_cases():
    small = {"mild": _row(10, 71.14, 0.50), "standard": _row(10, 44.43, 0.45), "supervised": _row(1, 5.49, 0.60),
             "bince": _row(300, 11.01, 0.617)}
    out = E.sec51_status(small)
    # the supervised VIC's lower rate comes with its lower beta and a higher error: not evidence either way
    assert out["mnist_vic_rate_by_augmentation"][0] == "info" and out["mnist_vic_supervised_rate"][0] == "info"
    assert "β=1 vs 10" in out["mnist_vic_supervised_rate"][1]
    # BINCE: an error of 0.617 is above half of chance (0.45 on 10 classes), whatever its rate
    assert out["mnist_bince_supervised_rate"][0] == "differs"
    good = {**small, "supervised": _row(1, 5.49, 0.40), "bince": _row(300, 6.0, 0.40)}
    out = E.sec51_status(good)
    assert [out[k][0] for k in ("mnist_vic_rate_by_augmentation", "mnist_vic_supervised_rate",
                                "mnist_bince_supervised_rate")] == ["qualitative"] * 3
    # the paper scale trains the three VIC sets at one beta: the order of the rates decides
    paper = {"mild": _row(10, 185.3, 0.01), "standard": _row(10, 79.0, 0.01), "supervised": _row(10, 5.7, 0.02),
             "bince": _row(1e4, 5.9, 0.015)}
    assert {k: v[0] for k, v in E.sec51_status(paper).items()} == {
        "mnist_vic_rate_by_augmentation": "qualitative", "mnist_vic_supervised_rate": "qualitative",
        "mnist_bince_supervised_rate": "qualitative"}
    # a wrong order at equal beta differs; BINCE with a higher error than the standard VIC's is only reported, and
    # more bits at no lower error differ
    assert E.sec51_status({**paper, "mild": _row(10, 70.0, 0.01)})["mnist_vic_rate_by_augmentation"][0] == "differs"
    assert E.sec51_status({**paper, "bince": _row(1e4, 5.9, 0.05)})["mnist_bince_supervised_rate"][0] == "info"
    assert E.sec51_status({**paper, "bince": _row(1e4, 90.0, 0.01)})["mnist_bince_supervised_rate"][0] == "differs"
    assert E.sec51_status({**paper, "bince": _row(1e4, 90.0, 0.001)})["mnist_bince_supervised_rate"][0] == "differs"
    lossy = {**paper, "standard": _row(10, 79.0, 0.05)}     # more bits for an error lower by more than 0.01: a trade
    assert E.sec51_status({**lossy, "bince": _row(1e4, 90.0, 0.01)})["mnist_bince_supervised_rate"][0] == "info"
    # chance is 1 - 1/num_classes: on 4 classes the bound is 0.375
    assert E.sec51_status({**good, "bince": _row(300, 6.0, 0.40)}, num_classes=4)["mnist_bince_supervised_rate"][0] \
        == "differs"


def test_aurd_status_judges_the_ratio_against_the_seeds_spread():
    import pandas as pd

    from perceptual_compression.results import STATUSES

    def table(vic, vic_sem, vc, vc_sem, runs=2):
        return pd.DataFrame({"aurd_common": [vc, vic], "aurd_common_sem": [vc_sem, vic_sem], "runs": [runs, runs]},
                            index=pd.Index(["VC", "VIC"], name="objective"))

    out = E.aurd_status(table(5.0, 0.3, 10.0, 0.8))
    # ratio 0.5, s.e. 0.5 * sqrt(0.06^2 + 0.08^2) = 0.05: the gap 0.5 is far beyond 2 s.e.
    assert (out["status"], out["ratio"], out["ratio_sem"]) == ("qualitative", 0.5, pytest.approx(0.05))
    out = E.aurd_status(table(9.0, 0.9, 10.0, 0.8))
    # ratio 0.9, s.e. 0.9 * sqrt(0.1^2 + 0.08^2) = 0.1153: the gap 0.1 is within 2 s.e.
    assert out["status"] == "info" and out["ratio_sem"] == pytest.approx(0.9 * math.hypot(0.1, 0.08))
    assert "inconclusive" in out["reason"]
    out = E.aurd_status(table(12.0, 0.3, 10.0, 0.1))
    assert out["status"] == "differs" and out["ratio"] == pytest.approx(1.2)
    out = E.aurd_status(table(5.0, float("nan"), 10.0, float("nan"), runs=1))   # one seed: no spread to judge by
    assert out["status"] == "info" and math.isnan(out["ratio_sem"]) and "one seed" in out["reason"]
    assert {E.aurd_status(table(*a))["status"] for a in ((5, .3, 10, .8), (9, .9, 10, .8), (12, .3, 10, .1))} \
        <= set(STATUSES)


def test_results_notes_describe_the_training_of_the_scale_run():
    small, paper = MNISTConfig.for_scale("small"), MNISTConfig.for_scale("paper")
    assert E.training_extent(small, 60_000) == \
        "small scale: 800 steps of 64 digits (0.85 of an epoch of 60,000) of a small CNN"
    # the paper scale holds out 5%: 44,600 steps of 128 digits over 57,000 are 100.2 epochs
    assert E.training_extent(paper, 60_000) == \
        "paper scale: 44,600 steps of 128 digits (100 epochs of 57,000) of a ResNet-18"
    assert E.training_extent(small.with_(steps=2000), 1000) == \
        "small scale: 2,000 steps of 64 digits (128 epochs of 1,000) of a small CNN"
    # the chapter's results notes take it from the config instead of a fixed "small scale" text
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / "book" / "ch5_invariant.ipynb").read_text())
    code = {c["id"]: "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"}
    for cid in ("bafeb412", "925ebb0f"):
        assert "E.training_extent(mnist_cfg" in code[cid]
        assert "0.85 of an epoch" not in code[cid] and "a few hundred steps" not in code[cid]
    assert "E.sec51_status(" in code["925ebb0f"] and "E.aurd_status(" in code["9408e97c"]


def test_sec51_rows_refuses_a_table_of_several_seeds_per_run():
    import pandas as pd

    cfg = MNISTConfig.for_scale("small")
    rows = [("VIC mild", "mild", cfg.beta_vic, True), ("VIC standard", "standard", cfg.beta_vic, False),
            ("VIC supervised", "supervised", cfg.beta_supervised, True)]
    table = pd.DataFrame([{"run": r, "objective": "VIC", "augmentation": a, "beta": b, "sec51": s51, "seed": seed,
                           "rate_bits": 10.0 + seed, "mlp_error": 0.5} for r, a, b, s51 in rows for seed in (0, 1)]
                         + [{"run": "BINCE", "objective": "BINCE", "augmentation": "supervised", "beta": 1.0,
                             "sec51": True, "seed": seed, "rate_bits": 5.0, "mlp_error": 0.4} for seed in (0, 1)])
    with pytest.raises(ValueError, match="mnist_summary"):
        E.sec51_rows(table, cfg)
    picked = E.sec51_rows(E.mnist_summary(table), cfg)  # the means over the two seeds
    assert picked["mild"]["rate_bits"] == pytest.approx(10.5) and picked["mild"]["runs"] == 2



def test_every_paper_run_and_seed_starts_from_its_own_initial_weights():
    """The paper's "VC beta=3.33333" and "VC beta=33.3333" are anagrams; every (run, seed) has its own seed."""
    cfg = MNISTConfig.for_scale("paper")
    jobs = E.mnist_jobs(cfg, 0)
    assert len(jobs) == cfg.seeds * len(E.mnist_specs(cfg))
    inits = {E.run_init_seed(spec, s) for spec, s in jobs}
    assert len(inits) == len(jobs)
    a, b = E.MNISTSpec("VC beta=3.33333", "VC", "standard", 1.0), E.MNISTSpec("VC beta=33.3333", "VC", "standard", 1.0)
    assert sorted(a.name) == sorted(b.name) and E.run_init_seed(a, 0) != E.run_init_seed(b, 0)
    assert E.run_init_seed(a, 0) == int(hashlib.sha1(b'{"run": "VC beta=3.33333", "seed": 0}').hexdigest()[:10], 16)
