import math

import numpy as np
import pytest
import torch

from perceptual_compression.analysis.correlation import pearson, spearman


def test_spearman_monotone_and_antimonotone():
    x = np.linspace(0.1, 5, 50)
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)
    assert spearman(x, np.log(x) ** 3) == pytest.approx(1.0)
    assert spearman(x, -x**3) == pytest.approx(-1.0)
    assert spearman(torch.tensor(x), torch.tensor(1 / x)) == pytest.approx(-1.0)


def test_spearman_invariant_to_monotone_transforms_and_known_value():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    assert spearman(a, b) == pytest.approx(spearman(np.exp(a), b**3 + b))
    # hand-computed: ranks (1,2,3,4,5) vs (2,1,4,3,5): 1 - 6*4/(5*24) = 0.8
    assert spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50]) == pytest.approx(0.8)


def test_spearman_drops_non_finite_and_handles_degenerate():
    assert spearman([1, 2, np.nan, 4], [1, 2, 3, 4]) == pytest.approx(1.0)
    assert math.isnan(spearman([1, 1, 1, 1], [1, 2, 3, 4]))
    assert math.isnan(spearman([1, 2], [1, 2]))
    with pytest.raises(ValueError):
        spearman([1, 2, 3], [1, 2])


def test_pearson_linear():
    x = np.arange(10.0)
    assert pearson(x, 3 * x + 1) == pytest.approx(1.0)
    assert pearson(x, -x) == pytest.approx(-1.0)
