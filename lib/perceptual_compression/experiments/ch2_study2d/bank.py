"""The bank of 2D compressive autoencoders (Sec. 3 and 5.1; appendix C): its families and members, training,
loading, and each member's rate measured from real bitstreams."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ...models.mlp_autoencoder import MLPAutoencoder
from ...sources.student_t import StudentT2D
from ...training import Trainer, default_device, seed_everything
from ...training.schedules import warmup_cosine


CLIP_MODES = ("per-model", "joint")  # Study2DConfig.clip


def record_clip(record: dict) -> str:
    """How a committed 2D run clipped its gradients: its config's ``clip``, or ``"joint"`` for the records made
    before the setting existed (one norm over the whole bank)."""
    return record["config"].get("clip", "joint")


def record_command(record: dict) -> str:
    """A committed 2D run's recorded command, with what repeating it needs today: the runs recorded before
    ``--clip`` existed clipped over the whole bank, which is now ``--clip joint`` (the default is per autoencoder)."""
    command = record["command"]
    if "config" in record and record_clip(record) == "joint" and "--clip" not in command:
        command += "  (recorded before --clip existed: repeat it with --clip joint)"
    return command


FAMILIES = {
    "L1": "R + λD (eq. 9)",
    "L2": "R + p(x)^0.1·λD (eq. 10)",
    "L3": "R + p(x)^-0.1·λD (eq. 11)",
    "U": "R + λD on uniform samples (Fig. 13a)",
    "UW": "p(x)^0.1·(R + λD) on uniform samples (Fig. 13b)",
}


@dataclass(frozen=True)
class Member:
    """One autoencoder of the bank: its family (objective and data) and its Lagrange multiplier."""

    family: str
    lmbda: float

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family={self.family!r} is not valid; valid values are: {', '.join(FAMILIES)}")

    @property
    def name(self) -> str:
        return f"{self.family}-λ{self.lmbda:g}"


def distortion_weight_normalisers(source: StudentT2D, gamma: float, *, n: int = 1_000_000, seed: int = 12345) -> dict[str, float]:
    """``E_p[p(x)^gamma]`` and ``E_p[p(x)^-gamma]`` (Monte Carlo): dividing the weights of eqs. 10-11 by them
    keeps the average weight at 1, so that the three objectives reach similar rates at the same lambda
    (appendix C tunes lambda for that; this does it once for all lambdas)."""
    x = source.sample(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    lp = source.log_prob(x)
    return {"L2": float(torch.exp(gamma * lp).mean()), "L3": float(torch.exp(-gamma * lp).mean())}


def bank_members(cfg) -> list[Member]:
    """The members of the bank described by a :class:`~.ch2_config.Study2DConfig`."""
    members = [Member("L1", lm) for lm in cfg.lambdas]
    members += [Member("L2", lm) for lm in cfg.lambdas]
    members += [Member("L3", lm) for lm in cfg.inverse_lambdas]
    members += [Member("U", cfg.uniform_lambda), Member("UW", cfg.uniform_lambda)]
    return members


@dataclass
class TrainedBank:
    """A trained bank, its members and the source."""

    model: MLPAutoencoder
    members: list[Member]
    source: StudentT2D
    history: object
    gamma: float
    steps_done: int | None = None  # training steps run (fewer than cfg.steps if a time limit stopped it)
    resumed_from: int | None = None  # the step training resumed at from its checkpoint (None: from the start)
    train_seconds: float | None = None  # training time over every invocation that trained it (the Trainer's)

    def index(self, family: str, lmbda: float | None = None) -> int:
        for i, m in enumerate(self.members):
            if m.family == family and (lmbda is None or math.isclose(m.lmbda, lmbda)):
                return i
        raise KeyError(f"no member {family} λ={lmbda}")

    def family_indices(self, family: str) -> list[int]:
        return [i for i, m in enumerate(self.members) if m.family == family]


def train_bank(cfg, *, seed: int = 0, checkpoint_path: str | Path | None = None, device=None,
               progress: bool | None = None, time_limit_s: float | None = None, keep_every: int = 0) -> TrainedBank:
    """Train every member of the bank for ``cfg.steps`` steps (Adam, ``cfg.lr``, batch ``cfg.batch_size``;
    cosine decay to ``cfg.final_lr_factor * cfg.lr``, 1 = constant as in the paper).

    Each step draws one Student-t batch (shared by ``L1``/``L2``/``L3``) and one uniform batch on
    ``[-cfg.uniform_half_width, cfg.uniform_half_width]^2`` (shared by ``U``/``UW``). The entropy
    bottleneck's quantiles get their own Adam (CompressAI's auxiliary loss) and are refined by bisection
    at the end. Gradients are clipped at ``cfg.clip_grad_norm``, per autoencoder (``cfg.clip="per-model"``)
    or over the whole bank (``"joint"``). ``time_limit_s`` stops training early (the trainer's wall-clock
    budget; with the paper's constant learning rate the result is the run with ``steps`` = the bank's
    ``steps_done``). ``keep_every`` keeps a copy of the checkpoint every that many steps
    (:func:`~perceptual_compression.training.kept_checkpoint_path`), for :func:`load_bank` to measure the bank
    over training.
    """
    if cfg.clip not in CLIP_MODES:
        raise ValueError(f"clip must be one of {', '.join(map(repr, CLIP_MODES))}, got {cfg.clip!r}")
    device = device or default_device()
    seed_everything(seed)
    source = StudentT2D(nu=cfg.nu, scale=cfg.scale)
    members = bank_members(cfg)
    K = len(members)
    model = MLPAutoencoder(dim=2, hidden=cfg.hidden, latent=2, n_models=K).to(device)
    main_params = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
    aux_params = [p for n, p in model.named_parameters() if n.endswith("quantiles")]
    opt = torch.optim.Adam(main_params, lr=cfg.lr)
    aux_opt = torch.optim.Adam(aux_params, lr=cfg.aux_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(
        s, warmup_steps=0, total_steps=max(1, cfg.steps), final_factor=cfg.final_lr_factor))

    lm = torch.tensor([m.lmbda for m in members], dtype=torch.float32, device=device)
    fam = [m.family for m in members]
    is_uniform = torch.tensor([f in ("U", "UW") for f in fam], device=device)
    gamma_d = torch.tensor([{"L2": cfg.gamma, "L3": -cfg.gamma}.get(f, 0.0) for f in fam], device=device)
    norm = distortion_weight_normalisers(source, cfg.gamma) if cfg.normalise_weights else {}
    log_norm_d = torch.tensor([math.log(norm.get(f, 1.0)) for f in fam], device=device)
    gamma_all = torch.tensor([cfg.gamma if f == "UW" else 0.0 for f in fam], device=device)
    gen = torch.Generator().manual_seed(seed)
    hw = cfg.uniform_half_width

    def step_fn(step: int):
        xs = source.sample(cfg.batch_size, generator=gen).to(device)
        xu = ((torch.rand(cfg.batch_size, 2, generator=gen) * 2 - 1) * hw).to(device)
        x = torch.where(is_uniform[:, None, None], xu.unsqueeze(0), xs.unsqueeze(0))  # (K, B, 2)
        logp = source.log_prob(x).float()
        wd = torch.exp(gamma_d[:, None] * logp - log_norm_d[:, None])
        wt = torch.exp(gamma_all[:, None] * logp)
        out = model.loss(x, lm, distortion_weight=wd, weight=wt)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        if cfg.clip == "per-model":
            model.clip_grad_norm_per_model_(cfg.clip_grad_norm)
        else:
            torch.nn.utils.clip_grad_norm_(main_params, cfg.clip_grad_norm)
        opt.step()
        sched.step()
        aux = model.aux_loss()
        aux_opt.zero_grad(set_to_none=True)
        aux.backward()
        aux_opt.step()
        return {"loss": out["loss"], "aux_loss": aux, "rate_mean": out["rate"].mean()}

    trainer = Trainer(modules={"bank": model}, optimizers={"opt": opt, "aux": aux_opt},
                      schedulers={"lr": sched},
                      checkpoint_path=checkpoint_path, checkpoint_every=cfg.checkpoint_every if checkpoint_path else 0,
                      seed=None, progress=progress, desc=f"2D bank ({K} autoencoders)", log_every=cfg.log_every,
                      time_limit_s=time_limit_s, keep_every=keep_every, streams={"samples": gen})
    history = trainer.run(step_fn, cfg.steps)
    model.eval()
    model.entropy_bottleneck.update(force=True, update_quantiles=True)
    return TrainedBank(model, members, source, history, cfg.gamma, steps_done=trainer.step,
                       resumed_from=trainer.resumed_from, train_seconds=trainer.train_seconds)


def load_bank(cfg, checkpoint_path: str | Path, *, device=None) -> TrainedBank:
    """The bank of a :func:`train_bank` checkpoint (written every ``cfg.checkpoint_every`` steps and at the
    end), ready to evaluate: the members of ``cfg``, the weights at the checkpoint's step (``steps_done``),
    and the entropy bottleneck's quantiles refined and its tables built as :func:`train_bank` does at the end.
    A checkpoint copied during training gives the bank at that step, to follow a measurement over training.
    ``cfg`` must describe the same bank (members, width); a mismatch raises."""
    members = bank_members(cfg)
    model = MLPAutoencoder(dim=2, hidden=cfg.hidden, latent=2, n_models=len(members))
    state = torch.load(Path(checkpoint_path), map_location="cpu", weights_only=False)
    try:
        model.load_state_dict(state["modules"]["bank"])
    except RuntimeError as err:
        raise ValueError(f"{checkpoint_path} does not hold the bank of this configuration ({len(members)} members "
                         f"{', '.join(m.name for m in members)}, width {cfg.hidden}): {err}") from err
    model.to(device or "cpu").eval()
    model.entropy_bottleneck.update(force=True, update_quantiles=True)
    return TrainedBank(model, members, StudentT2D(nu=cfg.nu, scale=cfg.scale), None, cfg.gamma,
                       steps_done=int(state["step"]))


@torch.no_grad()
def member_rates(bank: TrainedBank, x: torch.Tensor, *, codec_factory=None) -> list[dict[str, float]]:
    """Per member: rate from the real bitstream (bits per 2D sample, header included), the rate estimated
    from likelihoods, and the mean over samples of the sum of squared errors (SSE, eq. 3's D), on the points
    ``x`` (each member is evaluated on its own training distribution: pass Student-t samples; uniform members
    get them too, which is how Fig. 13 compares them)."""
    if codec_factory is None:
        from ...coding import EntropyBottleneckCodec

        def codec_factory(eb, name):
            return EntropyBottleneckCodec(eb, codec_id=f"ch2-2d-{name}")
    rows = []
    n = x.shape[0]
    x = x.to(next(bank.model.parameters()).device)  # the bank may be on CUDA, the samples on the CPU
    for k, member in enumerate(bank.members):
        single = bank.model.extract(k)
        single.entropy_bottleneck.update(force=True)
        out = single(x, training=False)
        y = single.encode(x)[0]
        codec = codec_factory(single.entropy_bottleneck, member.name)
        data = codec.compress(y.reshape(n, 2, 1, 1))
        y_dec = codec.decompress(data).reshape(n, 2)
        sse = ((out["x_hat"][0] - x) ** 2).sum(-1)
        rows.append({
            "member": member.name, "family": member.family, "lambda": member.lmbda,
            "bits_per_sample": 8 * len(data) / n,
            "bits_per_sample_estimated": float(out["bits"].mean()),
            "sse": float(sse.mean()),
            "decoded_matches": bool(torch.allclose(y_dec, out["y_hat"][0], atol=1e-4)),
        })
    return rows
