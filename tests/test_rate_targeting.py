import pytest
import torch

from perceptual_compression.losses.rate_targeting import (
    LAMBDA_B,
    RATE_TARGETS,
    RateTargetSchedule,
    check_rate_target,
    early_phase_steps,
)
from perceptual_compression.params import ParameterError

# Table 3 of Muckley et al. (2023), written out literally.
TABLE3 = [(0.00875, 32.0), (0.0175, 16.0), (0.035, 8.0), (0.07, 4.0), (0.14, 2.0), (0.3, 1.0), (0.45, 0.5), (0.9, 0.25)]


def test_table3_constants():
    assert list(RATE_TARGETS.items()) == TABLE3
    assert LAMBDA_B == 0.0625


@pytest.mark.parametrize("target,lam_a", TABLE3)
def test_schedule_both_phases_every_target(target, lam_a):
    s = RateTargetSchedule.for_target(target)  # paper scale: 1M steps, early phase 50k
    assert s.early_steps == 50_000
    # early phase: target x1.429, lambda_a halved
    for step in (0, 49_999):
        assert s.target_at(step) == pytest.approx(1.429 * target)
        assert s.lambda_a_at(step) == pytest.approx(0.5 * lam_a)
    # late phase: the table's values
    for step in (50_000, 999_999):
        assert s.target_at(step) == pytest.approx(target)
        assert s.lambda_a_at(step) == pytest.approx(lam_a)
    # the switch: above the target -> lambda_a, at/below -> lambda_b (per image)
    early_bpp = torch.tensor([1.429 * target * 1.01, 1.429 * target * 0.99, target * 1.2])
    assert s.weight(10, early_bpp).tolist() == pytest.approx([0.5 * lam_a, LAMBDA_B, LAMBDA_B])
    late_bpp = torch.tensor([target * 1.01, target * 0.99, target * 1.2])
    assert s.weight(60_000, late_bpp).tolist() == pytest.approx([lam_a, LAMBDA_B, lam_a])


def test_rate_loss_is_per_image_weighted_mean_with_gradient_on_noisy_rate():
    s = RateTargetSchedule.for_target(0.14, total_steps=1000)
    assert s.early_steps == 50  # 5% of the run
    bpp = torch.tensor([0.30, 0.10], requires_grad=True)  # differentiable rate
    hard = torch.tensor([0.20, 0.05])  # measured rate of rounded latents
    loss = s.rate_loss(100, bpp, hard)
    assert loss.item() == pytest.approx((2.0 * 0.30 + LAMBDA_B * 0.10) / 2)
    loss.backward()
    assert bpp.grad.tolist() == pytest.approx([2.0 / 2, LAMBDA_B / 2])
    # in the early phase the first image (0.20 <= 0.14*1.429=0.2001) is at the target -> lambda_b
    assert s.rate_loss(0, bpp.detach(), hard).item() == pytest.approx(LAMBDA_B * 0.2)


def test_early_phase_scales_with_run_length():
    assert early_phase_steps(1_000_000) == 50_000
    assert early_phase_steps(400) == 20
    assert early_phase_steps(5) == 1
    with pytest.raises(ValueError):
        early_phase_steps(0)


def test_invalid_target_names_all_eight():
    with pytest.raises(ParameterError) as e:
        check_rate_target(0.13)
    msg = str(e.value)
    for t, _ in TABLE3:
        assert repr(t) in msg
    assert check_rate_target(0.14) == 0.14
    assert check_rate_target(0.9000000000001) == 0.9
