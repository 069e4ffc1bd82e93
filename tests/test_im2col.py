"""The textbook module octref.im2col: the column layout, its adjoint, and its edges.

test_forward / test_backward / test_validation compare every implementation
with the loops, the scipy oracle and finite differences; these pin down what
is particular to the textbook: the layout of the columns, col2im as the exact
adjoint of im2col, the public helpers' argument checks, float16 and inf
semantics, the memory check before the column buffer, and the cache.
"""

import importlib.util
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from octref import Octave, OctaveWeights, im2col, init_octave_weights, loops
from octref.contract import MemoryLimitError, set_memory_limit
from octref.sampling import pool2x2, upsample2x_nearest

SEEDS = st.integers(0, 2**32 - 1)


def inner(a, b):
    return float(np.sum(a * b))


# --------------------------------------------------------------------------- im2col / col2im

def test_columns_are_the_padded_patches():
    x = np.arange(1.0, 2 * 5 * 4 + 1).reshape(1, 2, 5, 4)
    cols = im2col.im2col(x, (3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2))
    x_pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    assert cols.shape == (1, 2, 3, 2, 3, 4)
    for p in range(3):
        for q in range(4):
            # cols[n, c, i, j, p, q] = x_pad[n, c, s_h p + d_h i, s_w q + d_w j]
            patch = x_pad[:, :, 2 * p:2 * p + 3, q:q + 3:2]
            np.testing.assert_array_equal(cols[..., p, q], patch)


def test_col2im_of_ones_counts_the_reads_of_each_pixel():
    # 3x3 kernel, padding 1: an interior pixel is read by 9 output pixels, a corner by 4.
    cols = np.ones((1, 1, 3, 3, 4, 4))
    counts = im2col.col2im(cols, (1, 1, 4, 4), padding=1)
    np.testing.assert_array_equal(counts[0, 0], [[4, 6, 6, 4], [6, 9, 9, 6],
                                                 [6, 9, 9, 6], [4, 6, 6, 4]])


@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), st.integers(1, 2), st.integers(0, 2), st.integers(0, 2),
       st.integers(1, 2), st.integers(1, 2), SEEDS)
def test_col2im_is_the_adjoint_of_im2col(height, width, kh, kw, sh, sw, ph, pw, dh, dw, seed):
    assume(height + 2 * ph >= dh * (kh - 1) + 1 and width + 2 * pw >= dw * (kw - 1) + 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, height, width))
    options = {"stride": (sh, sw), "padding": (ph, pw), "dilation": (dh, dw)}
    cols = im2col.im2col(x, (kh, kw), **options)
    c = rng.standard_normal(cols.shape)
    # <im2col(x), c> == <x, col2im(c)>: float64 sums of a few hundred terms.
    assert np.isclose(inner(cols, c), inner(x, im2col.col2im(c, x.shape, **options)),
                      rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call, words", [
    # Used to raise ZeroDivisionError.
    (lambda: im2col.im2col(np.ones((1, 1, 5, 5)), (3, 3), stride=(0, 1)), ["stride", ">= 1"]),
    # Used to say "negative dimensions are not allowed".
    (lambda: im2col.im2col(np.ones((1, 1, 3, 3)), (5, 5)),
     ["kernel_size", "(5, 5)", "larger than the padded input (3, 3)"]),
    (lambda: im2col.im2col(np.ones((1, 1, 3, 3)), (2, 2), dilation=3),
     ["kernel_size", "spans (4, 4)", "(3, 3)"]),
    (lambda: im2col.im2col(np.ones((1, 1, 3, 3)), (3, 0)), ["kernel_size", ">= 1"]),
    (lambda: im2col.im2col(np.ones((1, 1, 3, 3)), (3, 3), padding=-1), ["padding", ">= 0"]),
    (lambda: im2col.im2col(np.ones((1, 3, 3)), (1, 1)), ["x", "4-D", "(1, 3, 3)"]),
    (lambda: im2col.im2col(np.ones((0, 1, 3, 3)), (1, 1)), ["x", "non-empty"]),
    # Used to return a wrong crop silently: these columns are of a 4x4 map, not 5x5.
    (lambda: im2col.col2im(np.ones((1, 1, 3, 3, 4, 4)), (1, 1, 5, 5), padding=1),
     ["x_shape", "(1, 1, 5, 5)", "(1, 1, 3, 3, 5, 5)", "(1, 1, 3, 3, 4, 4)"]),
    (lambda: im2col.col2im(np.ones((1, 1, 3, 3, 4, 4)), (1, 2, 4, 4), padding=1),
     ["x_shape", "(1, 2, 3, 3, 4, 4)"]),
    (lambda: im2col.col2im(np.ones((1, 1, 3, 3, 2, 2)), (1, 1, 2, 2)),
     ["x_shape", "larger than the padded input (2, 2)"]),
    (lambda: im2col.col2im(np.ones((1, 1, 3, 3)), (1, 1, 3, 3)), ["cols", "6-D"]),
    (lambda: im2col.col2im(np.ones((1, 1, 1, 1, 3, 3)), (1, 1, 3)), ["x_shape", "4-tuple"]),
    (lambda: im2col.col2im(np.ones((1, 1, 1, 1, 3, 3)), (1, 1, 3, 3), stride=(1, 0)),
     ["stride", ">= 1"]),
])
def test_bad_arguments_raise_value_error_naming_them(call, words):
    with pytest.raises(ValueError) as error:
        call()
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("call, words", [
    (lambda: im2col.im2col(np.ones((1, 1, 3, 3)), (3.0, 3)), ["kernel_size", "int"]),
    (lambda: im2col.im2col(np.ones((1, 1, 3, 3)) + 1j, (1, 1)), ["x", "complex"]),
    (lambda: im2col.im2col(None, (1, 1)), ["x", "None"]),
    (lambda: im2col.col2im(np.ones((1, 1, 1, 1, 3, 3)), (1, 1, 3.0, 3)), ["x_shape", "int"]),
    (lambda: im2col.col2im("cols", (1, 1, 3, 3)), ["cols"]),
])
def test_bad_types_raise_type_error_naming_them(call, words):
    with pytest.raises(TypeError) as error:
        call()
    for word in words:
        assert word in str(error.value)


