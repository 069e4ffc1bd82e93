"""Internals of the fast path in octref.im2col: row-shifted columns, chunking, buffers.

The contract tests (test_forward, test_backward) compare the public functions
with the loops; these pin down what those tests cannot see: that the two
engines (im2col and row-shifted columns) agree on every geometry, that the
chunking over images changes nothing, that the BLAS operands are views and
not copies, and that inputs are never written.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from octref import Octave, im2col, init_octave_weights, split_channels
from octref.contract import ConvParams, conv_output_size

TIGHT = {"rtol": 1e-12, "atol": 1e-12}


@given(n=st.integers(1, 3), c=st.integers(1, 4), groups=st.sampled_from([1, 2]),
       height=st.integers(1, 7), width=st.integers(1, 7), kh=st.integers(1, 3),
       kw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
       dh=st.integers(1, 2), dw=st.integers(1, 2), sw=st.integers(1, 2),
       chunk_bytes=st.sampled_from([1, 2000, 2**22]), seed=st.integers(0, 2**16))
def test_row_shift_equals_im2col(n, c, groups, height, width, kh, kw, ph, pw, dh, dw, sw,
                                 chunk_bytes, seed):
    c_in, c_out = c * groups, 2 * groups
    out_size = conv_output_size((height, width), (kh, kw), (1, sw), (ph, pw), (dh, dw))
    if min(out_size) < 1:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c_in, height, width))
    w = rng.standard_normal((c_out, c, kh, kw))
    params = ConvParams((1, sw), (ph, pw), (dh, dw), groups, out_size)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(im2col, "CHUNK_BYTES", chunk_bytes)   # 1 byte: one image per chunk
        fast = im2col._conv(x, w, params)
        dout = rng.standard_normal(fast.shape)
        dx_fast, dw_fast = im2col._conv_backward(dout, x, w, params)
    np.testing.assert_allclose(fast, im2col._im2col_conv(x, w, params), **TIGHT)
    dx_ref, dw_ref = im2col._im2col_conv_backward(dout, x, w, params)
    np.testing.assert_allclose(dx_fast, dx_ref, **TIGHT)
    np.testing.assert_allclose(dw_fast, dw_ref, **TIGHT)


@pytest.mark.parametrize("chunk_bytes", [1, 10_000, 2**22])
def test_octconv_does_not_depend_on_the_chunking(monkeypatch, chunk_bytes):
    rng = np.random.default_rng(3)
    w = init_octave_weights(6, 6, 3, 0.5, 0.5, rng=rng)
    x = Octave(rng.standard_normal((5, 3, 7, 6)), rng.standard_normal((5, 3, 4, 3)))
    y_ref, cache = im2col.octconv_forward(x, w)
    grads_ref = im2col.octconv_backward(y_ref, cache)
    monkeypatch.setattr(im2col, "CHUNK_BYTES", chunk_bytes)
    y, cache = im2col.octconv_forward(x, w)
    grads = im2col.octconv_backward(y_ref, cache)
    for a, b in zip(y, y_ref):
        np.testing.assert_allclose(a, b, **TIGHT)
    for group, group_ref in zip(grads[:2], grads_ref[:2]):
        for a, b in zip(group, group_ref):
            np.testing.assert_allclose(a, b, **TIGHT)


def test_buffer_matrices_are_views():
    # matmul's operands and out= must be views of the reused buffers: a silent
    # copy would make out= write nowhere.
    x = np.zeros((3, 4, 5, 5))
    params = ConvParams((1, 1), (1, 1), (1, 1), 2, (5, 5))
    grid = im2col._grid(params, (3, 3), (5, 5))
    buffers = im2col._Buffers([x], grid, chunk=3, dtype=x.dtype)
    for nb in (1, 2, 3):
        matrix = buffers.matrix(buffers.cols, 2, 4, 2, nb)
        assert matrix.shape == (2, 1 * 3, nb * 7 * 5)
        assert np.shares_memory(matrix, buffers.cols)


def test_weight_stacking_round_trips():
    w = np.arange(6 * 2 * 3 * 2, dtype=float).reshape(6, 2, 3, 2)
    stacked = im2col._stack_weights(w, 3)
    assert stacked.shape == (3, 3 * 2, 2 * 2)
    # W_stack[g, (i, f), (c, j)] = w[g F/G + f, c, i, j]
    assert stacked[1, 2 * 2 + 1, 1 * 2 + 0] == w[1 * 2 + 1, 1, 2, 0]
    np.testing.assert_array_equal(im2col._unstack_weights(stacked, w.shape, 3), w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_not_modified_and_dtype_follows(dtype):
    rng = np.random.default_rng(4)
    w = init_octave_weights(8, 8, 3, 0.5, 0.5, rng=rng, dtype=dtype)
    c_high, c_low = split_channels(8, 0.5)
    x = Octave(rng.standard_normal((2, c_high, 6, 6)).astype(dtype),
               rng.standard_normal((2, c_low, 3, 3)).astype(dtype))
    b = Octave(np.ones(4, dtype), np.ones(4, dtype))
    saved = [a.copy() for a in (*x, *w, *b)]
    y, cache = im2col.octconv_forward(x, w, b)
    dy = Octave(np.ones_like(y.high), np.ones_like(y.low))
    dy_saved = [a.copy() for a in dy]
    dx, dw, db = im2col.octconv_backward(dy, cache)
    for before, after in zip(saved, (*x, *w, *b)):
        np.testing.assert_array_equal(before, after)
    for before, after in zip(dy_saved, dy):
        np.testing.assert_array_equal(before, after)
    for a in (*y, *dx, *dw, *db):
        assert a.dtype == dtype
