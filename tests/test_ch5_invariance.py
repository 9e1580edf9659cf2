"""experiments.ch5_invariance: parameter validation and a tiny end-to-end banana sweep."""

from __future__ import annotations

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
        # after 4 steps on noise the encoder barely tells the images apart: every image, train and test,
        # is coded to the same Z (checked on the bitstream). Then every predictor is a constant, and on the
        # balanced test labels (8 of each class) any constant is wrong 24 times in 32; the best function of
        # a single code predicts the majority label of all 96 images.
        codes = torch.cat([run.model.decompress(run.model.compress(x)) for x in (ev.train_x, ev.test_x)])
        assert len(torch.unique(codes, dim=0)) == run.num_codes == 1
        assert run.linear_error == run.mlp_error == 0.75
        assert run.bayes_error == pytest.approx(1 - int(torch.bincount(labels).max()) / 96, abs=1e-12)
        assert run.conflicting_images == 96
        if spec.objective == "VIC":
            assert run.recon_linear_error == 0.75
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
    # every test image is coded to the same Z (3 steps on noise), so the ResNet sees one reconstruction and
    # predicts one class: wrong on 12 of the 16 balanced test labels, whatever it learned
    assert vic.num_codes == 1 and torch.equal(torch.bincount(ev.test_y), torch.tensor([4, 4, 4, 4]))
    assert vic.recon_resnet_error == 0.75 and vic.recon_linear_error == 0.75
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


def _errors_by_hand(probe, features, labels):
    """Misclassified rows, from the probe's weights applied to the standardised features (not its helpers)."""
    with torch.no_grad():
        logits = probe.model(((features.flatten(1).float() - probe.mean) / probe.std))
    return logits.argmax(1) != labels


def test_mnist_error_rates_on_constructions_with_known_answers():
    from collections import Counter

    from perceptual_compression.evaluation.downstream import fit_probe

    spec, model, cfg, ev = _mnist_probe_setup()
    z_tr = model.decompress(model.compress(ev.train_x))   # the codes a receiver decodes
    z_te = model.decompress(model.compress(ev.test_x))

    # 1. labels independent of the (noise) input: the error rates recomputed from the probes' predictions;
    # each of the 96 images has its own code, so the empirical Bayes error is 0 (no two images conflict)
    run = E.evaluate_mnist_run(E.MNISTRun(spec, model), ev, cfg)
    lin = fit_probe(z_tr, ev.train_y, kind="linear", steps=100, seed=0)
    mlp = fit_probe(z_tr, ev.train_y, kind="mlp", steps=cfg.probe_steps, hidden=cfg.probe_hidden, lr=2e-3, seed=0)
    assert run.linear_error == _errors_by_hand(lin, z_te, ev.test_y).sum().item() / 32
    assert run.mlp_error == _errors_by_hand(mlp, z_te, ev.test_y).sum().item() / 32
    assert run.num_codes == 96 and run.bayes_error == 0.0 and run.conflicting_images == 0
    assert 0.4 <= run.linear_error <= 1.0   # chance is 0.75; 32 test images, binomial spread about 0.08

    # 2. labels a threshold on one code coordinate (separable by a hyperplane), tested on training images:
    # the logistic-regression probe separates them exactly, and Z determines the label (Bayes error 0)
    k = int(z_tr.std(0).argmax())
    t = float(z_tr[:, k].median()) - 0.5                 # codes lie on a unit grid: t sits between grid points
    y = (z_tr[:, k] > t).long()
    assert 0.3 < float(y.float().mean()) < 0.7
    sep = E.evaluate_mnist_run(E.MNISTRun(spec, model), E.MNISTEvalSet(ev.train_x, y, ev.train_x[:32], y[:32]), cfg)
    assert sep.linear_error == 0.0 and sep.bayes_error == 0.0 and sep.conflicting_images == 0

    # 3. the first 32 training images again as test images, each with another label: 64 codes, each shared by
    # two images of different labels; any function of Z errs on one of every pair: Bayes error 32/96
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
    # ... and so does the linear probe: on the 32 duplicated pairs it errs at least 32 times in all
    wrong_train = _errors_by_hand(lin, z_tr[:32], ev.train_y[:32]).sum().item()
    assert dup.linear_error == _errors_by_hand(lin, z_tr[:32], y_te).sum().item() / 32
    assert wrong_train + 32 * dup.linear_error >= 32
