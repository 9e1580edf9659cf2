import pytest

from perceptual_compression.params import ParameterError, check_choice, check_range, check_subset


def test_choice_accepts_valid_and_float_tolerance():
    assert check_choice("scale", "small", ["small", "paper"]) == "small"
    targets = [0.00875, 0.0175, 0.035, 0.07, 0.14, 0.3, 0.45, 0.9]
    assert check_choice("rate", 0.14, targets) == 0.14
    assert check_choice("rate", 0.14000000000001, targets) == 0.14


def test_choice_error_names_every_valid_value():
    targets = [0.00875, 0.0175, 0.035, 0.07, 0.14, 0.3, 0.45, 0.9]
    with pytest.raises(ParameterError) as e:
        check_choice("rate", 0.13, targets)
    msg = str(e.value)
    assert msg.startswith("rate=0.13 is not valid")
    for t in targets:
        assert repr(t) in msg


def test_choice_does_not_confuse_types():
    with pytest.raises(ParameterError):
        check_choice("flag", 1, [True, False])
    with pytest.raises(ParameterError):
        check_choice("scale", "Small", ["small", "paper"])


def test_range():
    assert check_range("lambda_d", 0.008, 0.0, None) == 0.008
    assert check_range("steps", 10, 1, None, integer=True) == 10
    with pytest.raises(ParameterError, match=r"steps=1.5 is not valid; it must be an integer in \[1, inf\]"):
        check_range("steps", 1.5, 1, None, integer=True)
    with pytest.raises(ParameterError, match=r"\(0.0, 1.0\]"):
        check_range("p", 0.0, 0.0, 1.0, low_inclusive=False)
    with pytest.raises(ParameterError):
        check_range("p", True, 0, 1)


def test_subset():
    assert check_subset("metrics", ["psnr", "nlpd"], ["psnr", "nlpd", "ms_ssim"]) == ["psnr", "nlpd"]
    with pytest.raises(ParameterError, match=r"metrics\[1\]='fid'"):
        check_subset("metrics", ["psnr", "fid"], ["psnr", "nlpd"])
    with pytest.raises(ParameterError):
        check_subset("metrics", "psnr", ["psnr"])