# --------------------------------------------------------------------------- Eq. 4

def test_octconv_is_the_four_lines_of_eq4():
    """Each path a conv_forward, then the two sums, by hand from the public pieces."""
    rng = np.random.default_rng(0)
    w = init_octave_weights(6, 4, 3, 0.5, 0.5, rng=rng)
    x = Octave(rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((2, 3, 4, 3)))

    def f(a, weight, **options):
        return im2col.conv_forward(a, weight, padding=1, **options)[0]

    y, _ = im2col.octconv_forward(x, w)
    np.testing.assert_allclose(y.high, f(x.high, w.hh) + upsample2x_nearest(f(x.low, w.lh), (7, 6)),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.low, f(x.low, w.ll) + f(pool2x2(x.high), w.hl),
                               rtol=1e-12, atol=1e-12)
    y, _ = im2col.octconv_forward(x, w, downsample="strided")
    np.testing.assert_allclose(y.low, f(x.low, w.ll) + f(x.high, w.hl, stride=2),
                               rtol=1e-12, atol=1e-12)
    y, _ = im2col.octconv_forward(x, w, stride=2)
    np.testing.assert_allclose(y.high, f(pool2x2(x.high), w.hh) + f(x.low, w.lh),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.low, f(pool2x2(x.low), w.ll) + f(pool2x2(pool2x2(x.high)), w.hl),
                               rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- numerics

def test_float16_accumulates_in_float32():
    # 250 * 250 + 250 * 250 - 250 * 250 = 62500 fits in float16 (max 65504),
    # but its first two terms summed in float16 overflow to inf.
    x = np.full((1, 1, 1, 3), 250, dtype=np.float16)
    w = np.array([250, 250, -250], dtype=np.float16).reshape(1, 1, 1, 3)
    with np.errstate(over="ignore"):
        assert np.isinf(x[0, 0, 0, 0] * w[0, 0, 0, 0] + x[0, 0, 0, 1] * w[0, 0, 0, 1])
    out, cache = im2col.conv_forward(x, w)
    assert out.dtype == np.float16 and out[0, 0, 0, 0] == np.float16(62500)
    dx, dw, _ = im2col.conv_backward(np.ones_like(out), cache)
    assert dx.dtype == dw.dtype == np.float16
    x3, w3 = np.full((1, 1, 3, 3), 250, dtype=np.float16), np.zeros((1, 1, 3, 3), np.float16)
    w3[0, 0, 0] = w[0, 0, 0]
    y, cache = im2col.octconv_forward(Octave(x3, None), OctaveWeights(w3, None, None, None),
                                      padding=0)
    assert y.high.dtype == np.float16 and y.high[0, 0, 0, 0] == np.float16(62500)
    dx, dw, _ = im2col.octconv_backward(Octave(np.ones_like(y.high), None), cache)
    assert dx.high.dtype == dw.hh.dtype == np.float16


def test_inf_weight_meets_padding_as_nan():
    # The frameworks' semantics: the padding is zeros multiplied like any input,
    # and 0 * inf = NaN. Tap (0, 0) reads the padding in the first row and column.
    x = np.ones((1, 1, 4, 4))
    w = np.ones((1, 1, 3, 3))
    w[0, 0, 0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        outs = (im2col.conv_forward(x, w, padding=1)[0],
                im2col.octconv_forward(Octave(x, None), OctaveWeights(w, None, None, None))[0].high)
    for out in outs:
        assert np.all(np.isnan(out[0, 0, 0, :])) and np.all(np.isnan(out[0, 0, :, 0]))
        assert np.all(out[0, 0, 1:, 1:] == np.inf)


# --------------------------------------------------------------------------- memory

def test_huge_padding_is_refused_before_allocating():
    tracemalloc.start()
    try:
        with pytest.raises(MemoryLimitError, match="memory limit"):
            im2col.conv_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)), padding=15000)
        with pytest.raises(MemoryLimitError, match="im2col of x"):
            im2col.im2col(np.ones((1, 1, 3, 3)), (1, 1), padding=15000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20, peak


def test_the_column_buffer_is_checked_against_the_limit():
    # Input and output (2 * 32 KiB) fit a 100 KiB limit; the 3x3 columns (288 KiB) do not.
    x, w = np.ones((1, 1, 64, 64)), np.ones((1, 1, 3, 3))
    previous = set_memory_limit(100 * 2**10)
    try:
        with pytest.raises(MemoryLimitError) as error:
            im2col.conv_forward(x, w, padding=1)
    finally:
        set_memory_limit(previous)
    assert "column buffer" in str(error.value) and "100.0 KiB" in str(error.value)
    # The backward holds the columns and their gradient (2 * 288 KiB) at once.
    out, cache = im2col.conv_forward(x, w, padding=1)
    previous = set_memory_limit(400 * 2**10)
    try:
        with pytest.raises(MemoryLimitError, match="the column buffer and its gradient"):
            im2col.conv_backward(out, cache)
    finally:
        set_memory_limit(previous)
    assert im2col.conv_backward(out, cache)[0].shape == x.shape


# --------------------------------------------------------------------------- cache

def test_a_cache_from_another_function_is_refused_by_name():
    rng = np.random.default_rng(1)
    w = init_octave_weights(4, 4, 3, 0.5, 0.5, rng=rng)
    x = Octave(rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((1, 2, 2, 2)))
    y, loops_cache = loops.octconv_forward(x, w)
    dy = Octave(np.ones_like(y.high), np.ones_like(y.low))
    with pytest.raises(TypeError, match="cache was made by octref.loops.octconv_forward, not by "
                                        "octref.im2col.octconv_forward"):
        im2col.octconv_backward(dy, loops_cache)
    out, conv_cache = im2col.conv_forward(x.high, w.hh, padding=1)
    with pytest.raises(TypeError, match="made by octref.im2col.conv_forward"):
        im2col.octconv_backward(dy, conv_cache)
    _, octave_cache = im2col.octconv_forward(x, w)
    with pytest.raises(TypeError, match="made by octref.im2col.octconv_forward"):
        im2col.conv_backward(out, octave_cache)
    with pytest.raises(TypeError, match="cache must be the cache returned by"):
        im2col.conv_backward(out, tuple(conv_cache))


def test_changing_the_callers_arrays_after_forward_changes_nothing():
    rng = np.random.default_rng(2)
    w = init_octave_weights(4, 4, 3, 0.5, 0.5, rng=rng)
    x = Octave(rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 3, 3)))
    y, cache = im2col.octconv_forward(x, w)
    dy = Octave(rng.standard_normal(y.high.shape), rng.standard_normal(y.low.shape))
    expected = im2col.octconv_backward(dy, cache)
    # As an optimiser step would: update the weights and the input in place.
    for a in (*x, *w):
        a *= -3.0
    got = im2col.octconv_backward(dy, cache)
    for tree, tree_expected in zip(got[:2], expected[:2]):
        for a, b in zip(tree, tree_expected):
            np.testing.assert_array_equal(a, b)
    out, conv_cache = im2col.conv_forward(x.high, w.hh, padding=1)
    dout = rng.standard_normal(out.shape)
    dx, dw, _ = im2col.conv_backward(dout, conv_cache)
    x.high[...] = 0.0
    w.hh[...] = 0.0
    dx_after, dw_after, _ = im2col.conv_backward(dout, conv_cache)
    np.testing.assert_array_equal(dx, dx_after)
    np.testing.assert_array_equal(dw, dw_after)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_not_modified_and_dtype_follows(dtype):
    rng = np.random.default_rng(4)
    w = init_octave_weights(8, 8, 3, 0.5, 0.5, rng=rng, dtype=dtype)
    x = Octave(rng.standard_normal((2, 4, 6, 6)).astype(dtype),
               rng.standard_normal((2, 4, 3, 3)).astype(dtype))
    b = Octave(np.ones(4, dtype), np.ones(4, dtype))
    saved = [a.copy() for a in (*x, *w, *b)]
    y, cache = im2col.octconv_forward(x, w, b)
    dy = Octave(np.ones_like(y.high), np.ones_like(y.low))
    dy_saved = [a.copy() for a in dy]
    dx, dw, db = im2col.octconv_backward(dy, cache)
    for before, after in zip(saved + dy_saved, (*x, *w, *b, *dy)):
        np.testing.assert_array_equal(before, after)
    for a in (*y, *dx, *dw, *db):
        assert a.dtype == dtype


# --------------------------------------------------------------------------- benchmark

def test_implementations_benchmark_smoke_run(capsys):
    # benchmarks/implementations.py (loops -> im2col -> fast) runs and checks
    # that the three agree before it times them.
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "implementations.py"
    spec = importlib.util.spec_from_file_location("implementations", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick", "--repeats", "1"]) == 0
    table = capsys.readouterr().out
    assert "| (1, 4, 6) | forward |" in table and "| (1, 4, 6) | forward+backward |" in table
    with pytest.raises(SystemExit):
        module.main(["--repeats", "0"])
