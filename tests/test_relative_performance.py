import numpy as np
import pytest

from perceptual_compression.analysis.relative_performance import performance, polynomial_smooth, relative_performance


def test_performance_is_distortion_per_bit():
    np.testing.assert_allclose(performance([2.0, 3.0], [4.0, 1.0]), [0.5, 3.0])
    assert np.isfinite(performance([1.0], [0.0])).all()


def test_relative_performance_below_one_when_weighted_model_is_better():
    r = relative_performance([1.0, 4.0], [2.0, 2.0], [2.0, 2.0], [2.0, 2.0])
    np.testing.assert_allclose(r, [0.5, 2.0])
    # rate normalisation: same distortion at twice the rate is twice as bad
    assert relative_performance(1.0, 1.0, 1.0, 2.0) == pytest.approx(2.0)


def test_polynomial_smooth_recovers_a_polynomial_and_ignores_nan():
    t = np.linspace(0, 35, 200)
    v = 1 - 0.01 * t + 3e-4 * t**2
    np.testing.assert_allclose(polynomial_smooth(t, v, 20), v, atol=1e-8)
    v2 = v.copy()
    v2[5] = np.nan
    np.testing.assert_allclose(polynomial_smooth(t, v2, 2), v, atol=1e-8)
