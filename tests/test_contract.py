"""The shared contract at its edges, for every implementation (issue 13).

Caches belong to the forward that made them and to nobody else's arrays;
float16 accumulates in float32; 0 * inf on the zero padding is NaN as in the
frameworks; nothing allocates past the memory limit without refusing first;
the layer, the gradient checks and the cost model check their arguments.
"""

import time

import numpy as np
import pytest

from octref import (
    Octave,
    OctaveWeights,
    OctConv2d,
    checks,
    contract,
    cost,
    gradcheck,
    init_octave_weights,
    split_channels,
)
from tests.implementations import IMPLS, ids


def octave_problem(rng, dtype=np.float64):
    w = init_octave_weights(4, 4, 3, 0.5, 0.5, rng=rng)
    x = Octave(rng.standard_normal((2, 2, 5, 6)).astype(dtype),
               rng.standard_normal((2, 2, 3, 3)).astype(dtype))
    b = Octave(rng.standard_normal(2), rng.standard_normal(2))
    return x, w, b


def assert_tree_equal(a, b):
    for u, v in zip(a, b):
        if u is None or v is None:
            assert u is None and v is None
        elif hasattr(u, "_fields"):
            assert_tree_equal(u, v)
        else:
            np.testing.assert_array_equal(u, v)


# --------------------------------------------------------------------------- caches

@pytest.mark.parametrize("options", [{}, {"stride": 2}, {"downsample": "strided"}],
                         ids=["stride1", "stride2", "strided-hl"])
@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
def test_backward_is_for_the_forward_that_ran_even_if_the_caller_mutates(impl, options):
    """An optimiser step between forward and backward must not change the gradients."""
    x, w, b = octave_problem(np.random.default_rng(1))
    y, cache = impl.octconv_forward(x, w, b, **options)
    dy = Octave(np.ones_like(y.high), np.ones_like(y.low))
    expected = impl.octconv_backward(dy, impl.octconv_forward(x, w, b, **options)[1])
    x.high[...] += 5.0          # in place, as an optimiser or a data loader would
    x.low[...] *= -2.0
    w.hh[...] -= 1.0
    w.lh[...] = 0.0
    assert_tree_equal(impl.octconv_backward(dy, cache), expected)


@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
def test_conv_backward_is_for_the_forward_that_ran(impl):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    out, cache = impl.conv_forward(x, w, padding=1)
    expected = impl.conv_backward(np.ones_like(out), impl.conv_forward(x, w, padding=1)[1])
    x[...] = 0.0
    w[...] = 7.0
    got = impl.conv_backward(np.ones_like(out), cache)
    for u, v in zip(got, expected):
        assert (u is None) == (v is None)
        if u is not None:
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("made_by", IMPLS, ids=ids(IMPLS))
@pytest.mark.parametrize("given_to", IMPLS, ids=ids(IMPLS))
def test_a_cache_handed_to_the_wrong_backward_names_its_maker(made_by, given_to):
    x, w, b = octave_problem(np.random.default_rng(3))
    y, cache = made_by.octconv_forward(x, w, b)
    dy = Octave(np.ones_like(y.high), np.ones_like(y.low))
    conv_out, conv_cache = made_by.conv_forward(x.high, w.hh, padding=1)
    if made_by is not given_to:
        with pytest.raises(TypeError, match=f"made by {made_by.__name__}.octconv_forward"):
            given_to.octconv_backward(dy, cache)
    with pytest.raises(TypeError, match=f"made by {made_by.__name__}.conv_forward"):
        given_to.octconv_backward(dy, conv_cache)
    with pytest.raises(TypeError, match=f"made by {made_by.__name__}.octconv_forward"):
        given_to.conv_backward(np.ones_like(conv_out), cache)
    with pytest.raises(TypeError, match="cache must be the cache returned by"):
        given_to.octconv_backward(dy, tuple(cache))


def test_a_failed_layer_forward_leaves_no_cache_behind():
    layer = OctConv2d(4, 4, 3, 0.5, 0.5, rng=np.random.default_rng(4))
    x = Octave(np.ones((1, 2, 4, 4)), np.ones((1, 2, 2, 2)))
    y = layer.forward(x)
    with pytest.raises(ValueError, match="x.low"):
        layer.forward(Octave(np.ones((1, 2, 4, 4)), np.ones((1, 2, 3, 3))))
    with pytest.raises(RuntimeError, match="successful forward"):
        layer.backward(Octave(np.ones_like(y.high), np.ones_like(y.low)))


# --------------------------------------------------------------------------- numerics

