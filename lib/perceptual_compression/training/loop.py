"""A small training loop for the chapters: progress bar, finite-loss guard, atomic checkpoints and resume.

The loop owns no model logic. A chapter writes a ``step_fn(step) -> dict`` that does one optimisation
step and returns the numbers to log; the :class:`Trainer` calls it, checks the losses are finite,
records a history, shows a tqdm bar, and writes a checkpoint (modules, optimizers, schedulers, RNG
states, the states of the data ``streams``, history and any ``extra_state``) every ``checkpoint_every``
steps and at the end. Running the same trainer again with the same ``checkpoint_path`` resumes where it
stopped, drawing the same data an uninterrupted run would have drawn.

Example::

    trainer = Trainer(modules={"model": model}, optimizers={"opt": opt}, checkpoint_path="runs/m.pt",
                      checkpoint_every=500, seed=0, desc="No-GAN")

    def step_fn(step):
        loss = model.loss(next(batches))
        opt.zero_grad(); loss.backward(); opt.step()
        return {"loss": loss}

    history = trainer.run(step_fn, steps=2_000)
"""

from __future__ import annotations

import math
import os
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .seed import seed_everything

_clock = time.monotonic  # the clock of Trainer.time_limit_s and Trainer.train_seconds (a test replaces it)


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; training stopped (the last checkpoint, if any, is intact)."""


def _progress_enabled(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    return os.environ.get("PERCEPTUAL_COMPRESSION_PROGRESS", "1") not in ("0", "false", "no")


class TrainingHistory:
    """Logged values per step: a list of dicts with a ``step`` key."""

    def __init__(self, rows: list[dict[str, float]] | None = None) -> None:
        self.rows: list[dict[str, float]] = list(rows or [])

    def append(self, step: int, values: Mapping[str, float]) -> None:
        self.rows.append({"step": step, **values})

    def __len__(self) -> int:
        return len(self.rows)

    def values(self, key: str) -> np.ndarray:
        return np.array([r[key] for r in self.rows if key in r], dtype=float)

    def steps(self, key: str) -> np.ndarray:
        return np.array([r["step"] for r in self.rows if key in r], dtype=int)

    def last(self, key: str, n: int = 1) -> float:
        v = self.values(key)
        if len(v) == 0:
            raise KeyError(f"no logged values for {key!r}")
        return float(v[-n:].mean())

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


def _to_float(v: Any) -> float:
    if isinstance(v, torch.Tensor):
        return float(v.detach().float().mean().cpu())
    return float(v)


def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _check_stream(name: str, stream: Any) -> None:
    if not isinstance(stream, (torch.Generator, np.random.Generator)) and not (
            hasattr(stream, "state_dict") and hasattr(stream, "load_state_dict")):
        raise TypeError(f"stream {name!r} is a {type(stream).__name__}; a stream must be a torch.Generator, a "
                        "numpy.random.Generator or an object with state_dict() and load_state_dict()")


def _stream_state(stream: Any) -> Any:
    """The state of a data stream: a torch or NumPy generator, or an object with ``state_dict()``."""
    if isinstance(stream, torch.Generator):
        return stream.get_state()
    if isinstance(stream, np.random.Generator):
        return stream.bit_generator.state
    return stream.state_dict()


def _restore_stream(stream: Any, state: Any) -> None:
    """Put ``stream`` back in ``state`` (as returned by :func:`_stream_state`)."""
    if isinstance(stream, torch.Generator):
        stream.set_state(state)
    elif isinstance(stream, np.random.Generator):
        stream.bit_generator.state = state
    else:
        stream.load_state_dict(state)


def kept_checkpoint_path(checkpoint_path: str | Path, step: int) -> Path:
    """Where :class:`Trainer` (``keep_every``) keeps the copy of ``checkpoint_path`` at ``step``."""
    p = Path(checkpoint_path)
    return p.with_name(f"{p.stem}.step{int(step):08d}{p.suffix}")


class Trainer:
    """Run a user step function with logging, finite-loss checks, checkpoints and resume.

    Parameters
    ----------
    modules, optimizers, schedulers:
        Named objects whose ``state_dict`` goes into checkpoints.
    checkpoint_path:
        File for checkpoints. If it exists when :meth:`run` starts, training resumes from it.
    checkpoint_every:
        Steps between checkpoints (0: only at the end). Checkpoints are written atomically.
    seed:
        If given, every RNG is seeded before the first step (not on resume: RNG states are restored).
    loss_keys:
        Keys of the step function's output that must be finite. By default every key containing "loss".
    progress:
        Show a tqdm bar (default: on unless ``PERCEPTUAL_COMPRESSION_PROGRESS=0``).
    streams:
        The random sources the step function draws its data from besides the global RNGs, by name: each a
        ``torch.Generator``, a ``numpy.random.Generator`` or an object with ``state_dict()`` /
        ``load_state_dict()`` (a :class:`~perceptual_compression.datasets.PatchDataset`'s batch stream). Their
        states go into checkpoints and are restored on resume, so a resumed run sees the batches an
        uninterrupted one would have seen (without this, a private stream restarts from its seed on resume and
        the run repeats its first batches). A checkpoint that lacks a stream's state resumes with a warning.
    extra_state:
        A dict saved in checkpoints and restored on resume (e.g. a rate controller's state).
    keep_every:
        Steps between kept copies of the checkpoint (0: none). Every ``keep_every`` steps the checkpoint is also
        written to :func:`kept_checkpoint_path` (``<stem>.step<k><suffix>`` beside ``checkpoint_path``) and never
        overwritten, so a run leaves its weights at those steps for measuring a quantity over training.
        Needs ``checkpoint_path``.
    time_limit_s:
        Wall-clock budget of one :meth:`run` call: after the step during which it runs out, training stops
        (at least one step runs), a checkpoint is written (with ``checkpoint_path``) and
        :attr:`stopped_by_time_limit` is set; ``self.step``
        then holds the number of steps done. ``None``: no limit. Meant for runs on lent machines with a fixed
        lease; with a constant learning rate, a run stopped at step ``k`` is the run with ``steps = k``.

    Attributes
    ----------
    resumed_from:
        The step :meth:`run` resumed at from ``checkpoint_path`` (None: the run started from its first step).
    train_seconds:
        Wall-clock seconds spent in the training loop so far, over this call of :meth:`run` and every earlier
        invocation whose checkpoint it resumed (saved in checkpoints). A record of a resumed run can so give the
        run's whole training time rather than this invocation's. None when the run resumed from a checkpoint
        written before this was saved (the earlier time is unknown).
    """

    def __init__(
        self,
        *,
        modules: Mapping[str, nn.Module],
        optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
        schedulers: Mapping[str, Any] | None = None,
        checkpoint_path: str | Path | None = None,
        checkpoint_every: int = 0,
        seed: int | None = None,
        loss_keys: tuple[str, ...] | None = None,
        progress: bool | None = None,
        desc: str = "training",
        log_every: int = 1,
        extra_state: dict[str, Any] | None = None,
        time_limit_s: float | None = None,
        keep_every: int = 0,
        streams: Mapping[str, Any] | None = None,
    ) -> None:
        self.modules = dict(modules)
        self.streams = dict(streams or {})
        for name, stream in self.streams.items():
            _check_stream(name, stream)
        self.optimizers = dict(optimizers or {})
        self.schedulers = dict(schedulers or {})
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        if checkpoint_every < 0:
            raise ValueError("checkpoint_every must be >= 0")
        self.checkpoint_every = checkpoint_every
        if keep_every < 0:
            raise ValueError("keep_every must be >= 0")
        if keep_every and checkpoint_path is None:
            raise ValueError("keep_every needs a checkpoint_path (the kept copies are written beside it)")
        self.keep_every = keep_every
        self.seed = seed
        self.loss_keys = loss_keys
        self.progress = _progress_enabled(progress)
        self.desc = desc
        self.log_every = max(1, int(log_every))
        self.extra_state: dict[str, Any] = dict(extra_state or {})
        if time_limit_s is not None and time_limit_s < 0:
            raise ValueError("time_limit_s must be >= 0 or None")
        self.time_limit_s = time_limit_s
        self.stopped_by_time_limit = False
        self.step = 0
        self.history = TrainingHistory()
        self.resumed_from: int | None = None
        self.train_seconds: float | None = 0.0
        self._last_ckpt_step: int | None = None

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        rng = {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "step": self.step,
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "history": self.history.rows,
            "extra_state": self.extra_state,
            "rng": rng,
            "streams": {k: _stream_state(v) for k, v in self.streams.items()},
            "train_seconds": self.train_seconds,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for k, m in self.modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][k])
        self.step = int(state["step"])
        self.history = TrainingHistory(state.get("history", []))
        self.extra_state.update(state.get("extra_state", {}))
        self.train_seconds = state.get("train_seconds")  # absent (older checkpoints): the earlier time is unknown
        rng = state.get("rng", {})
        if "python" in rng:
            random.setstate(rng["python"])
        if "numpy" in rng:
            np.random.set_state(rng["numpy"])
        if "torch" in rng:
            torch.set_rng_state(rng["torch"].cpu() if hasattr(rng["torch"], "cpu") else rng["torch"])
        if "cuda" in rng and torch.cuda.is_available():  # as many devices' states as both machines have
            for i, s in enumerate(list(rng["cuda"])[:torch.cuda.device_count()]):
                torch.cuda.set_rng_state(s, i)
        saved = state.get("streams", {})
        missing = [k for k in self.streams if k not in saved]
        if missing:
            warnings.warn(f"{self.desc}: the checkpoint at step {self.step} holds no state for the data stream(s) "
                          f"{', '.join(map(repr, missing))} (it was written before stream states were saved); they "
                          "restart from their seeds, so the resumed run draws different batches from an uninterrupted "
                          "one", RuntimeWarning, stacklevel=3)
        for k, stream in self.streams.items():
            if k in saved:
                _restore_stream(stream, saved[k])

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        path = Path(path) if path else self.checkpoint_path
        if path is None:
            raise ValueError("no checkpoint path given")
        _atomic_save(self.state_dict(), path)
        return path

    def load_checkpoint(self, path: str | Path | None = None) -> None:
        path = Path(path) if path else self.checkpoint_path
        if path is None or not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}")
        state = torch.load(path, map_location="cpu", weights_only=False)
        self.load_state_dict(state)
        self.resumed_from = self.step

    # ------------------------------------------------------------------- the loop
    def _check_finite(self, step: int, values: Mapping[str, float]) -> None:
        keys = self.loss_keys if self.loss_keys is not None else tuple(k for k in values if "loss" in k)
        bad = {k: values[k] for k in keys if k in values and not math.isfinite(values[k])}
        if bad:
            where = (f"the last checkpoint ({self.checkpoint_path}, step {self._last_ckpt_step}) is intact"
                     if self._last_ckpt_step is not None else "no checkpoint was written")
            shown = ", ".join(f"{k}={v}" for k, v in bad.items())
            raise NonFiniteLossError(
                f"{self.desc}: non-finite loss at step {step} ({shown}); training stopped and {where}. "
                "Lower the learning rate, check the inputs for NaN, or resume from the checkpoint with another seed."
            )

    def run(self, step_fn: Callable[[int], Mapping[str, Any]], steps: int) -> TrainingHistory:
        """Call ``step_fn(step)`` for ``step`` in ``[self.step, steps)`` and return the history."""
        if steps < 0:
            raise ValueError("steps must be >= 0")
        if self.checkpoint_path is not None and self.checkpoint_path.is_file() and self.step == 0:
            self.load_checkpoint()
            self._last_ckpt_step = self.step
        elif self.seed is not None and self.step == 0:
            seed_everything(self.seed)
        for m in self.modules.values():
            m.train()

        bar = None
        if self.progress and steps > self.step:
            from tqdm import tqdm

            bar = tqdm(total=steps, initial=self.step, desc=self.desc, mininterval=2.0, file=sys.stderr,
                       dynamic_ncols=True, leave=True)
        started = _clock()
        before = self.train_seconds  # the earlier invocations' training time (None: unknown)
        try:
            while self.step < steps:
                step = self.step
                out = step_fn(step)
                values = {k: _to_float(v) for k, v in (out or {}).items()}
                self._check_finite(step, values)
                if step % self.log_every == 0 or step == steps - 1:
                    self.history.append(step, values)
                self.step = step + 1
                if bar is not None:
                    bar.update(1)
                    if values and (step % 10 == 0 or self.step == steps):
                        bar.set_postfix({k: f"{v:.4g}" for k, v in list(values.items())[:4]}, refresh=False)
                elapsed = _clock() - started  # one reading per step, for the time limit and train_seconds
                if before is not None:
                    self.train_seconds = before + elapsed
                if (self.checkpoint_path is not None and self.checkpoint_every
                        and self.step % self.checkpoint_every == 0 and self.step < steps):
                    self.save_checkpoint()
                    self._last_ckpt_step = self.step
                if self.keep_every and self.step % self.keep_every == 0:
                    self.save_checkpoint(kept_checkpoint_path(self.checkpoint_path, self.step))
                if self.time_limit_s is not None and self.step < steps and elapsed >= self.time_limit_s:
                    self.stopped_by_time_limit = True
                    if bar is not None:
                        bar.write(f"{self.desc}: time limit of {self.time_limit_s:g} s reached after step {self.step} "
                                  f"of {steps}; stopping")
                    break
        finally:
            if bar is not None:
                bar.close()
        if self.checkpoint_path is not None:
            self.save_checkpoint()
            self._last_ckpt_step = self.step
        for m in self.modules.values():
            m.eval()
        return self.history
