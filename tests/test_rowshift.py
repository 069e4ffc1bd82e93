"""Internals of the fast engine, octref.rowshift: row-shifted columns, pieces, bands, buffers.

The contract tests (test_forward, test_backward, test_validation) compare the
public functions with the loops and the scipy oracle; these pin down what
those tests cannot see: that row-shifted columns agree with plain im2col on
every geometry, that cutting the batch into pieces and an image into bands of
rows changes nothing, that the BLAS operands are views and not copies, that
the cache is octref's own, that memory is estimated before it is allocated,
and the numerics of float16 and of inf weights on the zero padding.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from octref import Octave, OctConv2d, init_octave_weights, loops, rowshift, split_channels
from octref.contract import ConvParams, MemoryLimitError, conv_output_size

TIGHT = {"rtol": 1e-12, "atol": 1e-12}


def _small_pieces(patch, chunk_bytes, band_bytes):
    """Force small pieces (1 byte: one image a piece) and bands of rows (1 byte: 4 halos)."""
    patch.setattr(rowshift, "CHUNK_BYTES", chunk_bytes)
    patch.setattr(rowshift, "BAND_BYTES", band_bytes)


@given(n=st.integers(1, 3), c=st.integers(1, 4), groups=st.sampled_from([1, 2]),
       height=st.integers(1, 9), width=st.integers(1, 7), kh=st.integers(1, 3),
       kw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
       dh=st.integers(1, 2), dw=st.integers(1, 2), sw=st.integers(1, 2),
       chunk_bytes=st.sampled_from([1, 2000, 2**22]),
       band_bytes=st.sampled_from([1, 3000, 2**25]), seed=st.integers(0, 2**16))
def test_row_shift_equals_im2col(n, c, groups, height, width, kh, kw, ph, pw, dh, dw, sw,
                                 chunk_bytes, band_bytes, seed):
    c_in, c_out = c * groups, 2 * groups
    out_size = conv_output_size((height, width), (kh, kw), (1, sw), (ph, pw), (dh, dw))
    if min(out_size) < 1:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c_in, height, width))
    w = rng.standard_normal((c_out, c, kh, kw))
    params = ConvParams((1, sw), (ph, pw), (dh, dw), groups, out_size)
    with pytest.MonkeyPatch.context() as patch:
        _small_pieces(patch, chunk_bytes, band_bytes)
        fast, cache = rowshift.conv_forward(x, w, stride=(1, sw), padding=(ph, pw),
                                            dilation=(dh, dw), groups=groups)
        dout = rng.standard_normal(fast.shape)
        dx_fast, dw_fast, _ = rowshift.conv_backward(dout, cache)
    np.testing.assert_allclose(fast, rowshift._im2col_conv(x, w, params), **TIGHT)
    dx_ref, dw_ref = rowshift._im2col_conv_backward(dout, x, w, params)
    np.testing.assert_allclose(dx_fast, dx_ref, **TIGHT)
    np.testing.assert_allclose(dw_fast, dw_ref, **TIGHT)


@pytest.mark.parametrize("chunk_bytes, band_bytes", [(1, 1), (1, 2000), (10_000, 2**25),
                                                     (2**22, 2**25)])
@pytest.mark.parametrize("stride, groups, downsample", [(1, 1, "avgpool"), (2, 1, "avgpool"),
                                                        (1, 3, "avgpool"), (1, 1, "strided")])
def test_octconv_does_not_depend_on_pieces_or_bands(monkeypatch, chunk_bytes, band_bytes,
                                                    stride, groups, downsample):
    rng = np.random.default_rng(3)
    w = init_octave_weights(6, 6, 3, 0.5, 0.5, groups=groups, rng=rng)
    x = Octave(rng.standard_normal((5, 3, 13, 6)), rng.standard_normal((5, 3, 7, 3)))
    options = {"stride": stride, "groups": groups, "downsample": downsample}
    y_ref, cache = loops.octconv_forward(x, w, **options)
    grads_ref = loops.octconv_backward(y_ref, cache)
    _small_pieces(monkeypatch, chunk_bytes, band_bytes)
    y, cache = rowshift.octconv_forward(x, w, **options)
    grads = rowshift.octconv_backward(y_ref, cache)
    for a, b in zip(y, y_ref):
        np.testing.assert_allclose(a, b, **TIGHT)
    for group, group_ref in zip(grads[:2], grads_ref[:2]):
        for a, b in zip(group, group_ref):
            np.testing.assert_allclose(a, b, **TIGHT)


def test_bands_are_used_for_large_images(monkeypatch):
    # With a 1-byte band budget an image is cut into bands of 4 halos (8 rows
    # for k = 3): the forward walks 13 / ceil(13 / 8) rows at a time.
    grid = rowshift._Grid((3, 3), (1, 1), (1, 1), 1, (13, 6), (13, 6))
    monkeypatch.setattr(rowshift, "BAND_BYTES", 1)
    pieces = rowshift._pieces(2, 4, 4, grid, 8)
    assert pieces == (1, 7, 9)
    assert [p[2:] for p in rowshift._forward_pieces(2, pieces, 13)] == [(0, 7), (7, 13)] * 2
    # The backward's bands tile the 15 padded rows without overlap.
    assert [p[2:] for p in rowshift._backward_pieces(1, pieces, 15)] == [(0, 9), (9, 15)]


def test_buffer_matrices_are_views():
    # matmul's operands and out= must be views of the reused buffers: a silent
    # copy would make out= write nowhere.
    x = np.zeros((3, 4, 5, 5))
    params = ConvParams((1, 1), (1, 1), (1, 1), 2, (5, 5))
    grid = rowshift._grid(params, (3, 3), (5, 5))
    buffers = rowshift._Buffers([x], grid, rowshift._Pieces(3, 5, 7), dtype=x.dtype)
    for nb in (1, 2, 3):
        matrix = buffers.matrix(buffers.cols, 2, 4, 2, nb, 7)
        assert matrix.shape == (2, 1 * 3, nb * 7 * 5)
        assert np.shares_memory(matrix, buffers.cols)
    band = buffers.matrix(buffers.cols, 0, 4, 1, 1, 4)       # a shorter last band
    assert band.shape == (1, 4 * 3, 4 * 5) and np.shares_memory(band, buffers.cols)


def test_weight_stacking_round_trips():
    w = np.arange(6 * 2 * 3 * 2, dtype=float).reshape(6, 2, 3, 2)
    stacked = rowshift._stack_weights([w], 3)
    assert stacked.shape == (3, 3 * 2, 2 * 2)
    # W_stack[g, (i, f), (c, j)] = w[g F/G + f, c, i, j]
    assert stacked[1, 2 * 2 + 1, 1 * 2 + 0] == w[1 * 2 + 1, 1, 2, 0]
    np.testing.assert_array_equal(rowshift._unstack_weights(stacked, w.shape, 3), w)
    # A merged product's weights are stacked as if concatenated along the input channels.
    left, right = w[:2, :1], w[:2, 1:]
    np.testing.assert_array_equal(rowshift._stack_weights([left, right], 1),
                                  rowshift._stack_weights([w[:2]], 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_not_modified_and_dtype_follows(dtype):
    rng = np.random.default_rng(4)
    w = init_octave_weights(8, 8, 3, 0.5, 0.5, rng=rng, dtype=dtype)
    c_high, c_low = split_channels(8, 0.5)
    x = Octave(rng.standard_normal((2, c_high, 6, 6)).astype(dtype),
               rng.standard_normal((2, c_low, 3, 3)).astype(dtype))
    b = Octave(np.ones(4, dtype), np.ones(4, dtype))
    saved = [a.copy() for a in (*x, *w, *b)]
    y, cache = rowshift.octconv_forward(x, w, b)
    dy = Octave(np.ones_like(y.high), np.ones_like(y.low))
    dy_saved = [a.copy() for a in dy]
    dx, dw, db = rowshift.octconv_backward(dy, cache)
    for before, after in zip(saved, (*x, *w, *b)):
        np.testing.assert_array_equal(before, after)
    for before, after in zip(dy_saved, dy):
        np.testing.assert_array_equal(before, after)
    for a in (*y, *dx, *dw, *db):
        assert a.dtype == dtype


@pytest.mark.parametrize("stride, downsample", [(1, "avgpool"), (2, "avgpool"), (1, "strided")])
def test_backward_is_for_the_forward_that_ran(stride, downsample):
    # An optimiser step between forward and backward updates w (and a caller
    # may reuse x) in place: the gradients must still be those of the forward.
    rng = np.random.default_rng(5)
    w = init_octave_weights(6, 6, 3, 0.5, 0.5, rng=rng)
    x = Octave(rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((2, 3, 4, 4)))
    options = {"stride": stride, "downsample": downsample}
    y, cache = rowshift.octconv_forward(x, w, **options)
    expected = rowshift.octconv_backward(y, rowshift.octconv_forward(x, w, **options)[1])
    for array in (*x, *w):
        array *= -3.0
        array += 1.0
    got = rowshift.octconv_backward(y, cache)
    for group, group_ref in zip(got[:2], expected[:2]):
        for a, b in zip(group, group_ref):
            np.testing.assert_array_equal(a, b)

    x_plain, w_plain = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    out, cache = rowshift.conv_forward(x_plain, w_plain, padding=1)
    expected = rowshift.conv_backward(out, rowshift.conv_forward(x_plain, w_plain,
                                                                 padding=1)[1])
    x_plain[...] = 0.0
    w_plain[...] = 7.0
    for a, b in zip(rowshift.conv_backward(out, cache)[:2], expected[:2]):
        np.testing.assert_array_equal(a, b)


def test_layer_defaults_to_rowshift():
    layer = OctConv2d(4, 4, 3, 0.5, 0.5, rng=np.random.default_rng(0))
    assert layer.impl == "rowshift"
    x = Octave(np.ones((1, 2, 4, 4)), np.ones((1, 2, 2, 2)))
    y, _ = rowshift.octconv_forward(x, layer.params.weights, layer.params.bias)
    for a, b in zip(layer.forward(x), y):
        np.testing.assert_array_equal(a, b)


def test_a_huge_input_is_refused_before_allocating():
    # A broadcast view costs nothing to pass; computing on it would need
    # ~20 GB. Refused quickly, with the number and the limit.
    huge = np.broadcast_to(np.float64(1.0), (1, 1, 40000, 40000))
    w = init_octave_weights(1, 2, 3, 0.0, 0.5, rng=np.random.default_rng(0))
    with pytest.raises(MemoryLimitError, match=r"needs [0-9.]+ GiB, more than .* limit of"):
        rowshift.octconv_forward(Octave(huge, None), w)
    with pytest.raises(MemoryLimitError, match="limit"):
        rowshift.conv_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)), padding=15000)


def test_working_memory_is_estimated_before_allocating(monkeypatch):
    # The contract counts the input copy and the output; the engine adds its
    # pooled maps and buffers: a limit between the two numbers is refused by
    # the engine's own estimate, before any buffer is made.
    from octref import contract
    rng = np.random.default_rng(6)
    w = init_octave_weights(4, 4, 3, 0.5, 0.5, rng=rng)
    x = Octave(rng.standard_normal((2, 2, 64, 64)), rng.standard_normal((2, 2, 32, 32)))
    io_bytes = 8 * 2 * (x.high.size + x.low.size)     # inputs and outputs, same sizes
    monkeypatch.setattr(contract, "_memory_limit", io_bytes + 1)
    with pytest.raises(MemoryLimitError, match="pooled maps and buffers"):
        rowshift.octconv_forward(x, w)


def test_float16_accumulates_in_float32():
    # 250*250 + 250*250 - 250*250 = 62500 fits float16 (max 65504), but the
    # partial sum 125000 does not: summed in float16 it would be inf.
    x = np.full((1, 1, 1, 3), 250.0, dtype=np.float16)
    w = np.array([250.0, 250.0, -250.0], dtype=np.float16).reshape(1, 1, 1, 3)
    out, _ = rowshift.conv_forward(x, w)
    assert out.dtype == np.float16 and out[0, 0, 0, 0] == 62500
    w_oct = init_octave_weights(2, 2, 3, 0.5, 0.5, rng=np.random.default_rng(0),
                                dtype=np.float16)
    for weight in w_oct:
        weight[...] = 0
    w_oct.hh[0, 0, 1] = [250, 250, -250]
    x_oct = Octave(np.full((1, 1, 3, 3), 250, np.float16), np.zeros((1, 1, 2, 2), np.float16))
    with np.errstate(over="ignore"):     # the border's 125000 is inf in float16
        y, _ = rowshift.octconv_forward(x_oct, w_oct)
    assert y.high.dtype == np.float16 and y.high[0, 0, 1, 1] == 62500


def test_inf_weight_on_zero_padding_is_nan_like_the_frameworks():
    # 0 * inf = NaN: an output whose receptive field covers padding with an
    # infinite weight is NaN (PyTorch's semantics), inside it is +-inf.
    x = np.ones((1, 1, 4, 4))
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0, 0] = np.inf                  # reads the row above and the column left
    with np.errstate(invalid="ignore"):
        out, _ = rowshift.conv_forward(x, w, padding=1)
    assert np.isnan(out[0, 0, 0, :]).all() and np.isnan(out[0, 0, :, 0]).all()
    assert np.isposinf(out[0, 0, 1:, 1:]).all()
    params = ConvParams((1, 1), (1, 1), (1, 1), 1, (4, 4))
    with np.errstate(invalid="ignore"):
        plain = rowshift._im2col_conv(x, w, params)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(plain))
    w_oct = init_octave_weights(2, 2, 3, 0.5, 0.5, rng=np.random.default_rng(0))
    w_oct.hh[0, 0, 0, 0] = np.inf
    x_oct = Octave(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)))
    with np.errstate(invalid="ignore"):
        y, _ = rowshift.octconv_forward(x_oct, w_oct)
    assert np.isnan(y.high[0, 0, 0, :]).all() and np.isnan(y.high[0, 0, :, 0]).all()
    assert np.isposinf(y.high[0, 0, 1:, 1:]).all()
