"""Receptive fields by octref's backward pass: the low routes are exactly twice as wide."""

import numpy as np
import pytest

from octref import receptive_field as rf


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("position", [(12, 12), (13, 13), (12, 13)])
def test_support_widths(k, position):
    widths = {s: rf.support_size(rf.receptive_field(s, k, size=28, position=position))
              for s in rf.SCENARIOS}
    assert widths["H->H"] == (k, k)
    assert widths["L->H"] == (2 * k, 2 * k)
    assert widths["H->H->H"] == (2 * k - 1, 2 * k - 1)
    assert widths["H->L->H"] == (2 * (2 * k - 1),) * 2
    for scenario in rf.SCENARIOS:
        assert widths[scenario][0] == rf.expected_support(scenario, k)


def test_the_low_route_doubles_the_field():
    for k in (3, 5):
        assert rf.expected_support("L->H", k) == 2 * rf.expected_support("H->H", k)
        assert rf.expected_support("H->L->H", k) == 2 * rf.expected_support("H->H->H", k)


def test_field_values_by_hand():
    # One 3x3 all-ones layer: each of the 9 input pixels reaches the output once.
    field = rf.receptive_field("H->H", 3, size=8, position=(4, 4))
    expected = np.zeros((8, 8))
    expected[3:6, 3:6] = 1
    np.testing.assert_array_equal(field, expected)
    # L->H at an even position: low pixels 1..3 (of p // 2 = 2), each a 2x2 block
    # of image pixels weighted by pooling's 1/4: rows and columns 2..7.
    field = rf.receptive_field("L->H", 3, size=12, position=(4, 4))
    expected = np.zeros((12, 12))
    expected[2:8, 2:8] = 0.25
    np.testing.assert_array_equal(field, expected)


def test_total_gradient_counts_paths():
    # Sum of the gradient = output for an all-ones image = k^2 per k x k layer.
    for scenario, layers in (("H->H", 1), ("L->H", 1), ("H->H->H", 2), ("H->L->H", 2)):
        assert rf.receptive_field(scenario, 3).sum() == pytest.approx(9.0 ** layers)


def test_errors():
    with pytest.raises(ValueError, match="scenario"):
        rf.scenario_weights("L->L", 3)
    with pytest.raises(ValueError, match="odd"):
        rf.scenario_weights("H->H", 2)
    with pytest.raises(ValueError, match="position"):
        rf.receptive_field("H->H", 3, size=8, position=(8, 0))
    assert rf.support_size(np.zeros((3, 3))) == (0, 0)