@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
def test_float16_accumulates_in_float32(impl):
    """250*250 + 250*250 - 250*250 = 62,500 fits float16 (max 65,504); its partial sums do not."""
    x = np.full((1, 3, 2, 2), 250, dtype=np.float16)
    w = np.array([250, 250, -250], dtype=np.float16).reshape(1, 3, 1, 1)
    out, cache = impl.conv_forward(x, w)
    assert out.dtype == np.float16 and np.all(out == 62500)
    dx, dw, _ = impl.conv_backward(np.ones_like(out), cache)
    assert dx.dtype == np.float16 and dw.dtype == np.float16
    y, cache = impl.octconv_forward(Octave(x, None), OctaveWeights(w, None, None, None))
    assert y.high.dtype == np.float16 and np.all(y.high == 62500)
    dx, dw, _ = impl.octconv_backward(Octave(np.ones_like(y.high), None), cache)
    assert dx.high.dtype == np.float16 and dw.hh.dtype == np.float16


@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
def test_inf_weight_times_zero_padding_is_nan(impl):
    """The frameworks multiply the zero padding by the weights: 0 * inf = NaN on the border."""
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0, 0] = np.inf                 # tap (-1, -1): the top-left neighbour
    with np.errstate(invalid="ignore"):    # the NaN is the point of this test
        out, _ = impl.conv_forward(np.ones((1, 1, 4, 4)), w, padding=1)
        y, _ = impl.octconv_forward(Octave(np.ones((1, 1, 4, 4)), None),
                                    OctaveWeights(w, None, None, None))
    border = np.zeros((4, 4), dtype=bool)
    border[0, :] = border[:, 0] = True
    assert np.all(np.isnan(out[0, 0][border]))
    assert np.all(out[0, 0][~border] == np.inf)
    np.testing.assert_array_equal(np.isnan(y.high[0, 0]), border)


def test_split_channels_is_the_official_floating_point_rounding():
    # 0.29 * 100 is 28.999999999999996 in binary floating point.
    assert 0.29 * 100 < 29
    assert split_channels(100, 0.29) == (72, 28)
    assert split_channels(100, 0.5) == (50, 50)


# --------------------------------------------------------------------------- memory

@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
def test_sizes_that_cannot_fit_are_refused_before_allocating(impl):
    start = time.perf_counter()
    with pytest.raises(contract.MemoryLimitError, match="memory limit of 4.0 GiB"):
        impl.conv_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)), padding=15000)
    huge = np.broadcast_to(np.ones((), dtype=np.float32), (1, 1, 40000, 40000))
    with pytest.raises(MemoryError, match="GiB"):
        impl.octconv_forward(Octave(huge, None), OctaveWeights(np.ones((1, 1, 3, 3)),
                                                               None, None, None))
    assert time.perf_counter() - start < 30  # refused up front, not after allocating


