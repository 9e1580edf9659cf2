"""models.ensemble: K members trained in one pass behave exactly like K standalone compressors."""

from __future__ import annotations

import pytest
import torch

from perceptual_compression.models.ensemble import CompressorEnsemble, train_ensemble


pytestmark = pytest.mark.usefixtures("one_thread_per_test")  # see conftest.py



def test_members_equal_the_ensemble():
    ens = CompressorEnsemble(3, (1, 6, 6), 4, 16, 2, [0, 1, 2], activation="relu")
    # as after train_ensemble: medians found by bisection, which member() also does for its own prior
    ens.prior.update(force=True)
    ens.eval()
    x = torch.rand(3, 5, 1, 6, 6)
    z, bits = ens(x)
    out = ens.decode(z)
    assert z.shape == (3, 5, 4) and bits.shape == (3, 5) and out.shape == (3, 5, 1, 6, 6)
    for k in range(3):
        m = ens.member(k)
        zk, bk = m(x[k])
        torch.testing.assert_close(zk, z[k])
        torch.testing.assert_close(bk, bits[k], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(m.decode(zk), out[k], rtol=1e-5, atol=1e-6)


def test_members_are_independent_and_seeded():
    a = CompressorEnsemble(2, (2,), 2, 8, 2, [5, 6])
    b = CompressorEnsemble(2, (2,), 2, 8, 2, [7, 5])
    torch.testing.assert_close(a.encoder.linears[0].weight[0], b.encoder.linears[0].weight[1])
    x = torch.randn(2, 4, 2)
    z, bits = a(x)
    a.decode(z)[0].sum().backward()      # a loss of member 0 only
    for lin in list(a.encoder.linears) + list(a.decoder.linears):
        assert lin.weight.grad[1].abs().max() == 0
        assert lin.weight.grad[0].abs().max() > 0


def test_train_ensemble_logs_every_member():
    ens = CompressorEnsemble(2, (2,), 2, 8, 1, [0, 1])
    g = torch.Generator().manual_seed(0)

    def batch(step):
        x = torch.randn(2, 32, 2, generator=g)
        return x, x

    hist = train_ensemble(ens, batch, [1.0, 100.0], steps=60, lr=1e-2, likelihood="gaussian", progress=False)
    assert {"rate_0", "rate_1", "distortion_0", "distortion_1"} <= set(hist.rows[-1])
    # a larger beta buys a smaller distortion with more bits
    assert hist.last("distortion_1") < hist.last("distortion_0")
    assert hist.last("rate_1") > hist.last("rate_0")
    assert ens.member(1).prior.entropy_bottleneck._quantized_cdf.numel() > 0   # ready to code


def _toy_batches(k, seed=0, n=8, b=16):
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn(b, 2, generator=g) * 3 for _ in range(n)]
    return [torch.stack([x] * k) for x in xs]


def test_each_members_clip_is_torchs_clip_of_its_own_gradient():
    ens = CompressorEnsemble(3, (2,), 2, 8, 2, [0, 1, 2])
    x = torch.randn(3, 16, 2) * 4
    z, bits = ens(x)
    scales = torch.tensor([1.0, 50.0, 0.01]).view(3, 1)      # member 1's gradient far above the clip, 2's below
    (scales * ((ens.decode(z) - x).pow(2).sum(-1) + bits)).sum().backward()
    blocks = ens._member_blocks()
    before = [p.grad.detach().clone().reshape(3, -1) for p in blocks]
    norms = ens.clip_grad_norm_per_member_(3.0)
    for k in range(3):
        own = [torch.nn.Parameter(g[k].clone()) for g in before]
        for p, g in zip(own, before):
            p.grad = g[k].clone()
        expected_norm = torch.nn.utils.clip_grad_norm_(own, 3.0)
        torch.testing.assert_close(norms[k], expected_norm, rtol=1e-5, atol=1e-6)
        for p, q in zip(own, blocks):
            torch.testing.assert_close(q.grad.reshape(3, -1)[k], p.grad)
    assert norms[1] > 3.0 > norms[2]            # the clip bound one member and left another alone


def test_a_member_trains_as_a_standalone_run_would():
    """A member's parameters after training equal a standalone ``train_compressor`` run from the same
    initialisation on the same batches and noise, clip at 3 included; a neighbour's beta does not move them."""
    from perceptual_compression.models.invariant_compressor import train_compressor

    steps, lr = 8, 5e-2
    batches = _toy_batches(2)

    def trained(betas, grad_clip=3.0):
        ens = CompressorEnsemble(len(betas), (2,), 2, 8, 2, [3, 4][:len(betas)])
        solo = ens.member(0).train()
        train_ensemble(ens, lambda s: (batches[s][:len(betas)],) * 2, betas, steps=steps, lr=lr,
                       likelihood="gaussian", seed=11, progress=False, grad_clip=grad_clip)
        return ens, solo

    ens, solo = trained([64.0])
    train_compressor(solo, "VC", lambda s: (batches[s][0], batches[s][0]), beta=64.0, steps=steps, lr=lr,
                     likelihood="gaussian", seed=11, progress=False)
    alone = ens.member(0)
    for (name, p), q in zip(alone.named_parameters(), solo.parameters()):
        if not name.endswith("quantiles"):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5, msg=name)
    # member 0 does not depend on its neighbour's beta (one clipped hard, one hardly)
    hard, _ = trained([64.0, 4096.0])
    soft, _ = trained([64.0, 0.01])
    for a, b in zip(hard._member_blocks(), soft._member_blocks()):
        torch.testing.assert_close(a.reshape(2, -1)[0], b.reshape(2, -1)[0])
        assert (a.reshape(2, -1)[1] - b.reshape(2, -1)[1]).abs().max() > 0
    # and the clip acted: without it member 0 ends elsewhere
    free, _ = trained([64.0], grad_clip=0.0)
    assert (free.encoder.linears[0].weight[0] - ens.encoder.linears[0].weight[0]).abs().max() > 1e-3


def test_per_block_clip_is_torchs_clip_of_each_block():
    """training.grad_clip: block k of every gradient is clipped by torch's rule over block k alone; the 2D bank
    and the ch5 ensemble both clip through it."""
    from perceptual_compression.training.grad_clip import clip_grad_norm_per_block_

    g = torch.Generator().manual_seed(0)
    grads = [torch.randn(3, 4, 5, generator=g), torch.randn(3 * 2, generator=g)]
    grads[0][1] *= 100.0                                   # block 1 far above the clip
    grads[0][2] *= 1e-3
    grads[1][4:] *= 1e-3                                   # block 2 below it
    before = [t.clone() for t in grads]
    norms = clip_grad_norm_per_block_(grads, 3, 2.0)
    for k in range(3):
        own = [torch.nn.Parameter(torch.zeros(20)), torch.nn.Parameter(torch.zeros(2))]
        own[0].grad, own[1].grad = before[0][k].flatten().clone(), before[1][2 * k:2 * k + 2].clone()
        torch.testing.assert_close(norms[k], torch.nn.utils.clip_grad_norm_(own, 2.0))
        torch.testing.assert_close(grads[0][k].flatten(), own[0].grad)
        torch.testing.assert_close(grads[1][2 * k:2 * k + 2], own[1].grad)
    assert norms[1] > 2.0 > norms[2]
