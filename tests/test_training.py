import math

import pytest
import torch
from torch import nn

from perceptual_compression.training import (NonFiniteLossError, Trainer, default_device, kept_checkpoint_path,
                                             seed_everything)
from perceptual_compression.training.schedules import exponential_decay, piecewise_constant, warmup_cosine


def _regression_problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 4, generator=g)
    w = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    y = x @ w
    return x, y


def _make(tmp_path=None, every=0, seed=0, keep=0):
    seed_everything(seed)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    ckpt = tmp_path / "ckpt.pt" if tmp_path is not None else None
    trainer = Trainer(modules={"model": model}, optimizers={"opt": opt}, schedulers={"sched": sched},
                      checkpoint_path=ckpt, checkpoint_every=every, seed=seed, progress=False, keep_every=keep)
    x, y = _regression_problem()

    def step_fn(step):
        idx = torch.randint(0, len(x), (32,))
        loss = ((model(x[idx]) - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        return {"loss": loss}

    return trainer, model, step_fn


def test_training_lowers_the_loss():
    trainer, model, step_fn = _make()
    hist = trainer.run(step_fn, 200)
    assert len(hist) == 200
    assert hist.last("loss", 10) < 0.01 * hist.values("loss")[:10].mean()
    assert not model.training  # back in eval mode


def test_resume_is_identical_to_uninterrupted(tmp_path):
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir(); b_dir.mkdir()
    t1, m1, f1 = _make(a_dir, every=25)
    t1.run(f1, 100)
    # interrupted run: 50 steps, then a fresh process-like trainer resumes from the checkpoint
    t2, m2, f2 = _make(b_dir, every=25)
    t2.run(f2, 50)
    t3, m3, f3 = _make(b_dir, every=25)
    t3.run(f3, 100)
    assert t3.resumed_from == 50
    for p, q in zip(m1.parameters(), m3.parameters()):
        assert torch.equal(p, q)
    assert len(t3.history) == 100


def test_checkpoint_is_written_atomically(tmp_path):
    t, m, f = _make(tmp_path, every=10)
    t.run(f, 30)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]
    state = torch.load(tmp_path / "ckpt.pt", weights_only=False)
    assert state["step"] == 30


def test_nan_loss_stops_with_clear_message(tmp_path):
    t, m, f = _make(tmp_path, every=5)

    def bad(step):
        out = f(step)
        if step == 7:
            return {"loss": torch.tensor(float("nan")), "aux": 1.0}
        return out

    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at step 7 \(loss=nan\).*step 5\) is intact"):
        t.run(bad, 20)
    assert torch.load(tmp_path / "ckpt.pt", weights_only=False)["step"] == 5


def test_seed_everything_reproducible_and_validates():
    seed_everything(3)
    a = torch.rand(3)
    seed_everything(3)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(-1)


def test_default_device(monkeypatch):
    monkeypatch.delenv("PERCEPTUAL_COMPRESSION_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert default_device().type == expected
    assert default_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            default_device("cuda")


def test_warmup_cosine_values():
    f = lambda s: warmup_cosine(s, warmup_steps=10, total_steps=110)
    assert f(0) == pytest.approx(0.1)
    assert f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.5)
    assert f(110) == pytest.approx(0.0, abs=1e-12)
    assert f(500) == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine(60, warmup_steps=10, total_steps=110, final_factor=0.1) == pytest.approx(0.55)


def test_piecewise_constant_pim_schedule():
    f = lambda s: 1e-3 * piecewise_constant(s, boundaries=[50_000, 80_000], factors=[1, 0.1, 0.01])
    assert f(0) == 1e-3 and f(49_999) == 1e-3
    assert math.isclose(f(50_000), 1e-4) and math.isclose(f(79_999), 1e-4)
    assert math.isclose(f(80_000), 1e-5) and math.isclose(f(10**6), 1e-5)
    with pytest.raises(ValueError):
        piecewise_constant(0, boundaries=[2, 1], factors=[1, 2, 3])


