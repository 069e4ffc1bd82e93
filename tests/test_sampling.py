"""Pooling and upsampling: values, the adjoint identity <A x, y> = <x, A^T y>, bad input.

im2col/col2im are tested in test_im2col.py.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, words", [
    # A wrong crop used to come back silently: (5, 5) is no pooled (4, 4) map.
    (lambda: pool2x2_backward(np.ones((5, 5)), (4, 4)), ["dy", "in_size", "(2, 2)", "(5, 5)"]),
    (lambda: pool2x2_backward(np.ones((2, 2)), (5, 4)), ["dy", "(3, 2)"]),
    (lambda: pool2x2_backward(np.ones((2, 2)), (0, 4)), ["in_size", ">= 1"]),
    (lambda: pool2x2_backward(np.ones((2, 2)), (4, 4, 4)), ["in_size", "pair"]),
    (lambda: upsample2x_nearest(np.ones((2, 3)), (5, 5)), ["out_size", "(3, 3)", "(2, 3)"]),
    (lambda: upsample2x_nearest(np.ones((2, 3)), (4, -6)), ["out_size", ">= 1"]),
    (lambda: upsample2x_nearest_backward(np.ones((4, 4)), (3, 3)), ["in_size", "(2, 2)"]),
    (lambda: upsample2x_nearest_backward(np.ones((4, 4)), (1, 2)), ["in_size", "(2, 2)"]),
    (lambda: pool2x2(np.ones(4)), ["x", "2 dimensions", "(4,)"]),
    (lambda: pool2x2(np.ones((3, 0))), ["x", "H, W >= 1"]),
    (lambda: pool2x2_backward(np.ones(2), (4, 4)), ["dy", "2 dimensions"]),
])
def test_sizes_that_do_not_fit_name_the_argument(call, words):
    with pytest.raises(ValueError) as error:
        call()
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("call, words", [
    (lambda: pool2x2(np.ones((2, 2), dtype=complex)), ["x", "complex"]),
    (lambda: pool2x2(None), ["x", "None"]),
    (lambda: pool2x2_backward(np.ones((2, 2), dtype=object), (4, 4)), ["dy", "object"]),
    (lambda: upsample2x_nearest(np.ones((2, 2), dtype="U1"), (4, 4)), ["x", "dtype"]),
    (lambda: upsample2x_nearest_backward(np.ones((4, 4)), (2.0, 2)), ["in_size", "int"]),
    (lambda: pool2x2_backward(np.ones((2, 2)), "44"), ["in_size", "int"]),
])
def test_wrong_types_name_the_argument(call, words):
    with pytest.raises(TypeError) as error:
        call()
    for word in words:
        assert word in str(error.value)


def test_float16_is_summed_in_float32_and_returned_in_float16():
    # 60000 fits in float16 (max 65504) but the sum of a 2x2 block of it does not.
    x = np.full((1, 1, 2, 2), 60000, dtype=np.float16)
    with np.errstate(over="ignore"):
        assert np.isinf(x[0, 0, 0, 0] + x[0, 0, 0, 1])
    y = pool2x2(x)
    assert y.dtype == np.float16 and y[0, 0, 0, 0] == 60000
    # The block sum 40000 + 40000 - 40000 + 20000 = 60000 fits; its column pair does not.
    dy = np.array([[40000, -40000], [40000, 20000]], dtype=np.float16)
    up = upsample2x_nearest_backward(dy, (1, 1))
    assert up.dtype == np.float16 and up[0, 0] == 60000
    assert pool2x2_backward(dy[:1, :1], (2, 2)).dtype == np.float16
    assert upsample2x_nearest(dy[:1, :1], (2, 1)).dtype == np.float16


def test_integer_maps_upsample_in_float64():
    x = np.arange(4).reshape(2, 2)
    y = upsample2x_nearest(x, (3, 4))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3]])
    # Boolean gradients are summed as numbers, not or-ed.
    dx = upsample2x_nearest_backward(np.ones((2, 2), dtype=bool), (1, 1))
    assert dx.dtype == np.float64 and dx[0, 0] == 4


def test_inputs_are_not_modified():
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 4))
    before = x.copy()
    for result in (pool2x2(x), upsample2x_nearest(x, (10, 8)),
                   pool2x2_backward(x, (10, 7)), upsample2x_nearest_backward(x, (3, 2))):
        assert not np.shares_memory(result, x)
    np.testing.assert_array_equal(x, before)
