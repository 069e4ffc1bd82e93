"""The shift of H->L->H: 0 for average pooling, +0.5 px down-right for strided sampling."""

import numpy as np
import pytest

from octref import misalignment
from octref.data import load_image
from octref.sampling import pool2x2, upsample2x_nearest

MODES = misalignment.DOWNSAMPLE_MODES


@pytest.fixture(scope="module")
def photo():
    return load_image(max_side=128)


def test_sample_positions():
    p = np.arange(4)
    np.testing.assert_array_equal(misalignment.low_sample_position(p, "avgpool"), 2 * p + 0.5)
    np.testing.assert_array_equal(misalignment.low_sample_position(p, "strided"), 2 * p)
    np.testing.assert_array_equal(misalignment.upsample_source(np.arange(6)), [0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="downsample"):
        misalignment.low_sample_position(0, "maxpool")


@pytest.mark.parametrize("shape", [(8, 8), (7, 10), (5, 5)])
def test_round_trip_is_the_operator_by_hand(shape):
    # octref's octconv with 1x1 identity weights is up(pool(X)) or up(X[::2, ::2]).
    x = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_allclose(misalignment.round_trip(x, "avgpool"),
                               upsample2x_nearest(pool2x2(x), shape), atol=1e-15)
    np.testing.assert_array_equal(misalignment.round_trip(x, "strided"),
                                  upsample2x_nearest(x[::2, ::2], shape))


def test_strided_row_shows_input_pixel_2_floor_p_over_2():
    x = np.arange(8.0)[:, None] * np.ones((1, 4))
    trip = misalignment.round_trip(x, "strided")
    np.testing.assert_array_equal(trip[:, 0], [0, 0, 2, 2, 4, 4, 6, 6])


def test_impulse_shifts():
    pool = misalignment.impulse_shifts("avgpool")
    np.testing.assert_allclose(pool.shifts, [[0.5, 0.5], [0.5, -0.5], [-0.5, 0.5], [-0.5, -0.5]],
                               atol=1e-12)
    np.testing.assert_allclose(pool.weights, 1.0)
    assert np.abs(pool.mean).max() < 1e-9

    strided = misalignment.impulse_shifts("strided")
    np.testing.assert_allclose(strided.shifts[0], [0.5, 0.5], atol=1e-12)
    assert np.isnan(strided.shifts[1:]).all()  # impulses on odd rows/cols are dropped
    np.testing.assert_array_equal(strided.weights, [4, 0, 0, 0])
    np.testing.assert_allclose(strided.mean, [0.5, 0.5], atol=1e-9)


@pytest.mark.parametrize("size", [6, 8, 12])
def test_edge_shifts(size):
    pool = misalignment.edge_shifts("avgpool", size)
    np.testing.assert_allclose(pool.shifts, 0, atol=1e-12)
    strided = misalignment.edge_shifts("strided", size)
    np.testing.assert_array_equal(strided.phases, [[0, 0], [1, 1]])
    # Inside a block (even e) the edge moves one pixel; on a boundary it stays.
    np.testing.assert_allclose(strided.shifts, [[1, 1], [0, 0]], atol=1e-12)
    np.testing.assert_allclose(strided.mean, [0.5, 0.5], atol=1e-9)
    assert misalignment.edge_position(size, 0) % 2 == 0
    assert misalignment.edge_position(size, 1) % 2 == 1


def test_estimate_shift_is_exact_for_known_shifts(photo):
    # Content moved one row down and one column left reads (+1, -1): the sign convention
    # of the round trips, whose content moves down-right by +0.5.
    rolled = np.roll(photo, (1, -1), axis=(0, 1))
    np.testing.assert_allclose(misalignment.estimate_shift(photo, rolled), [1, -1], atol=1e-9)
    # A sub-pixel Fourier shift of a periodic map.
    f_row = np.fft.fftfreq(photo.shape[0])[:, None]
    f_col = np.fft.fftfreq(photo.shape[1])[None, :]
    moved = np.fft.ifft2(np.fft.fft2(photo) * np.exp(-2j * np.pi * (0.3 * f_row - 0.7 * f_col)))
    np.testing.assert_allclose(misalignment.estimate_shift(photo, moved.real), [0.3, -0.7],
                               atol=1e-6)


def test_image_shifts(photo):
    pool = misalignment.image_shifts(photo, "avgpool")
    strided = misalignment.image_shifts(photo, "strided")
    # The brief's tolerance on every single phase ...
    assert np.abs(pool.shifts).max() < 0.1
    assert np.abs(strided.shifts - 0.5).max() < 0.1
    # ... and the phase average, where aliasing cancels, is exact.
    np.testing.assert_allclose(pool.mean, [0, 0], atol=1e-9)
    np.testing.assert_allclose(strided.mean, [0.5, 0.5], atol=1e-9)


def test_errors():
    with pytest.raises(ValueError, match="size"):
        misalignment.impulse_shifts("avgpool", 5)
    with pytest.raises(ValueError, match="2-D"):
        misalignment.round_trip(np.ones((1, 4, 4)), "avgpool")
    with pytest.raises(ValueError, match="at least 4 x 4"):
        misalignment.image_shifts(np.ones((3, 8)), "strided")
    with pytest.raises(ValueError, match="same shape"):
        misalignment.estimate_shift(np.ones((8, 8)), np.ones((8, 6)))