def test_memory_limit_is_configurable(monkeypatch):
    assert issubclass(contract.MemoryLimitError, ValueError)
    assert issubclass(contract.MemoryLimitError, MemoryError)
    monkeypatch.delenv("OCTREF_MEMORY_LIMIT", raising=False)
    assert contract.memory_limit() == 4 * 2**30
    monkeypatch.setenv("OCTREF_MEMORY_LIMIT", "16G")
    assert contract.memory_limit() == 16 * 2**30
    monkeypatch.setenv("OCTREF_MEMORY_LIMIT", "500M")
    assert contract.memory_limit() == 500 * 2**20
    monkeypatch.setenv("OCTREF_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="OCTREF_MEMORY_LIMIT"):
        contract.memory_limit()
    monkeypatch.setenv("OCTREF_MEMORY_LIMIT", "1K")
    with pytest.raises(contract.MemoryLimitError, match="1.0 KiB"):
        IMPLS[0].conv_forward(np.ones((1, 1, 32, 32)), np.ones((1, 1, 3, 3)))
    previous = contract.set_memory_limit(10**9)
    try:
        assert contract.memory_limit() == 10**9      # the call wins over the environment
        IMPLS[0].conv_forward(np.ones((1, 1, 32, 32)), np.ones((1, 1, 3, 3)))
    finally:
        contract.set_memory_limit(previous)
    with pytest.raises(ValueError, match="nbytes must be >= 1"):
        contract.set_memory_limit(0)


# --------------------------------------------------------------------------- arguments

@pytest.mark.parametrize("kwargs, match", [
    ({"stride": 3}, "stride must be 1 or 2"),
    ({"stride": 2.0}, "stride must be an int"),
    ({"padding": -1}, "padding must be >= 0"),
    ({"kernel_size": 2}, "odd kernel"),
    ({"downsample": "strided", "stride": 2}, "needs stride=1"),
    ({"downsample": "bilinear"}, "downsample must be one of"),
    ({"padding": 0}, r"padding must be \(k-1\)/2"),
    ({"bias": 1}, "bias must be True or False"),
    ({"groups": 3}, "groups=3 must divide"),
    ({"impl": "cuda"}, "impl must be one of"),
])
def test_layer_validates_at_construction(kwargs, match):
    args = {"in_channels": 8, "out_channels": 8, "kernel_size": 3, "alpha_in": 0.5,
            "alpha_out": 0.5, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        OctConv2d(**args)


def _double(v):
    return 2 * v


X34 = np.ones((3, 4))


@pytest.mark.parametrize("call, error, match", [
    (lambda: gradcheck.check_vjp(_double, X34, X34, 2 * X34, h=0), ValueError, "h must be > 0"),
    (lambda: gradcheck.check_vjp(_double, X34, X34, 2 * X34, h=float("nan")), ValueError,
     "h must be finite"),
    (lambda: gradcheck.check_vjp(_double, X34, X34, 2 * X34, h="1e-5"), TypeError,
     "h must be a real number"),
    (lambda: gradcheck.check_directional(_double, X34, X34, np.ones((1, 4)),
                                         rng=np.random.default_rng(0)),
     ValueError, r"analytic must have the shape of x, \(3, 4\)"),
    (lambda: gradcheck.check_vjp(lambda v: 1.0, X34, X34, 2 * X34), ValueError,
     "f\\(x\\) must have the shape of df"),
    (lambda: gradcheck.check_vjp(lambda v: v[:1], X34, X34, 2 * X34), ValueError,
     "f\\(x\\) must have the shape of df"),
    (lambda: gradcheck.check_vjp(None, X34, X34, 2 * X34), TypeError, "f must be a callable"),
    (lambda: gradcheck.check_vjp(_double, None, X34, 2 * X34), TypeError, "x must be"),
    (lambda: gradcheck.check_vjp(_double, X34, X34, None), TypeError, "analytic must be"),
    (lambda: gradcheck.check_octconv_gradients(
        Octave(np.ones((1, 2, 4, 4)), None), OctaveWeights(np.ones((2, 2, 1, 1)), None, None,
                                                           None), rng=5),
     TypeError, "rng must be a numpy.random.Generator"),
    (lambda: gradcheck.check_octconv_gradients(np.ones((1, 2, 4, 4)), None), TypeError,
     "x must be a Octave"),
])
def test_gradcheck_rejects_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_gradcheck_accepts_plain_lists_and_tuples():
    results = gradcheck.check_octconv_gradients(
        [np.ones((1, 2, 4, 4)), None], (np.ones((2, 2, 1, 1)), None, None, None),
        rng=np.random.default_rng(0))
    assert [r.name for r in results] == ["dx.high", "dw.hh"] and all(r.passed for r in results)


def test_cost_counts_layers_of_any_size_without_arrays():
    layer = cost.octconv_cost(64, 64, 3, 0.5, 0.5, 10**9, 10**9, batch=64)
    vanilla = cost.conv_cost(64, 64, 3, 10**9, 10**9, batch=64)
    assert vanilla.total_macs == 64 * 64 * 10**18 * 64 * 9
    assert layer.total_macs * 16 == vanilla.total_macs * 7          # Table 1: 0.4375
    assert layer.output_memory * 8 == vanilla.output_memory * 5      # Table 1: 0.625


@pytest.mark.parametrize("bad", ["no", 0, None])
def test_cost_count_padding_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="count_padding must be True or False"):
        cost.octconv_cost(8, 8, 3, 0.5, 0.5, 8, 8, count_padding=bad)
    with pytest.raises(TypeError, match="count_padding must be True or False"):
        cost.conv_cost(8, 8, 3, 8, 8, count_padding=bad)


def test_one_int_check():
    assert checks.check_int(np.int64(3), "n") == 3 and type(checks.check_int(3, "n")) is int
    for bad in (True, 3.0, "3", None):
        with pytest.raises(TypeError, match="n must be an int"):
            checks.check_int(bad, "n")
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        checks.check_int(0, "n", minimum=1)
    assert str(checks.check_real(-0.0, "alpha")) == "0.0"
    assert str(checks.check_alpha(-0.0)) == "0.0"


def test_alpha_errors_name_the_argument():
    with pytest.raises(ValueError, match="alpha_in must be in"):
        cost.octconv_cost(8, 8, 3, 1.5, 0.5, 8, 8)
    with pytest.raises(ValueError, match="alpha_out must be in"):
        init_octave_weights(8, 8, 3, 0.5, -1)
