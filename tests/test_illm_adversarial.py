"""MS-ILLM part 2: ILLM / PatchGAN losses, labeler, discriminators, and the decoder-only fine-tuning step."""

from __future__ import annotations

import copy
from dataclasses import replace
import math

import pytest
import torch
import torch.nn.functional as F

from perceptual_compression.losses.adversarial import (illm_discriminator_loss, illm_generator_loss,
                                                       ns_discriminator_loss, ns_generator_loss)
from perceptual_compression.models.illm_discriminator import NORMS, ConditionalUNetDiscriminator
from perceptual_compression.models.patchgan import PatchGANDiscriminator
from perceptual_compression.models.vqvae_labeler import LabelerConfig, VQVAELabeler, XCiTAttention, codebook_usage


# ----------------------------------------------------------------------------- losses (eq. 6-7)
def _hand_log_softmax(logits):
    # log D = z - log sum exp z, written out (no torch.log_softmax / cross_entropy)
    m = logits.max(dim=1, keepdim=True).values
    return logits - m - torch.log(torch.exp(logits - m).sum(dim=1, keepdim=True))


def _one_hot(labels, classes):
    return torch.zeros(labels.shape[0], classes, *labels.shape[1:]).scatter_(1, labels.unsqueeze(1), 1.0)


def test_illm_losses_match_hand_written_log_softmax():
    g = torch.Generator().manual_seed(0)
    C, B, h, w = 7, 3, 4, 5
    real, fake = torch.randn(B, C + 1, h, w, generator=g) * 3, torch.randn(B, C + 1, h, w, generator=g) * 3
    labels = torch.randint(0, C, (B, h, w), generator=g)
    u = _one_hot(labels + 1, C + 1)  # u(x): class c + 1 for label c
    b0 = _one_hot(torch.zeros_like(labels), C + 1)  # the "fake" class
    # eq. 6: -<u(x), log D(x)> - <b0, log D(x_hat)>, averaged over positions and images
    d_expected = (-(u * _hand_log_softmax(real)).sum(1)).mean() + (-(b0 * _hand_log_softmax(fake)).sum(1)).mean()
    g_expected = (-(u * _hand_log_softmax(fake)).sum(1)).mean()  # eq. 7
    torch.testing.assert_close(illm_discriminator_loss(real, fake, labels), d_expected)
    torch.testing.assert_close(illm_generator_loss(fake, labels), g_expected)


def test_illm_loss_limits_and_checks():
    labels = torch.tensor([[[0, 2], [1, 1]]])
    big = 50.0
    perfect_real = torch.zeros(1, 4, 2, 2).scatter_(1, (labels + 1).unsqueeze(1), big)
    perfect_fake = torch.zeros(1, 4, 2, 2)
    perfect_fake[:, 0] = big
    assert illm_discriminator_loss(perfect_real, perfect_fake, labels) < 1e-6
    # a generator whose outputs the discriminator calls fake pays about `big` nats per position
    assert illm_generator_loss(perfect_fake, labels).item() == pytest.approx(big, rel=1e-3)
    with pytest.raises(ValueError, match="align"):
        illm_generator_loss(torch.zeros(1, 4, 3, 3), labels)
    with pytest.raises(ValueError, match="reserved for fake"):
        illm_generator_loss(perfect_fake, labels + 2)


def test_binary_non_saturating_losses():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    expected_d = -torch.log(sig(real)).mean() - torch.log(1 - sig(fake)).mean()
    torch.testing.assert_close(ns_discriminator_loss(real, fake), expected_d)
    torch.testing.assert_close(ns_generator_loss(fake), -torch.log(sig(fake)).mean())


# ----------------------------------------------------------------------------- labeler
def test_labeler_paper_config_and_table2_axes():
    cfg = LabelerConfig.paper()
    assert (cfg.channels, cfg.channel_mult, cfg.res_blocks, cfg.embed_dim, cfg.code_dim, cfg.codebook_size,
            cfg.heads) == (64, (1, 2, 2, 4), 2, 256, 8, 1024, 1)  # the reference's XCA: num_heads=1
    assert LabelerConfig.small().heads == 4
    assert cfg.downsampling == 8 and cfg.spatial == 32 and cfg.label_shape(256, 256) == (32, 32)
    assert LabelerConfig.paper(spatial=16).label_shape(256, 256) == (16, 16)
    assert LabelerConfig.small(codebook_size=256).codebook_size == 256
    with pytest.raises(ValueError):
        LabelerConfig.paper(spatial=8)
    with pytest.raises(ValueError, match="multiple"):
        cfg.label_shape(100, 256)


def test_labeler_downsampling_pads_as_the_released_encoder_at_paper_scale():
    from perceptual_compression.models.vqvae_labeler import Downsample

    assert LabelerConfig.paper().downsample_padding == "reference"
    assert LabelerConfig.small().downsample_padding == "symmetric"  # the committed small runs
    with pytest.raises(ValueError, match="symmetric"):
        LabelerConfig(downsample_padding="reflect")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 8, 6, generator=g)
    ref, sym = Downsample(4, "reference"), Downsample(4, "symmetric")
    sym.load_state_dict(ref.state_dict())  # a plain Conv2d's parameter names in either mode
    w, b = ref.weight, ref.bias
    # the released encoder: F.pad(x, (0, 1, 0, 1)) and an unpadded stride-2 3x3 convolution
    torch.testing.assert_close(ref(x), F.conv2d(F.pad(x, (0, 1, 0, 1)), w, b, stride=2))
    torch.testing.assert_close(sym(x), F.conv2d(x, w, b, stride=2, padding=1))
    assert ref(x).shape == sym(x).shape == (2, 4, 4, 3)
    assert (ref(x) - sym(x)).abs().max() > 0.1  # the two windows are shifted by one pixel
    # the encoder wires the config's mode into every strided convolution, with the same parameter names
    paper_like = LabelerConfig.small()
    enc_sym = VQVAELabeler(paper_like).encoder
    enc_ref = VQVAELabeler(LabelerConfig(**{**paper_like.to_dict(), "channel_mult": paper_like.channel_mult,
                                            "downsample_padding": "reference"})).encoder
    downs = [m for m in enc_ref.modules() if isinstance(m, Downsample)]
    assert len(downs) == 3 and all(m.mode == "reference" for m in downs)
    assert all(m.mode == "symmetric" for m in enc_sym.modules() if isinstance(m, Downsample))
    assert list(enc_ref.state_dict()) == list(enc_sym.state_dict())


