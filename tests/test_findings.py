"""The tour's findings: each number measured once, right, and written one way."""

import math

import numpy as np
import pytest

from octref import cost, findings, frequency, misalignment, receptive_field
from octref.data import load_image


@pytest.fixture(scope="module")
def photo():
    return load_image(max_side=64)  # 38 x 32


def test_frequency_findings(photo):
    found = findings.measure_frequency(photo)
    bands = frequency.octave_bands(photo, findings.LEVELS)
    for mine, theirs in zip(found.components, bands):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_allclose(found.low, frequency.octave_split(photo)[0], atol=1e-15)
    variance = ((photo - photo.mean()) ** 2).sum()
    np.testing.assert_allclose(found.variance_shares,
                               [((b - b.mean()) ** 2).sum() / variance for b in bands])
    assert found.image_below == frequency.energy_fraction_below(photo)
    assert found.high_below == frequency.energy_fraction_below(bands[0])
    assert found.high_parts == frequency.high_part_below_nyquist(photo)
    assert set(found.profiles) == {"X", "low", *found.names}
    assert found.note == ""


def test_frequency_of_a_uniform_image_is_undefined_not_an_error():
    found = findings.measure_frequency(np.full((16, 16), 0.5))
    assert np.isnan(found.variance_shares).all() and math.isnan(found.image_below)
    assert "uniform" in found.note


@pytest.mark.parametrize("alpha, c_low", [(0.0, 0), (0.5, 3), (1.0, 6)])
def test_feature_maps_split_by_position(photo, alpha, c_low):
    found = findings.measure_feature_maps(photo, alpha)
    assert (found.c_high, found.c_low) == (6 - c_low, c_low)
    np.testing.assert_array_equal(found.high_share,
                                  frequency.high_energy_fraction(found.maps))
    layer = findings.measure_layer(photo, alpha)
    # The layer's split is the same, by position: no channel is chosen by what it holds.
    assert layer.high_filters == found.names[:found.c_high]
    assert layer.low_filters == found.names[found.c_high:]
    assert layer.ratio == pytest.approx(layer.theory)


def test_layer_outputs(photo):
    layer = findings.measure_layer(photo, 0.5)
    assert layer.shapes == {"Y^H": (1, 3, 38, 32), "Y^L": (1, 3, 19, 16)}
    assert layer.stored == 3 * 38 * 32 + 3 * 19 * 16 and layer.vanilla == 6 * 38 * 32


def test_misalignment_findings(photo):
    found = findings.measure_misalignment(photo)
    for mode, expected in (("avgpool", [0, 0]), ("strided", [0.5, 0.5])):
        for kind in ("impulse", "edge", "image"):
            np.testing.assert_allclose(getattr(found, kind)[mode].mean, expected, atol=1e-9)
    strided = misalignment.image_shifts(photo, "strided")
    assert found.strided_spread == pytest.approx(np.abs(strided.shifts - 0.5).max())
    top, left, side = found.crop
    np.testing.assert_array_equal(found.crop_trips["input"],
                                  photo[top:top + side, left:left + side])
    np.testing.assert_array_equal(found.crop_trips["strided"],
                                  misalignment.round_trip(photo, "strided")[top:top + side,
                                                                              left:left + side])


def test_receptive_field_and_cost_findings():
    fields = findings.measure_receptive_fields()
    for scenario in receptive_field.SCENARIOS:
        width = receptive_field.expected_support(scenario, 3)
        assert fields.supports[scenario] == (width, width) and fields.expected[scenario] == width
    found = findings.measure_cost(0.3)
    assert [r.alpha for r in found.rows] == sorted(set(cost.TABLE1_ALPHAS) | {0.3})
    assert found.chosen.alpha == 0.3
    total = sum(found.path_shares.values())
    np.testing.assert_allclose(total, [r.flops_counted for r in found.rows], rtol=1e-12)
    assert findings.measure_cost(-0.0).alpha == 0.0 and str(findings.measure_cost(-0.0).alpha) \
        == "0.0"


def test_gradient_findings():
    found = findings.measure_gradients(0.5)
    assert set(found.results) == set(findings.GRADCHECK_IMPLS)
    assert all(r.passed for results in found.results.values() for r in results)


def test_text_helpers():
    assert findings.percent(0.1234) == "12.3%"
    assert findings.percent(float("nan")) == "undefined"
    assert findings.signed(-0.0) == findings.signed(-1e-9) == "+0.000"
    assert findings.signed(0.5, 2) == "+0.50" and findings.signed(-0.25) == "-0.250"
    assert findings.shift_text([float("nan"), 0.5]) == "(undefined, +0.500)"
    assert findings.shift_text([float("nan")] * 2) == "undefined"
    assert findings.shape_text((600, 512)) == "600 x 512 px (H x W)"
    assert findings.plural(1, "map") == "1 map" and findings.plural(3, "map") == "3 maps"
    assert findings.plural(0, "output channel") == "0 output channels"


def test_tour_memory_estimate_grows_with_the_image():
    assert findings.tour_bytes((10000, 10000)) > 50e9
    assert findings.tour_bytes((300, 256)) < 200e6
