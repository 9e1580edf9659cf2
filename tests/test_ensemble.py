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