def test_exponential_decay_per_step_and_per_epoch():
    # per step: decay ** (-step / total), clamped at the end
    assert exponential_decay(0, total_steps=100, decay=100.0) == 1.0
    assert exponential_decay(50, total_steps=100, decay=100.0) == pytest.approx(0.1)
    assert exponential_decay(100, total_steps=100, decay=100.0) == exponential_decay(500, total_steps=100, decay=100.0)
    assert exponential_decay(100, total_steps=100, decay=100.0) == pytest.approx(0.01)
    # per epoch, as ExponentialLR(gamma = decay ** (-1 / epochs)) stepped after every epoch: 100 epochs of 446 steps
    torch_lr = []
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=100.0 ** (-1 / 100))
    for _ in range(100):
        torch_lr.append(opt.param_groups[0]["lr"])
        sched.step()
    ours = [exponential_decay(s, total_steps=44_600, decay=100.0, epoch_steps=446) for s in range(44_600)]
    assert len(set(ours[:446])) == 1 and ours[445] == 1.0 and ours[446] < 1.0  # constant within an epoch
    assert ours[::446] == pytest.approx(torch_lr, rel=1e-12)
    assert ours[-1] == pytest.approx(100.0 ** (-99 / 100)) and exponential_decay(
        44_600, total_steps=44_600, decay=100.0, epoch_steps=446) == ours[-1]  # the last epoch's rate is kept
    with pytest.raises(ValueError):
        exponential_decay(0, total_steps=0, decay=10.0)


def test_time_limit_stops_after_the_step_that_runs_out_and_resume_continues(tmp_path, monkeypatch):
    import perceptual_compression.training.loop as loop

    clock = iter(float(i) for i in range(10_000))  # one second per reading of the clock
    monkeypatch.setattr(loop, "_clock", lambda: next(clock))
    t, m, f = _make(tmp_path, every=0)
    t.time_limit_s = 3.5
    hist = t.run(f, 100)
    # readings: 0 at the start, then 1, 2, 3, 4 after steps 1-4: 4 - 0 >= 3.5 stops after the 4th step
    assert t.step == 4 and t.stopped_by_time_limit and len(hist) == 4
    assert torch.load(tmp_path / "ckpt.pt", weights_only=False)["step"] == 4  # a checkpoint at the stop
    # a trainer without a limit resumes there and ends where an uninterrupted run of 10 steps ends
    t2, m2, f2 = _make(tmp_path, every=0)
    t2.run(f2, 10)
    assert t2.resumed_from == 4 and t2.step == 10 and not t2.stopped_by_time_limit
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    t3, m3, f3 = _make(ref_dir, every=0)
    t3.run(f3, 10)
    for p, q in zip(m2.parameters(), m3.parameters()):
        assert torch.equal(p, q)


def test_train_seconds_add_up_over_resumed_invocations(tmp_path, monkeypatch):
    import perceptual_compression.training.loop as loop

    clock = iter(float(i) for i in range(10_000))  # one second per reading: one reading per step
    monkeypatch.setattr(loop, "_clock", lambda: next(clock))
    t, m, f = _make(tmp_path, every=0)
    t.run(f, 6)
    assert t.train_seconds == 6.0 and t.resumed_from is None
    assert torch.load(tmp_path / "ckpt.pt", weights_only=False)["train_seconds"] == 6.0
    t2, m2, f2 = _make(tmp_path, every=0)
    t2.run(f2, 10)  # resumes at step 6: 4 more steps, 4 more seconds
    assert t2.resumed_from == 6 and t2.train_seconds == 10.0
    t3, m3, f3 = _make(tmp_path, every=0)
    t3.run(f3, 10)  # nothing left to train: resuming adds nothing
    assert t3.resumed_from == 10 and t3.train_seconds == 10.0
    # a checkpoint written before train_seconds was saved: the earlier time is unknown, and stays so
    state = torch.load(tmp_path / "ckpt.pt", weights_only=False)
    del state["train_seconds"]
    torch.save(state, tmp_path / "ckpt.pt")
    t4, m4, f4 = _make(tmp_path, every=0)
    t4.run(f4, 12)
    assert t4.resumed_from == 10 and t4.step == 12 and t4.train_seconds is None
    assert torch.load(tmp_path / "ckpt.pt", weights_only=False)["train_seconds"] is None


