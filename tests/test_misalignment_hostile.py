"""The shift of an image's round trip on images without texture, with too much, or periodic."""

import numpy as np
import pytest

from octref import misalignment
from tests.hostile_images import HOSTILE, checkerboard, grating, half, ramp


@pytest.mark.parametrize("name", ["dot", "grating"])
def test_exact_on_images_with_energy_along_both_axes(name):
    # The old estimator picked the whole-pixel peak of the cross-correlation and, on the
    # grating, reported the strided trip as (0.505, 4.96) or worse: a period away.
    image = HOSTILE[name]()
    np.testing.assert_allclose(misalignment.image_shifts(image, "avgpool").mean, [0, 0],
                               atol=1e-9)
    np.testing.assert_allclose(misalignment.image_shifts(image, "strided").mean, [0.5, 0.5],
                               atol=1e-9)


def test_a_tiled_texture_of_odd_period():
    tile = np.random.default_rng(3).random((7, 9))
    texture = np.tile(tile, (45, 35))[:313, :313]
    strided = misalignment.image_shifts(texture, "strided")
    np.testing.assert_allclose(strided.mean, [0.5, 0.5], atol=1e-9)
    assert strided.undefined == ""


def test_the_grating_says_how_little_it_rests_on():
    strided = misalignment.image_shifts(grating(), "strided")
    assert 0 < strided.energy_used < 0.01  # its energy sits above 0.25 cycles/px


@pytest.mark.parametrize("image", [half, ramp], ids=["half", "ramp"])
def test_one_axis_undefined(image):
    # Constant down every column: no row shift to see, the column shift is exact.
    for mode, expected in (("avgpool", 0.0), ("strided", 0.5)):
        result = misalignment.image_shifts(image(), mode)
        assert np.isnan(result.mean[0])
        assert result.mean[1] == pytest.approx(expected, abs=1e-9)
        assert "row shift cannot be seen" in result.undefined


def test_both_axes_undefined_when_the_round_trip_erases_the_image():
    for mode in misalignment.DOWNSAMPLE_MODES:
        result = misalignment.image_shifts(checkerboard(), mode)
        assert np.isnan(result.mean).all() and np.isnan(result.shifts).all()
        assert "no content survives" in result.undefined
        assert result.energy_used == 0


def test_uniform_image():
    result = misalignment.image_shifts(np.full((8, 8), 0.3), "avgpool")
    assert np.isnan(result.mean).all() and "uniform" in result.undefined
    assert np.isnan(result.energy_used)


def test_a_diagonal_grating_defines_neither_axis_alone():
    # Energy along one diagonal direction only: only the shift along it is seen.
    rows, cols = np.indices((32, 32))
    stripes = np.cos(2 * np.pi * (rows + cols) / 16)
    result = misalignment.image_shifts(stripes, "strided")
    assert np.isnan(result.mean).all() and "one slanted direction" in result.undefined


def test_cutoff_is_checked():
    with pytest.raises(ValueError, match="cutoff"):
        misalignment.shift_from_cross_power(np.ones((8, 8)), cutoff=0.3)
