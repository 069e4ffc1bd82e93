"""Pooling, upsampling and im2col: values, and the adjoint identity <A x, y> = <x, A^T y>."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from octref.im2col import col2im, im2col
from octref.sampling import (
    pool2x2,
    pool2x2_backward,
    upsample2x_nearest,
    upsample2x_nearest_backward,
)

SIZES = st.integers(1, 9)
SEEDS = st.integers(0, 2**32 - 1)


def inner(a, b):
    return float(np.sum(a * b))


def test_pool_values_even_and_odd():
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    y = pool2x2(x)
    np.testing.assert_array_equal(y[0, 0], [[(1 + 2 + 4 + 5) / 4, (3 + 6) / 2], [(7 + 8) / 2, 9]])
    assert pool2x2(np.ones((2, 3, 4, 6))).shape == (2, 3, 2, 3)


def test_upsample_reads_floor_half():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    y = upsample2x_nearest(x, (3, 5))
    for p in range(3):
        for q in range(5):
            assert y[0, 0, p, q] == x[0, 0, p // 2, q // 2]
    with pytest.raises(ValueError, match="out_size"):
        upsample2x_nearest(x, (5, 5))


@given(SIZES, SIZES, SEEDS)
def test_pool_adjoint(height, width, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, height, width))
    y = rng.standard_normal((2, 3, (height + 1) // 2, (width + 1) // 2))
    assert np.isclose(inner(pool2x2(x), y), inner(x, pool2x2_backward(y, (height, width))),
                      rtol=1e-12, atol=1e-12)


@given(SIZES, SIZES, SEEDS)
def test_upsample_adjoint(height, width, seed):
    rng = np.random.default_rng(seed)
    small = ((height + 1) // 2, (width + 1) // 2)
    x = rng.standard_normal((2, 3) + small)
    y = rng.standard_normal((2, 3, height, width))
    assert np.isclose(inner(upsample2x_nearest(x, (height, width)), y),
                      inner(x, upsample2x_nearest_backward(y, small)), rtol=1e-12, atol=1e-12)


@given(SIZES, SIZES, st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
       st.integers(0, 2), st.integers(1, 2), SEEDS)
def test_im2col_col2im_adjoint(height, width, kh, kw, stride, padding, dilation, seed):
    from hypothesis import assume
    assume(height + 2 * padding >= dilation * (kh - 1) + 1)
    assume(width + 2 * padding >= dilation * (kw - 1) + 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, height, width))
    args = ((stride, stride), (padding, padding), (dilation, dilation))
    cols = im2col(x, (kh, kw), *args)
    c = rng.standard_normal(cols.shape)
    assert np.isclose(inner(cols, c), inner(x, col2im(c, x.shape, *args)), rtol=1e-12,
                      atol=1e-12)


def test_pool_of_upsample_is_identity():
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 3))
    np.testing.assert_allclose(pool2x2(upsample2x_nearest(x, (7, 5))), x, rtol=1e-15)


def test_integer_and_bool_maps_pool_in_float64():
    x = np.arange(16).reshape(1, 1, 4, 4)
    y = pool2x2(x)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    assert pool2x2(np.eye(4, dtype=bool)).dtype == np.float64
    np.testing.assert_array_equal(pool2x2(np.eye(4, dtype=bool)),
                                  [[0.5, 0.0], [0.0, 0.5]])
    dx = pool2x2_backward(np.ones((1, 1, 2, 2), dtype=int), (4, 4))
    assert dx.dtype == np.float64 and np.all(dx == 0.25)
    with pytest.raises(TypeError, match="dtype"):
        pool2x2(np.ones((2, 2), dtype=complex))