def test_time_limit_zero_runs_one_step_and_a_generous_one_runs_all():
    t, m, f = _make()
    t.time_limit_s = 0.0
    t.run(f, 50)
    assert t.step == 1 and t.stopped_by_time_limit
    t2, m2, f2 = _make()
    t2.time_limit_s = 3600.0
    t2.run(f2, 20)
    assert t2.step == 20 and not t2.stopped_by_time_limit
    with pytest.raises(ValueError, match="time_limit_s"):
        Trainer(modules={"model": m}, time_limit_s=-1.0)


def test_kept_checkpoints_hold_the_weights_at_their_steps(tmp_path):
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir(); b_dir.mkdir()
    t, m, f = _make(a_dir, every=10, keep=20)
    t.run(f, 50)
    kept = sorted(p.name for p in a_dir.iterdir() if p.name != "ckpt.pt")
    assert kept == ["ckpt.step00000020.pt", "ckpt.step00000040.pt"]
    assert kept_checkpoint_path(a_dir / "ckpt.pt", 20) == a_dir / "ckpt.step00000020.pt"
    # the copy at step 20 is the weights of a run of 20 steps (same seed), not of the longer run
    t20, m20, f20 = _make(b_dir, seed=0)
    t20.run(f20, 20)
    state = torch.load(a_dir / "ckpt.step00000020.pt", weights_only=False)
    assert state["step"] == 20
    for k, v in m20.state_dict().items():
        assert torch.equal(state["modules"]["model"][k], v)
    assert not torch.equal(state["modules"]["model"]["weight"], m.weight.detach())
    with pytest.raises(ValueError, match="needs a checkpoint_path"):
        Trainer(modules={"model": m}, keep_every=5)
    with pytest.raises(ValueError, match="keep_every must be >= 0"):
        Trainer(modules={"model": m}, checkpoint_path=tmp_path / "c.pt", keep_every=-1)


class _Counter:
    """A stream with state_dict / load_state_dict (as PatchDataset has)."""

    def __init__(self):
        self.n = 0

    def draw(self):
        self.n += 1
        return float(self.n)

    def state_dict(self):
        return {"n": self.n}

    def load_state_dict(self, state):
        self.n = state["n"]


def _stream_run(ckpt, steps, every=3):
    """A trainer whose step function draws from three private streams; returns (drawn values, trainer)."""
    import numpy as np

    tg, ng, counter = torch.Generator().manual_seed(4), np.random.default_rng(5), _Counter()
    model = nn.Linear(1, 1)
    drawn = []

    def step_fn(step):
        drawn.append((float(torch.rand(1, generator=tg)), float(ng.random()), counter.draw()))
        return {"loss": model(torch.ones(1, 1)).sum()}

    t = Trainer(modules={"model": model}, checkpoint_path=ckpt, checkpoint_every=every, progress=False,
                streams={"torch": tg, "numpy": ng, "counter": counter})
    t.run(step_fn, steps)
    return drawn, t


def test_resume_continues_the_private_data_streams(tmp_path):
    whole, _ = _stream_run(tmp_path / "a.pt", 8)
    first, _ = _stream_run(tmp_path / "b.pt", 5)
    rest, t = _stream_run(tmp_path / "b.pt", 8)  # fresh streams, as in a new process
    assert t.resumed_from == 5 and len(rest) == 3
    assert first + rest == whole  # the batches of an uninterrupted run, none repeated
    assert whole[5][2] == 6.0 and len({w[0] for w in whole}) == 8


def test_resume_from_a_checkpoint_without_stream_states_warns(tmp_path):
    ckpt = tmp_path / "old.pt"
    _stream_run(ckpt, 4)
    state = torch.load(ckpt, weights_only=False)
    del state["streams"]
    torch.save(state, ckpt)
    with pytest.warns(RuntimeWarning, match="no state for the data stream.*'torch', 'numpy', 'counter'"):
        rest, _ = _stream_run(ckpt, 6)
    assert rest[0][2] == 1.0  # the counter restarted


def test_streams_must_have_a_state():
    with pytest.raises(TypeError, match="stream 'x' is a list; a stream must be a torch.Generator"):
        Trainer(modules={"m": nn.Linear(1, 1)}, streams={"x": [1, 2]})