@pytest.mark.parametrize("spatial", [16, 32])
def test_label_map_shape_and_alignment_with_latent(spatial):
    torch.manual_seed(0)
    lab = VQVAELabeler(LabelerConfig.small(spatial=spatial, codebook_size=32)).freeze()
    x = torch.rand(2, 3, 128, 192)
    labels = lab.labels(x)
    d = 256 // spatial
    assert labels.shape == (2, 128 // d, 192 // d) and labels.dtype == torch.int64
    assert 0 <= labels.min() and labels.max() < 32
    out = lab(x)
    assert out["x_hat"].shape == x.shape and torch.equal(out["indices"], labels)
    # the codec's latent is at 1/16: each latent cell covers (16/d)^2 label cells, exactly
    latent_hw = (128 // 16, 192 // 16)
    assert labels.shape[1] * d == latent_hw[0] * 16 and labels.shape[2] * d == latent_hw[1] * 16
    # eq. 8 written out: the label is the codebook entry nearest (squared L2) to the normalised vector e
    e = lab.quantizer.vectors(lab.encoder(2 * x - 1))  # the network works in [-1, 1] (VQ-GAN convention)
    codes = torch.nn.functional.normalize(lab.quantizer.codebook, dim=1)
    dist = ((e.permute(0, 2, 3, 1).unsqueeze(-2) - codes) ** 2).sum(-1)
    assert torch.equal(dist.argmin(-1), labels)


def test_labeler_vq_losses_and_straight_through():
    torch.manual_seed(0)
    lab = VQVAELabeler(LabelerConfig.small(codebook_size=16))
    x = torch.rand(1, 3, 64, 64)
    out = lab(x)
    assert out["embedding_loss"].item() == pytest.approx(out["commitment_loss"].item(), rel=1e-5)
    # the VQ terms are means over the code's elements: ||e - m||^2 / code_dim, averaged over positions
    e = lab.quantizer.vectors(lab.encoder(2 * x - 1))
    m = torch.nn.functional.normalize(lab.quantizer.codebook, dim=1)[out["indices"]].permute(0, 3, 1, 2)
    by_hand = ((e - m) ** 2).sum(1).mean() / lab.config.code_dim
    assert out["embedding_loss"].item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert 0 <= out["embedding_loss"].item() <= 4.0 / lab.config.code_dim  # unit vectors: distance^2 <= 4
    # x_hat is in the units of x: the decoder's [-1, 1] output mapped back
    assert torch.allclose(out["x_hat"], (lab.decoder(out["z_q"]) + 1) / 2)
    (out["x_hat"].sum() + out["embedding_loss"]).backward()
    assert lab.encoder.layers[0].weight.grad is not None and lab.encoder.layers[0].weight.grad.abs().sum() > 0
    assert lab.quantizer.codebook.grad.abs().sum() > 0
    usage = codebook_usage(torch.tensor([0, 0, 1, 1]), 4)
    assert usage["used"] == 0.5 and usage["perplexity"] == pytest.approx(2.0)


def test_xcit_attention_is_linear_in_tokens_and_permutation_equivariant():
    torch.manual_seed(0)
    att = XCiTAttention(8, heads=2)
    x = torch.randn(1, 8, 4, 4)
    perm = torch.randperm(16)
    xp = x.flatten(2)[..., perm].reshape(1, 8, 4, 4)
    torch.testing.assert_close(att(xp).flatten(2), att(x).flatten(2)[..., perm])
    # XCA written out per head (El-Nouby et al. 2021): queries and keys L2-normalised over the tokens, a d x d
    # softmax over channels with the head's temperature, applied to the values; then the projection, residually
    import torch.nn.functional as F

    with torch.no_grad():
        att.temperature.copy_(torch.tensor([0.5, 2.0]).view(2, 1, 1))
        t = att.norm(x).flatten(2)[0].T  # (tokens, channels)
        q, k, v = att.qkv(t).chunk(3, dim=-1)
        outs = []
        for h in range(2):
            s = slice(4 * h, 4 * h + 4)
            a = torch.softmax(att.temperature[h] * (F.normalize(q[:, s], dim=0).T @ F.normalize(k[:, s], dim=0)), -1)
            assert a.shape == (4, 4)  # channels x channels: the cost is linear in the tokens
            outs.append(a @ v[:, s].T)
        want = x + att.proj(torch.cat(outs, 0).T).T.reshape(1, 8, 4, 4)
        torch.testing.assert_close(att(x), want)
        assert not torch.allclose(att(x), x, atol=1e-3)


def test_frozen_labeler_stays_frozen_through_train():
    lab = VQVAELabeler(LabelerConfig.small(codebook_size=8)).freeze()
    lab.train()
    assert not lab.training and all(not m.training for m in lab.modules())
    assert not any(p.requires_grad for p in lab.parameters())


# ----------------------------------------------------------------------------- discriminators
@pytest.mark.parametrize("norm", NORMS)
def test_unet_discriminator_output_shapes_per_norm(norm):
    torch.manual_seed(0)
    d = ConditionalUNetDiscriminator(10, 8, 12, context_features=4, channels=(8, 8, 16, 16), norm=norm)
    x, y = torch.rand(2, 3, 64, 96), torch.randn(2, 12, 4, 6)
    logits = d(x, y)
    assert logits.shape == (2, 11, 8, 12) and d.num_classes == 11
    assert torch.isfinite(logits).all()
    kinds = {type(m).__name__ for m in d.modules()}
    assert ("InstanceNorm2d" in kinds) == (norm == "instance")
    has_sn = any(hasattr(m, "parametrizations") for m in d.modules())
    assert has_sn == (norm == "spectral")
    # the output depends on the latent (conditional)
    assert not torch.allclose(d(x, y), d(x, y + 1.0))


def test_unet_discriminator_paper_layout_and_errors():
    d = ConditionalUNetDiscriminator(1024, 8, 220, norm="none")
    assert d(torch.rand(1, 3, 64, 64), torch.rand(1, 220, 4, 4)).shape == (1, 1025, 8, 8)
    assert d.context[0].out_channels == 16 and d.down[0].body[0].in_channels == 3 + 16
    # the released U-Net: up levels 512, 256 and a 64-channel last one, a plain 1x1 head, reflect-padded context
    assert d.layout == "reference" and [b.body[-1].out_channels for b in d.up] == [512, 256, 64]
    assert isinstance(d.head, torch.nn.Conv2d) and d.head.in_channels == 64 and d.head.kernel_size == (1, 1)
    assert d.context[0].padding_mode == "reflect"
    with pytest.raises(ValueError, match="'reference', 'skips'"):
        ConditionalUNetDiscriminator(4, 8, 0, layout="unet")
    with pytest.raises(ValueError, match="power of 2"):
        ConditionalUNetDiscriminator(4, 6, 0)
    with pytest.raises(ValueError, match="norm"):
        ConditionalUNetDiscriminator(4, 8, 0, norm="batch")
    with pytest.raises(ValueError, match="conditional"):
        d(torch.rand(1, 3, 64, 64))


@pytest.mark.parametrize("layout", ["reference", "skips"])
def test_unet_layouts_differ_by_the_skip_connections(layout):
    """With the up path's weights zeroed, the "reference" U-Net's logits no longer depend on the image (nothing
    bypasses the deep path), the "skips" one's still do (the down path's features are added across the U)."""
    torch.manual_seed(0)
    d = ConditionalUNetDiscriminator(6, 8, 0, channels=(8, 8, 16, 32), layout=layout)
    assert not any(isinstance(b.shortcut, torch.nn.Identity) for b in d.up)   # nothing passes the up path unweighted
    with torch.no_grad():
        for p in d.up.parameters():
            p.zero_()
    x1, x2 = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    assert torch.equal(d(x1), d(x2)) == (layout == "reference")
    # the released U-Net's shortcuts read the input after its in-place LeakyReLU (no norm layer to copy it): with
    # the body zeroed, a block is the shortcut of LeakyReLU(x); the first block and instance norm read x itself
    block = ConditionalUNetDiscriminator(6, 8, 0, channels=(8, 8, 16, 32), layout=layout).down[2]
    with torch.no_grad():
        for p in block.body.parameters():
            p.zero_()
        x = torch.randn(1, 8, 16, 16)
        seen = F.leaky_relu(x, 0.2) if layout == "reference" else x
        torch.testing.assert_close(block(x), F.avg_pool2d(block.shortcut(seen), 2))
    inst = ConditionalUNetDiscriminator(6, 8, 0, channels=(8, 8, 16, 32), norm="instance", layout=layout)
    assert not any(b.activated_shortcut for b in list(inst.down) + list(inst.up))
    assert not ConditionalUNetDiscriminator(6, 8, 0, channels=(8, 8, 16, 32), layout=layout).down[0].activated_shortcut
    affine = {m.affine for m in inst.modules() if isinstance(m, torch.nn.InstanceNorm2d)}
    assert affine == {layout == "skips"}   # the reference's InstanceNorm2d has no affine parameters


def test_finetune_configs_pick_the_unet_layout():
    from perceptual_compression.models.vqvae_labeler import VQVAELabeler
    from perceptual_compression.training.illm_finetune import FinetuneConfig, build_discriminator

    assert FinetuneConfig.for_scale("paper").unet_layout == "reference"
    assert FinetuneConfig.for_scale("small").unet_layout == "skips"   # the committed runs' U-Net
    lab = VQVAELabeler(LabelerConfig.small(codebook_size=8))
    for layout in ("reference", "skips"):
        d = build_discriminator("illm", _config(unet_layout=layout), latent_features=8, labeler=lab)
        assert d.layout == layout
    with pytest.raises(ValueError, match="unet_layout"):
        FinetuneConfig.for_scale("small", unet_layout="plain")


def test_patchgan_shapes_and_spectral_norm():
    d = PatchGANDiscriminator(12, channels=(8, 8, 16, 16))
    out = d(torch.rand(2, 3, 64, 64), torch.randn(2, 12, 4, 4))
    assert out.shape[:2] == (2, 1) and out.shape[-1] == out.shape[-2] and 8 <= out.shape[-1] <= 12
    assert sum(hasattr(m, "parametrizations") for m in d.modules()) == 6  # context conv + 5 convolutions


# ----------------------------------------------------------------------------- fine-tuning
@pytest.fixture(scope="module")
def tiny_codec():
    from perceptual_compression.models.hific import HiFiCConfig, msillm_autoencoder

    torch.manual_seed(0)
    cfg = HiFiCConfig(channels=(4, 4, 4, 4, 8), latent_features=8, hyper_features=4, residual_blocks=1)
    model = msillm_autoencoder(cfg)
    model.update(force=True)
    return model


def _config(**kw):
    from perceptual_compression.training.illm_finetune import FinetuneConfig

    kw = {"steps": 1, "batch_size": 2, "crop_size": 64, "unet_channels": (8, 8, 8), "patchgan_channels": (4, 4, 4, 4),
          "context_features": 4, **kw}
    return FinetuneConfig.for_scale("small", **kw)


def test_finetune_recipe_values():
    from perceptual_compression.training.illm_finetune import FinetuneConfig

    p = FinetuneConfig.for_scale("paper")
    assert (p.generator_lr, p.illm_discriminator_lr, p.patchgan_discriminator_lr, p.betas) == (1e-4, 4e-4, 1e-4, (0.5, 0.9))
    # batch: the reference's 2 GPUs x data.batch_size=16
    assert (p.steps, p.batch_size, p.crop_size, p.lambda_d, p.norm) == (100_000, 32, 256, 0.008, "none")
    # the reference's fine-tuning: weight decay 0 (optimizer=model_adamw_disc_const), a split batch, the decoder
    # stepping first and the OASIS discriminator loss's 0.5
    assert (p.weight_decay, p.mc_sampling, p.generator_first, p.illm_d_loss_weight) == (0.0, True, True, 0.5)
    assert p.unet_channels == (128, 128, 256, 256, 512, 512) and p.context_features == 16
    s = FinetuneConfig.for_scale("small")
    assert (s.generator_lr, s.illm_discriminator_lr, s.patchgan_discriminator_lr, s.betas) == (1e-4, 4e-4, 1e-4, (0.5, 0.9))
    assert (s.weight_decay, s.mc_sampling, s.generator_first, s.illm_d_loss_weight) == (5e-5, False, False, 1.0)
    with pytest.raises(ValueError, match="none"):
        FinetuneConfig.for_scale("small", norm="batch")
    with pytest.raises(ValueError, match="at least 2"):
        FinetuneConfig.for_scale("small", batch_size=1, mc_sampling=True)


class _SpyDiscriminator(torch.nn.Module):
    """A binary discriminator that records what it is shown (image, context) per call."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.3))
        self.calls = []

    def forward(self, x, context):
        self.calls.append((x.detach().clone(), context.detach().clone(), x.requires_grad))
        return self.w * x.mean(1, keepdim=True)


@pytest.mark.parametrize("generator_first", [False, True])
def test_reference_step_splits_the_batch_and_orders_the_updates(tiny_codec, generator_first):
    """mc_sampling: the decoder trains on the first half and the discriminator's reals are the second half, each
    with its own latent context; generator_first: the discriminator scores the reconstructions made before the
    decoder's step; illm_d_loss_weight leaves the binary (PatchGAN) loss alone."""
    from perceptual_compression.losses.adversarial import ns_discriminator_loss
    from perceptual_compression.losses.distortion import IllmDistortion
    from perceptual_compression.training.illm_finetune import AdversarialStep

    torch.manual_seed(0)
    x = torch.rand(4, 3, 64, 64)
    model = copy.deepcopy(tiny_codec)
    with torch.no_grad():
        ref = copy.deepcopy(model).train()
        first, second = ref(x[:2]), ref(x[2:])
    grads = {}
    for weight in (1.0, 0.5):
        m, d = copy.deepcopy(model), _SpyDiscriminator()
        cfg = _config(batch_size=4, mc_sampling=True, generator_first=generator_first, illm_d_loss_weight=weight,
                      grad_clip_norm=0.0)
        step = AdversarialStep(m, "patchgan", cfg, distortion=IllmDistortion(150.0, perceptual="none"),
                               discriminator=d, lambda_d=0.5)
        step(x)
        # calls: the discriminator step's (real, fake) and the decoder's fake, in the configured order
        d_calls = d.calls[1:] if generator_first else d.calls[:2]
        (real, real_ctx, _), (fake, fake_ctx, _) = d_calls
        g_fake, g_ctx, g_grad = d.calls[0] if generator_first else d.calls[2]
        torch.testing.assert_close(real, x[2:])                      # the other half, as real
        torch.testing.assert_close(real_ctx, second["y_hat"])        # with its own context
        torch.testing.assert_close(fake, first["x_hat"], rtol=1e-5, atol=1e-6)  # the first half's reconstructions
        torch.testing.assert_close(fake_ctx, first["y_hat"])
        torch.testing.assert_close(g_fake, first["x_hat"], rtol=1e-5, atol=1e-6)
        assert g_grad and torch.equal(g_ctx, fake_ctx)
        # the binary discriminator's gradient is its loss's, whatever the ILLM weight
        w = torch.tensor(0.3, requires_grad=True)
        ns_discriminator_loss(w * real.mean(1, keepdim=True), w * fake.mean(1, keepdim=True)).backward()
        grads[weight] = float(d.w.grad)
        assert grads[weight] == pytest.approx(float(w.grad), rel=1e-5)
    assert grads[0.5] == pytest.approx(grads[1.0], rel=1e-6)


def test_illm_discriminator_loss_weight_scales_its_gradient_and_logged_loss(tiny_codec):
    """illm_d_loss_weight = 0.5 (the reference's OASIS loss) halves the U-Net's gradient and its logged loss."""
    from perceptual_compression.losses.distortion import IllmDistortion
    from perceptual_compression.training.illm_finetune import AdversarialStep, build_discriminator

    torch.manual_seed(0)
    lab = VQVAELabeler(LabelerConfig.small(codebook_size=8))
    x = torch.rand(2, 3, 64, 64)
    disc0 = build_discriminator("illm", _config(), latent_features=8, labeler=lab)
    out = {}
    for weight in (1.0, 0.5):
        d = copy.deepcopy(disc0)
        step = AdversarialStep(copy.deepcopy(tiny_codec), "illm", _config(illm_d_loss_weight=weight, grad_clip_norm=0.0),
                               distortion=IllmDistortion(150.0, perceptual="none"), discriminator=d, labeler=lab,
                               lambda_d=0.5)
        log = step(x)
        out[weight] = (float(log["d_loss"]), [p.grad.clone() for p in d.parameters()])
    assert out[0.5][0] == pytest.approx(0.5 * out[1.0][0], rel=1e-5)
    for a, b in zip(out[0.5][1], out[1.0][1]):
        torch.testing.assert_close(a, 0.5 * b, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("reference_step", [False, True])
@pytest.mark.parametrize("kind", ["illm", "patchgan", "none"])
def test_one_finetuning_step_changes_only_the_decoder(tiny_codec, kind, reference_step):
    from perceptual_compression.losses.distortion import IllmDistortion
    from perceptual_compression.training.illm_finetune import AdversarialStep, build_discriminator

    torch.manual_seed(1)
    model = copy.deepcopy(tiny_codec)
    lab = VQVAELabeler(LabelerConfig.small(codebook_size=8))
    lab_before = copy.deepcopy(lab.state_dict())
    cfg = _config(**(dict(batch_size=4, mc_sampling=True, generator_first=True, illm_d_loss_weight=0.5, weight_decay=0.0)
                     if reference_step else {}))
    disc = build_discriminator(kind, cfg, latent_features=8, labeler=lab)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    d_before = copy.deepcopy(disc.state_dict()) if disc is not None else None
    step = AdversarialStep(model, kind, cfg, distortion=IllmDistortion(150.0, perceptual="none"),
                           discriminator=disc, labeler=lab if kind == "illm" else None, lambda_d=0.5)
    model.train()  # the frozen parts must stay in eval mode through .train()
    assert not model.encoder.training and all(not m.training for m in model.bottleneck_modules)
    assert model.decoder.training
    log = step(torch.rand(cfg.batch_size, 3, 64, 64))
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("decoder.") for k in changed), sorted(changed)[:5]
    assert len([k for k in before if k.startswith("decoder.")]) > 0
    assert all(not p.requires_grad for p in model.encoder.parameters())
    assert all(not p.requires_grad for m in model.bottleneck_modules for p in m.parameters())
    if disc is not None:
        assert any(not torch.equal(d_before[k], disc.state_dict()[k]) for k in d_before)  # D was trained
        assert "d_loss" in log and torch.isfinite(log["d_loss"])
    else:
        assert float(log["adv_g"]) == 0.0
    if kind == "illm":
        assert all(torch.equal(lab_before[k], lab.state_dict()[k]) for k in lab_before)  # labeler fixed


def test_frozen_encoder_gives_identical_bitstreams(tiny_codec):
    from perceptual_compression.coding import ImageCodec
    from perceptual_compression.datasets import embedded_images
    from perceptual_compression.losses.distortion import IllmDistortion
    from perceptual_compression.training.illm_finetune import finetune

    model = copy.deepcopy(tiny_codec)
    x = torch.rand(1, 3, 64, 64)
    bytes_before = ImageCodec(model, "t").compress(x)
    dec_before = ImageCodec(model, "t").decompress(bytes_before)
    res = finetune(model, embedded_images(), discriminator="patchgan", config=_config(steps=2), progress=False,
                   device="cpu", distortion=IllmDistortion(150.0, perceptual="none"))
    codec = ImageCodec(res.model, "t")
    assert codec.compress(x) == bytes_before  # encoder and entropy model untouched
    assert not torch.equal(codec.decompress(bytes_before), dec_before)  # the decoder changed
    assert len(res.history) == 2


def test_codebook_initialised_from_data_and_dead_codes_restarted():
    from perceptual_compression.models.vqvae_labeler import NormalizedVectorQuantizer

    torch.manual_seed(0)
    q = NormalizedVectorQuantizer(6, 3, 8).train()
    feats = torch.randn(2, 6, 4, 4)
    q(feats)  # first training batch: codes drawn from the batch's vectors (plus small noise)
    e = q.vectors(feats).detach().permute(0, 2, 3, 1).reshape(-1, 3)
    nearest_dist = torch.cdist(q.codebook.detach(), e).min(dim=1).values
    assert float(nearest_dist.max()) < 0.01  # restart jitter is 1e-3 per element
    assert torch.allclose(q.usage, torch.full((8,), 1 / 8))
    q.usage[5] = 0.0  # code 5 looks dead; it is restarted unless this batch uses it
    # a batch in which every position is one vector: code 5 is not its nearest code, so it gets no count and is
    # restarted onto that vector (plus jitter); the other codes stay where they were
    one = feats[:1, :, :1, :1].expand(2, 6, 4, 4).contiguous()
    e1 = q.vectors(one).detach()[0, :, 0, 0]
    before = q.codebook.detach().clone()
    assert int(torch.cdist(e1[None], before).argmin()) != 5
    out = q(one)
    assert float((q.codebook.detach()[5] - e1).norm()) < 0.01 and float((before[5] - e1).norm()) > 0.1
    assert q.usage[5] == 1 / 8 and (out["indices"] == 5).all()  # the indices are chosen after the restart
    torch.testing.assert_close(torch.cat([before[:5], before[6:]]), torch.cat([q.codebook[:5], q.codebook[6:]]).detach())
    q.eval()
    frozen = q.codebook.detach().clone()
    q(torch.randn(2, 6, 4, 4))
    assert torch.equal(frozen, q.codebook.detach())  # no maintenance in eval mode


class _PatchStats(torch.nn.Module):
    """Stand-in FID feature extractor (per-channel mean, std and max of each patch)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)


def test_lambda_sweep_reports_fid_with_a_feature_extractor_and_says_why_not_otherwise(tiny_codec):
    from perceptual_compression.datasets import embedded_images
    from perceptual_compression.losses.distortion import IllmDistortion
    from perceptual_compression.metrics import fid_kid
    from perceptual_compression.training.illm_finetune import distortion_and_fidelity, lambda_sweep, reconstruct

    torch.manual_seed(0)
    imgs = [torch.rand(3, 256, 256) for _ in range(2)]
    feats = _PatchStats()
    kw = dict(runs=[("none", 0.0)], config=_config(), labeler=None, distortion=IllmDistortion(150.0, perceptual="none"),
              progress=False)
    df, models = lambda_sweep(copy.deepcopy(tiny_codec), embedded_images(), imgs, fid=feats, **kw)
    assert list(df["discriminator"]) == ["No-GAN (part 1)", "none"] and set(models) == {("none", 0.0)}
    assert df["fid"].notna().all() and (df["fid"] >= 0).all() and df["kid"].notna().all()
    assert df.attrs["fid_skipped"] == "" and feats.calls > 0
    # the No-GAN row's FID is fid_kid's on the same reconstructions (FID/256: one patch per 256² image)
    originals, recons = reconstruct(tiny_codec, imgs)
    direct = fid_kid(originals, recons, feature_extractor=_PatchStats(), patch_size=256)
    assert float(df["fid"].iloc[0]) == pytest.approx(direct.fid, rel=1e-5)
    # "mse" is the MSE at the mean PSNR: the geometric mean of the images' MSEs, at most their arithmetic mean
    per_image = [float(((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).mean()) for a, b in zip(originals, recons)]
    assert float(df["mse"].iloc[0]) == pytest.approx(math.prod(per_image) ** (1 / len(per_image)), rel=1e-4)
    assert float(df["mse"].iloc[0]) <= sum(per_image) / len(per_image) * (1 + 1e-6)
    # identical sets: FID 0 (up to the covariance square root's numerics)
    same = distortion_and_fidelity(originals, originals, fid=_PatchStats())
    assert same["fid"] == pytest.approx(0.0, abs=1e-3) and same["psnr"] > 90
    # without the extractor nor Inception weights: no FID column, and the reason is kept
    df2, _ = lambda_sweep(copy.deepcopy(tiny_codec), embedded_images(), [torch.rand(3, 192, 192)], fid="auto", **kw)
    assert "fid" not in df2.columns and "256 px" in df2.attrs["fid_skipped"]
    assert "fid" not in df2.columns and "fid_skipped" not in df2.columns
    with pytest.raises(ValueError, match="fid must be"):
        distortion_and_fidelity(originals, recons, fid="inception")


def test_lambda_sweep_figure_draws_one_curve_per_discriminator_from_lambda_zero():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from perceptual_compression.experiments.illm_figures import lambda_sweep_figure

    df = pd.DataFrame({"discriminator": ["No-GAN (part 1)", "none", "illm", "illm", "patchgan"],
                       "lambda_d": [0.0, 0.0, 0.008, 0.5, 0.008], "psnr": [20.0, 20.1, 19.9, 19.3, 19.8],
                       "swd": [0.19, 0.19, 0.18, 0.16, 0.185]})
    df["mse"] = 10 ** (-df["psnr"] / 10)
    fig = lambda_sweep_figure(df, title="a title")
    try:
        assert fig._suptitle is not None and fig._suptitle.get_text() == "a title"
        psnr_ax, swd_ax, tradeoff_ax = fig.axes
        # each curve starts at the λ_d = 0 run (drawn at 1e-4) and follows λ_d in order
        lines = {ln.get_label(): ln for ln in psnr_ax.get_lines()}
        assert list(lines["MS-ILLM (ours)"].get_xdata()) == [1e-4, 0.008, 0.5]
        assert list(lines["MS-ILLM (ours)"].get_ydata()) == [20.1, 19.9, 19.3]
        assert list(lines["MS-PatchGAN (ours)"].get_xdata()) == [1e-4, 0.008]
        assert [ln.get_label() for ln in tradeoff_ax.get_lines()][-1] == "No-GAN (part 1)"
        assert list(swd_ax.get_lines()[0].get_ydata()) == [0.19, 0.18, 0.16]
        assert lambda_sweep_figure(df)._suptitle is None
    finally:
        plt.close("all")


def test_lambda_d_trend_compares_the_largest_lambda_with_the_run_without_adversarial_term():
    import pandas as pd

    from perceptual_compression.training.illm_finetune import (TREND_DISTANCE_MARGIN, TREND_PSNR_MARGIN_DB,
                                                               lambda_d_trend)

    assert (TREND_PSNR_MARGIN_DB, TREND_DISTANCE_MARGIN) == (0.2, 0.03)
    df = pd.DataFrame({"discriminator": ["No-GAN (part 1)", "none", "illm", "illm", "patchgan"],
                       "lambda_d": [0.0, 0.0, 0.5, 0.008, 0.008], "psnr": [21.0, 20.1, 19.3, 20.2, 20.25],
                       "swd": [0.10, 0.19, 0.16, 0.20, 0.185]})
    t = lambda_d_trend(df, "illm")
    assert t["rows"]["lambda_d"].tolist() == [0.0, 0.008, 0.5]  # the No-GAN row is not part of the sweep
    assert t["falls"] == {"psnr_falls": True, "swd_falls": True}
    assert t["verdict"] == "holds" and t["status"] == "qualitative"
    assert t["changes"]["psnr_db"] == pytest.approx(-0.8) and t["changes"]["swd_rel"] == pytest.approx(-0.03 / 0.19)
    assert t["summary"] == ("PSNR [20.1, 20.2, 19.3], swd [0.19, 0.2, 0.16] at λ_d [0.0, 0.008, 0.5]; largest λ_d "
                            "vs 0: PSNR -0.80 dB, swd -15.8% (margins 0.2 dB, 3%): holds")
    # PatchGAN: PSNR up 0.15 dB, distance down 2.6%, both within their margins: inconclusive
    p = lambda_d_trend(df, "patchgan", label="SWD")
    assert p["falls"] == {"psnr_falls": False, "swd_falls": True}
    assert p["verdict"] == "inconclusive" and p["status"] == "info"
    assert p["summary"].startswith("PSNR [20.1, 20.25], SWD") and p["summary"].endswith(": inconclusive")
    assert lambda_d_trend(df[df["discriminator"] != "none"].iloc[:1], "illm")["status"] == "not-run"

    def trend(psnr, swd, **margins):  # λ_d = 0 at 20 dB and 0.2, the largest λ_d at (psnr, swd)
        d = pd.DataFrame({"discriminator": ["none", "illm"], "lambda_d": [0.0, 0.5], "psnr": [20.0, psnr],
                          "swd": [0.2, swd]})
        return lambda_d_trend(d, "illm", **margins)["verdict"]

    # both sides of each margin
    assert trend(19.79, 0.193) == "holds"            # -0.21 dB, -3.5%
    assert trend(19.81, 0.193) == "inconclusive"     # -0.19 dB: PSNR within its margin
    assert trend(19.79, 0.195) == "inconclusive"     # -2.5%: distance within its margin
    assert trend(19.99, 0.1999) == "inconclusive"    # falls by any amount is not enough (the old rule: "holds")
    assert trend(20.21, 0.193) == "contradicted"     # PSNR rises by more than its margin
    assert trend(19.5, 0.207) == "contradicted"      # distance rises by 3.5%
    assert trend(19.5, 0.205) == "inconclusive"      # distance rises by 2.5%: within its margin
    assert trend(19.99, 0.1999, psnr_margin=0.0, distance_margin=0.0) == "holds"  # margins are settable


def test_lambda_d_trend_of_the_committed_sweeps():
    """The committed 800-step runs read with the margins: PatchGAN and ILLM with the U-Net at 2e-3 hold, ILLM at the
    paper's 4e-4 is inconclusive (as the chapter's prose says)."""
    import pandas as pd

    from perceptual_compression.results import committed_run
    from perceptual_compression.training.illm_finetune import lambda_d_trend

    sweep, dlr = committed_run("illm_sweep"), committed_run("illm_sweep_dlr")
    assert sweep is not None and dlr is not None
    long_df, dlr_df = pd.DataFrame(sweep["rows"]), pd.DataFrame(dlr["rows"])
    pg, il, il_dlr = lambda_d_trend(long_df, "patchgan"), lambda_d_trend(long_df, "illm"), lambda_d_trend(dlr_df, "illm")
    assert (pg["verdict"], il["verdict"], il_dlr["verdict"]) == ("holds", "inconclusive", "holds")
    assert pg["changes"]["psnr_db"] == pytest.approx(-0.222, abs=1e-3)
    assert pg["changes"]["swd_rel"] == pytest.approx(-0.038, abs=1e-3)
    assert il["changes"]["psnr_db"] == pytest.approx(-0.116, abs=1e-3)
    assert il["changes"]["swd_rel"] == pytest.approx(0.006, abs=1e-3)
    # the margins are about the spread of the three ILLM decoders at 4e-4 (0.18 dB, 2.6%)
    rows = long_df[long_df["discriminator"] == "illm"]
    assert rows["psnr"].max() - rows["psnr"].min() == pytest.approx(0.175, abs=2e-3)
    assert (rows["swd"].max() - rows["swd"].min()) / il["rows"]["swd"].iloc[0] == pytest.approx(0.026, abs=1e-3)
    # their discriminator losses (eq. 6, unweighted in these runs) are below the H + 2 ln 2 = 8.1 nats of a U-Net that
    # knows only the label frequencies (H = 6.69, from the committed probe) and cannot tell real from reconstructed
    # positions
    H = committed_run("illm_unet_probe")["runs"][0]["label_entropy"]
    assert H == pytest.approx(6.694, abs=1e-3)
    assert "illm_d_loss_weight" not in sweep["finetune_config"]  # made before the weight existed: eq. 6 as written
    assert rows["d_loss"].between(7.0, 7.1).all() and rows["d_loss"].max() < H + 2 * math.log(2)
    assert (rows["real_acc"] == 0.0).all() and (rows["fake_acc"] > 0.999).all()


def test_committed_unet_probe_and_the_numbers_the_chapter_quotes():
    """benchmarks/results/illm_unet_probe: the U-Net alone on eq. 6 at the paper's 4e-4 and at 2e-3, from the same
    weights and patches. At 4e-4 its label cross-entropy ends within 0.1 nats of the labels' marginal entropy, at
    2e-3 more than 1 nat below it; the chapter quotes these numbers, rounded."""
    from _notebook_cells import markdown_text
    from perceptual_compression.paths import repo_root
    from perceptual_compression.results import committed_run

    probe = committed_run("illm_unet_probe")
    assert probe is not None and probe["command"].startswith("python benchmarks/illm_unet_probe.py")
    slow, fast = probe["runs"]
    assert (slow["lr"], fast["lr"], probe["steps"]) == (4e-4, 2e-3, 400)
    assert slow["trajectory"][0] == fast["trajectory"][0]  # step 0: same U-Net, same batch
    assert slow["label_entropy"] == fast["label_entropy"]  # same patches, same labeler
    assert all(p["window"] == (1 if p["step"] == 0 else 50 if p["step"] % 50 == 0 else 49)
               for r in probe["runs"] for p in r["trajectory"])
    H, first = slow["label_entropy"], slow["trajectory"][0]["label_ce"]
    end_slow, end_fast = slow["trajectory"][-1]["label_ce"], fast["trajectory"][-1]["label_ce"]
    assert -0.1 < end_slow - H < 0 and end_fast - H < -1.0
    assert math.log(probe["num_labels"]) > H
    # the cached models it read are the ones today's settings name (illm_sweep.py's names)
    from pathlib import Path

    from _benchmark_scripts import load_script
    from perceptual_compression.losses.distortion import IllmDistortion
    from perceptual_compression.training.illm import IllmConfig
    from perceptual_compression.training.labeler import LabelerDistortion, LabelerTrainingConfig

    sweep = load_script("illm_sweep")
    cfg = IllmConfig.for_scale("small")
    lab = LabelerTrainingConfig.for_scale("small", spatial=32, codebook_size=1024, steps=probe["labeler_steps"])
    names = {"nogan": sweep.nogan_checkpoint(Path("."), probe["rate"], 0, cfg,
                                             IllmDistortion(cfg.lambda_mse, perceptual=cfg.perceptual)).name,
             "labeler": sweep.labeler_checkpoint(Path("."), lab, LabelerDistortion(lab.lambda_mse,
                                                                                    perceptual=lab.perceptual), 0).name}
    assert {k: v["file"] for k, v in probe["checkpoints"].items()} == names
    text = markdown_text(repo_root() / "book" / "ch4_illm.ipynb")
    rise = max(p["label_ce"] for p in slow["trajectory"][:3])
    quoted = (f"falls from {first:.2f} nats to {end_slow:.2f} in {probe['steps']} steps at 4e-4",
              f"it first rises, to {rise:.2f} over the first 50), and to {end_fast:.2f} at 2e-3",
              f"marginal entropy is {H:.2f} nats",
              f"({H - end_slow:.2f} nats below), at 2e-3 it is {H - end_fast:.1f} nats below",
              f"$H + 2\\ln 2 \\approx {H:.2f} + 1.39 = {H + 2 * math.log(2):.1f}$")
    for q in quoted:
        assert q in text, q


def test_illm_discriminator_loss_of_a_discriminator_that_cannot_tell_real_from_fake():
    """Eq. 6 is CE(real, labels) + CE(fake, "fake"): a discriminator giving reals and fakes the same distribution
    scores at best H + 2 ln 2 (1/2 on "fake", the label frequencies on the rest), a uniform one 2 ln(C + 1). The
    committed sweep's 7.04 at the paper's U-Net rate is below both (the chapter's reading)."""
    import math

    from perceptual_compression.losses.adversarial import illm_discriminator_loss

    C = 1024
    g = torch.Generator().manual_seed(0)
    freq = torch.rand(C, generator=g) ** 4
    freq = freq / freq.sum()
    labels = torch.multinomial(freq, 64 * 64, replacement=True, generator=g).reshape(4, 32, 32)
    emp = torch.bincount(labels.flatten(), minlength=C).float() / labels.numel()
    H = float(-(emp[emp > 0] * emp[emp > 0].log()).sum())
    blind = torch.cat([torch.tensor([0.5]), 0.5 * emp]).clamp_min(1e-30).log()  # same logits for real and fake
    logits = blind.view(1, C + 1, 1, 1).expand(4, C + 1, 32, 32)
    assert illm_discriminator_loss(logits, logits, labels).item() == pytest.approx(H + 2 * math.log(2), rel=1e-5)
    uniform = torch.zeros(4, C + 1, 32, 32)
    assert illm_discriminator_loss(uniform, uniform, labels).item() == pytest.approx(2 * math.log(C + 1), rel=1e-6)
    # the chapter's numbers: H from the committed probe, 8.1 = H + 2 ln 2, 13.9 = 2 ln 1025
    from perceptual_compression.results import committed_run

    H_probe = committed_run("illm_unet_probe")["runs"][0]["label_entropy"]
    assert round(H_probe + 2 * math.log(2), 1) == 8.1 and round(2 * math.log(1025), 1) == 13.9


def test_reconstruct_is_what_the_image_codec_decodes(tiny_codec):
    """Images whose sides are not multiples of the stride are padded as ImageCodec pads them, so reconstruct gives
    exactly what a receiver decodes from the bitstream; the originals come back unchanged."""
    from perceptual_compression.coding import ImageCodec
    from perceptual_compression.training.illm_finetune import reconstruct

    s = tiny_codec.stride
    x = torch.rand(3, 2 * s + 5, 3 * s - 7)
    originals, recons = reconstruct(tiny_codec, [x])
    assert torch.equal(originals[0], x) and recons[0].shape == x.shape
    codec = ImageCodec(tiny_codec, "t")
    decoded = codec.decompress(codec.compress(x[None]))
    torch.testing.assert_close(recons[0], decoded.reshape(x.shape).clamp(0, 1), rtol=0, atol=1e-5)
    with torch.no_grad():  # the padding reaches the kept pixels: replicating instead would change them
        other = tiny_codec(F.pad(x[None], (0, 7, 0, s - 5), mode="replicate"))["x_hat"][0, :, :x.shape[1], :x.shape[2]]
    assert not torch.allclose(recons[0], other.clamp(0, 1))


def test_lambda_sweep_checkpoints_each_run_under_the_name_it_is_given(tiny_codec, tmp_path):
    """With ``checkpoint_path``, every fine-tuning run writes its checkpoint under the name the callable gives it, and
    a rerun resumes it (here: finds it finished) and returns the same weights."""
    from perceptual_compression.datasets import embedded_images
    from perceptual_compression.losses.distortion import IllmDistortion
    from perceptual_compression.training.illm_finetune import finetune_run_name, lambda_sweep

    cfg = replace(_config(), checkpoint_every=1)
    asked = []

    def path(kind, lam):
        asked.append((kind, lam))
        return tmp_path / (finetune_run_name(kind, lam, config=cfg, distortion="150·MSE", base="nogan") + ".pt")

    kw = dict(runs=[("none", 0.0), ("patchgan", 0.01)], config=cfg, labeler=None, progress=False, fid=False,
              distortion=IllmDistortion(150.0, perceptual="none"), checkpoint_path=path)
    imgs = [torch.rand(3, 192, 192, generator=torch.Generator().manual_seed(0))]  # MS-SSIM needs > 160 px
    _, first = lambda_sweep(copy.deepcopy(tiny_codec), embedded_images(), imgs, **kw)
    assert asked == [("none", 0.0), ("patchgan", 0.01)]
    tag = cfg.tag("150·MSE")
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == [f"none-0_{tag}_nogan.pt", f"patchgan-0.01_{tag}_nogan.pt"]
    # mark a decoder weight in the "none" run's checkpoint: a rerun that resumes (finds the run finished) returns it
    ckpt = tmp_path / f"none-0_{tag}_nogan.pt"
    state = torch.load(ckpt, weights_only=False)
    name = next(k for k, v in state["modules"]["model"].items() if "decoder" in k and v.is_floating_point())
    state["modules"]["model"][name] = state["modules"]["model"][name] + 1.0
    torch.save(state, ckpt)
    _, again = lambda_sweep(copy.deepcopy(tiny_codec), embedded_images(), imgs, **kw)
    marked = again[("none", 0.0)].state_dict()[name]
    assert torch.equal(marked, first[("none", 0.0)].state_dict()[name] + 1.0)
    for (k, a), b in zip(first[("patchgan", 0.01)].state_dict().items(), again[("patchgan", 0.01)].state_dict().values()):
        assert torch.equal(a, b), k


def test_finetune_run_names_hold_the_run_the_settings_and_what_it_builds_on():
    from perceptual_compression.training.illm_finetune import FinetuneConfig, finetune_run_name

    cfg = FinetuneConfig.for_scale("small")
    tag = cfg.tag("D")
    assert finetune_run_name("illm", 0.008, config=cfg, distortion="D", base="B", labeler="L") == f"illm-0.008_{tag}_B_L"
    assert finetune_run_name("patchgan", 0.008, config=cfg, distortion="D", base="B", labeler="L") == f"patchgan-0.008_{tag}_B"
    assert finetune_run_name("none", 0.3, config=cfg, distortion="D", base="B") == f"none-0_{tag}_B"
    assert cfg.tag("D") != cfg.tag("E") and replace(cfg, steps=81).tag("D") != tag
    assert replace(cfg, checkpoint_every=7, data_workers=2, notes=("x",)).tag("D") == tag  # no effect on the weights
    assert replace(cfg, lambda_d=0.5).tag("D") != tag
    with pytest.raises(ValueError, match="discriminator"):
        finetune_run_name("hinge", 0.1, config=cfg, distortion="D", base="B")


@pytest.mark.parametrize("kind", ["patchgan", "illm"])
def test_the_default_distortion_does_not_shift_the_discriminators_initial_weights(tiny_codec, monkeypatch, kind):
    """finetune() builds its default distortion after the discriminator: LPIPS draws random numbers when it is built
    (its layers' initial values, before its weights load), which must not change the discriminator's start. A
    stand-in distortion that draws random numbers when built leaves a one-step run's discriminator as it is."""
    from perceptual_compression.datasets import embedded_images
    from perceptual_compression.losses.distortion import IllmDistortion
    from perceptual_compression.models.vqvae_labeler import LabelerConfig, VQVAELabeler
    from perceptual_compression.training import illm_finetune

    class Drawing(IllmDistortion):
        def __init__(self, lambda_mse, **kw):
            torch.rand(10_000)  # as LPIPS's construction would
            super().__init__(lambda_mse, perceptual="none")

    class Quiet(IllmDistortion):
        def __init__(self, lambda_mse, **kw):
            super().__init__(lambda_mse, perceptual="none")

    labeler = VQVAELabeler(LabelerConfig.small(spatial=32, codebook_size=8)).freeze() if kind == "illm" else None
    weights = []
    for cls in (Quiet, Drawing):
        monkeypatch.setattr(illm_finetune, "IllmDistortion", cls)
        res = illm_finetune.finetune(copy.deepcopy(tiny_codec), embedded_images(), discriminator=kind,
                                     config=_config(steps=1), labeler=labeler, progress=False, device="cpu")
        weights.append([t.clone() for t in res.discriminator.state_dict().values()])
    assert len(weights[0]) > 0 and all(torch.equal(a, b) for a, b in zip(*weights))
